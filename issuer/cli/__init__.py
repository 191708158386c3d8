"""The ``pith`` command line: thin commands over the library, one error handler.

Every :class:`issuer.errors.Error` that reaches a command is caught here, once:
its ``diagnostics()`` go to stderr and the process exits with its
``exit_code`` (0 ok, 1 refused, 2 usage or unreadable input, 3 operational).
``--verbose`` re-raises instead, for a traceback. Locals are never shown in
tracebacks, so key material cannot leak through one.
"""

from __future__ import annotations

import logging
from typing import Any

import typer
from typer.core import TyperGroup

from issuer import __version__
from issuer.errors import Error

logger = logging.getLogger(__name__)


class _PithGroup(TyperGroup):
    """Routes the toolkit's errors to one place: stderr and the error's exit code."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors click; its Context type is private
        try:
            return super().invoke(ctx)
        except Error as e:
            if ctx.obj and ctx.obj.get("verbose"):
                raise
            typer.echo(f"error: {e.diagnostics()}", err=True)
            raise typer.Exit(e.exit_code) from None


app = typer.Typer(
    cls=_PithGroup,
    name="pith",
    help="Pith registry toolkit: derive, sign, issue, verify and publish Pith records.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pith (issuer) {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log progress and show tracebacks on errors."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    home: str | None = typer.Option(
        None,
        "--home",
        envvar="PITH_HOME",
        help="Registry home: keys/, signers.json (default ~/.local/share/pith).",
    ),
) -> None:
    """Pith registry toolkit."""
    ctx.obj = {"verbose": verbose, "home": home}
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _register() -> None:
    # Imported here so `import issuer.cli` stays cheap and command modules
    # can import `app` without a cycle.
    from issuer.cli import (  # noqa: PLC0415
        _derive,
        _keys,
        _publish,
        _registry,
        _reissue,
        _verify,
    )

    _derive.register(app)
    _keys.register(app)
    _registry.register(app)
    _publish.register(app)
    _reissue.register(app)
    _verify.register(app)


_register()


def main() -> None:
    """Entry point of the ``pith`` script."""
    app()
