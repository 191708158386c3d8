"""Shared CLI plumbing: option checks, ``--quiet``, notes on stderr, JSON on stdout.

What opens the registry and the signer is in :mod:`issuer.cli._open`, the progress
bar in :mod:`issuer.cli._progress`: a command that needs neither (``pith verify
FILE``) starts without the registry, the signers or rich.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer

from issuer import cjson
from issuer._time import parse_user_time
from issuer.errors import FormatError, OutputError
from issuer.keys.local import default_home

# For commands whose output is JSON anyway: `--json` is accepted by every command that prints it.
AlwaysJsonOpt = Annotated[
    bool, typer.Option("--json", help="Accepted for uniformity: the output is always JSON.")
]


def now_option(value: str | None) -> str | None:
    """Validate ``--now`` early, so a bad time is a usage error (exit 2), not a refusal."""
    if value is not None:
        try:
            parse_user_time(value)
        except FormatError as e:
            raise typer.BadParameter(e.diagnostics()) from e
    return value


# Options that several commands share.
RegistryOpt = Annotated[
    str | None,
    typer.Option(
        "--registry",
        envvar="PITH_REGISTRY",
        help="Registry: a path or sqlite:PATH (default registry.sqlite3 in --home / "
        "$PITH_HOME), or postgresql://USER@HOST/DB (password from PGPASSWORD or ~/.pgpass).",
        show_default=False,
    ),
]
SignerOpt = Annotated[
    str | None,
    typer.Option("--signer", help="Signer URI (default: where the key was generated)."),
]
KeyOpt = Annotated[
    str | None, typer.Option("--key", help="Key id to sign with (default: the current key).")
]
NowOpt = Annotated[
    str | None,
    typer.Option("--now", callback=now_option, help="Fix the clock (ISO 8601 with Z, or epoch)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def emit_json(value: Any) -> None:
    """Write ``value`` to stdout as one line of canonical JSON."""
    sys.stdout.buffer.write(cjson.dumps(value) + b"\n")
    sys.stdout.flush()


def home_of(ctx: typer.Context) -> Path:
    """The registry home chosen by ``--home`` / ``PITH_HOME``."""
    obj = ctx.find_root().obj or {}
    home = obj.get("home")
    return Path(home) if home else default_home()


# Set by the root callback on every invocation (tests run many in one process).
_QUIET: ContextVar[bool] = ContextVar("pith_quiet", default=False)


def set_quiet(value: bool) -> None:
    """Record ``--quiet`` for this invocation."""
    _QUIET.set(value)


def quiet() -> bool:
    """Whether ``--quiet`` was given: print results, FAIL lines and errors only."""
    return _QUIET.get()


def note(text: str) -> None:
    """A summary or note for the operator on stderr, unless ``--quiet``."""
    if not quiet():
        typer.echo(text, err=True)


class Refused(Protocol):
    """A refusal as the library reports it: ``str()`` names the record once; a hint."""

    @property
    def hint(self) -> str | None:
        """What to do about it."""


def refused_line(refusal: Refused) -> None:
    """``refused: <refusal>`` on stderr (with ``--json`` too: it is not a result)."""
    typer.echo(f"refused: {refusal}", err=True)


def refusal_hints(refusals: Sequence[Refused]) -> None:
    """After the ``refused:`` lines, one ``Hint:`` line for each different hint they carry."""
    for hint in dict.fromkeys(r.hint for r in refusals if r.hint):
        typer.echo(f"Hint: {hint}", err=True)


def output_error(path: Path, error: OSError) -> OutputError:
    """An ``OSError`` met writing ``path``, as the one-line error the CLI prints (exit 3)."""
    why = error.strerror or str(error)
    if isinstance(error, FileExistsError | NotADirectoryError):
        # mkdir names the path it could not make; the operator needs the file in the way.
        blocker = next((p for p in Path(path).parents if p.exists() and not p.is_dir()), None)
        why = f"{blocker or error.filename or path} is not a directory"
    return OutputError(f"cannot write {path}: {why}")


def make_dir(path: Path) -> None:
    """Create the output directory ``path`` (and its parents) or fail with one line.

    Raises:
        OutputError: it cannot be created, e.g. a parent is a file or read-only.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise output_error(path, e) from e
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: permission denied")
