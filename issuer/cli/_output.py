"""Shared CLI plumbing: option checks, secrets from the environment or a prompt, JSON output."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from issuer import cjson
from issuer._time import parse_user_time
from issuer.cli._secrets import PassphraseSource, prompt_secrets
from issuer.errors import FormatError, OutputError
from issuer.keys import Signer
from issuer.keys.keyset import KeySet
from issuer.keys.local import LocalKeys, default_home
from issuer.store import REGISTRY_ENV, RegistryUrl, Store, open_store, parse_registry_url

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


def emit_json(value: Any) -> None:
    """Write ``value`` to stdout as one line of canonical JSON."""
    sys.stdout.buffer.write(cjson.dumps(value) + b"\n")
    sys.stdout.flush()


def home_of(ctx: typer.Context) -> Path:
    """The registry home chosen by ``--home`` / ``PITH_HOME``."""
    obj = ctx.find_root().obj or {}
    home = obj.get("home")
    return Path(home) if home else default_home()


def open_signer(
    ctx: typer.Context,
    key_id: str | None,
    signer_uri: str | None,
    now: datetime,
    passphrase: PassphraseSource | None = None,
) -> Signer:
    """The checked signer for ``key_id`` (default: the key that signs at ``now``).

    ``signer_uri`` defaults to where ``pith keys generate`` put the key. The
    key is chosen by :meth:`LocalKeys.key_to_sign_with`, which refuses a key
    whose signatures made ``now`` would not count (rotated, revoked).

    Raises:
        KeyAccessError: no such key, no signer, the signer holds another key, or the
            key cannot sign at ``now``.
    """
    local = LocalKeys(home_of(ctx))
    key = local.key_to_sign_with(key_id, now)
    uri = signer_uri or local.signer_uri(key.key_id)
    return Signer.from_uri(uri, key, prompt_secrets(key.key_id, uri, passphrase=passphrase))


def local_keys(ctx: typer.Context) -> KeySet:
    """The operator's own keys with their rotations and revocations applied."""
    return LocalKeys(home_of(ctx)).keys()


class _Bar(Progress):
    """A progress bar with its counts on a second line, so that both fit 80 columns."""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        for task in self.tasks:
            if task.fields.get("counts"):
                yield Text(f"  {task.fields['counts']}", overflow="ellipsis", no_wrap=True)


def progress_bar(what: str, *, in_bytes: bool = False, console: Console | None = None) -> Progress:
    """A progress bar on stderr (stdout is for ``--json``), on a terminal and without --quiet.

    One line: what, the bar, the done fraction, labelled elapsed and remaining
    times; the task's ``counts`` field goes on the line below. The bar shrinks
    to keep the line within the terminal's width (80 columns and up).

    Args:
        what: the label, e.g. ``issuing``.
        in_bytes: count bytes (shown as MB) rather than items.
        console: where to draw (tests); default stderr.
    """
    console = console or Console(stderr=True)
    done: ProgressColumn = DownloadColumn() if in_bytes else MofNCompleteColumn()
    return _Bar(
        TextColumn(what),
        BarColumn(bar_width=None),
        TaskProgressColumn(),
        done,
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("remaining"),
        TimeRemainingColumn(),
        console=console,
        expand=True,
        disable=quiet() or not console.is_terminal,
    )


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


def registry_url(ctx: typer.Context, value: str | RegistryUrl | None) -> RegistryUrl:
    """``--registry`` (or ``PITH_REGISTRY``), else ``registry.sqlite3`` in the ``--home``.

    Raises:
        UsageError: an unknown URL scheme, or a password typed on the command line.
    """
    if isinstance(value, RegistryUrl):
        return value
    if value is not None:
        source = ctx.get_parameter_source("registry_file")
        typed = source is not None and source.name == "COMMANDLINE"
        return parse_registry_url(value, from_command_line=typed)
    if os.environ.get(REGISTRY_ENV):  # typer reads it for --registry; this is for callers
        return parse_registry_url(os.environ[REGISTRY_ENV])
    return RegistryUrl(path=home_of(ctx) / "registry.sqlite3")


def open_registry(
    ctx: typer.Context, value: str | RegistryUrl | None, *, must_exist: bool = True
) -> Store:
    """The registry of ``--registry`` / ``--home``; only ``pith issue`` may create it.

    Raises:
        UsageError: an unknown URL scheme, or a password typed on the command line.
        NotFoundError: ``must_exist`` and there is no registry there.
        OutputError: the directory it would be created in does not exist.
        StoreError: unreachable, locked, corrupt, or of a newer schema.
    """
    url = registry_url(ctx, value)
    path = url.path
    if path is not None and not must_exist and not path.parent.is_dir():
        raise OutputError(
            f"cannot create registry {path}: {path.parent} is not a directory",
            hint=f"create the directory first (mkdir -p {path.parent}) or fix --registry",
        )
    return open_store(url, must_exist=must_exist)


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
