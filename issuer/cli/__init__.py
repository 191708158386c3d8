"""The ``pith`` command line: thin commands over the library, one error handler.

Every :class:`issuer.errors.Error` that reaches a command is caught here, once:
``ERROR:`` and its ``diagnostics()`` go to stderr and the process exits with its
``exit_code``, the same with or without ``--verbose`` (the table is in
:mod:`issuer.errors` and the README). ``--verbose`` adds the traceback. An
``OSError`` that no command turned into an error (a path it could not write)
gets the same one line, exit 3; Ctrl-C exits 130 with a note that a re-run
resumes. A reader that closes stdout early (``pith derive FILE | head -1``)
ends the command quietly with exit 141, as a shell reports a writer killed by
SIGPIPE: nothing is printed, since the reader is gone. Locals are never shown
in tracebacks, so key material cannot leak through one.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback
from collections.abc import Callable
from difflib import get_close_matches
from typing import Any, NoReturn

import typer
import typer.main
from typer.core import TyperGroup

from issuer import __version__
from issuer.cli._output import set_quiet
from issuer.errors import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_OPERATIONAL, Error

logger = logging.getLogger(__name__)

INTERRUPTED = "interrupted: run the same command again to resume"


# Each command and the module that defines it, in the order `pith --help` lists them. A
# command's module, and all it imports (the registry for `issue`, rich's progress bars,
# lxml for arXiv XML...), is imported only when one of its commands runs: `pith verify
# FILE` starts without the rest. A test holds this table to what the modules define.
COMMANDS: dict[str, str] = {
    "derive": "_derive",
    "issue": "_registry",
    "resolve": "_registry",
    "show": "_registry",
    "bundle": "_registry",
    "publish": "_publish",
    "reissue": "_reissue",
    "verify": "_verify",
    "keys": "_keys",
    "event": "_registry",
    "log": "_log",
    "witness": "_witness",
    "registry": "_registry_ops",
}


def commands_of(module: str) -> dict[str, Any]:
    """The click commands (and groups) that ``issuer.cli.<module>`` registers, by name."""
    register: Callable[[typer.Typer], None] = importlib.import_module(
        f"issuer.cli.{module}"
    ).register
    commands = typer.Typer()
    register(commands)
    return dict(typer.main.get_group(commands).commands)


class _PithGroup(TyperGroup):
    """Loads each command when it is asked for; routes errors to stderr and an exit code."""

    def list_commands(self, ctx: Any) -> list[str]:  # typer vendors click; Context is private
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            for name, command in commands_of(COMMANDS[cmd_name]).items():
                self.add_command(command, name)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        # typer suggests from the commands loaded so far: here, from all of them.
        matches = get_close_matches(args[0], list(COMMANDS)) if args else []
        if matches and args[0] not in COMMANDS:
            ctx.fail(
                f"No such command {args[0]!r}. Did you mean {', '.join(repr(m) for m in matches)}?"
            )
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: Any) -> Any:  # typer vendors click; its Context type is private
        try:
            try:
                return super().invoke(ctx)
            finally:
                # Here, not at exit: a reader gone is met while it can still be handled.
                sys.stdout.flush()
        except BrokenPipeError:
            _reader_gone()
        except Error as e:
            _fail(ctx, e, e.diagnostics(), e.exit_code)
        except OSError as e:
            # Commands name the paths they write; this is the net under the others.
            where = f"{e.filename}: " if e.filename else ""
            why = "not a directory" if isinstance(e, FileExistsError) else e.strerror or e
            _fail(ctx, e, f"{where}{why}", EXIT_OPERATIONAL)
        except KeyboardInterrupt:
            typer.echo(f"\n{INTERRUPTED}", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        finally:
            set_quiet(False)  # in-process callers (tests) run many invocations in one thread


def _reader_gone() -> NoReturn:
    """Exit quietly after stdout's reader went away (Python docs, "Note on SIGPIPE")."""
    # What is still buffered would fail again at the interpreter's flush on exit;
    # stderr may be the same pipe (2>&1), and there is no one left to tell.
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):  # not a real file (an in-process runner's buffer)
            continue
    os.close(devnull)
    raise typer.Exit(EXIT_BROKEN_PIPE) from None


def _fail(ctx: Any, error: BaseException, text: str, code: int) -> NoReturn:
    """Print ``ERROR: text`` (after the traceback with --verbose) and exit with ``code``."""
    if ctx.obj and ctx.obj.get("verbose"):
        traceback.print_exception(error)
    typer.echo(f"ERROR: {text}", err=True)
    raise typer.Exit(code) from None


app = typer.Typer(
    cls=_PithGroup,
    name="pith",
    help="Pith registry toolkit: derive, sign, issue, verify and publish Pith records.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
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
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="Print only results, FAIL lines and errors: no progress, summaries or notes.",
    ),
    home: str | None = typer.Option(
        None,
        "--home",
        envvar="PITH_HOME",
        help="Registry home: keys/, signers.json, registry.sqlite3, rejects.jsonl, "
        "seen-keys.json (default $XDG_DATA_HOME/pith, else ~/.local/share/pith).",
    ),
) -> None:
    """Pith registry toolkit."""
    ctx.obj = {"verbose": verbose, "quiet": quiet and not verbose, "home": home}
    set_quiet(quiet and not verbose)
    level = logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    """Entry point of the ``pith`` script."""
    app()
