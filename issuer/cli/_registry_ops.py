"""``pith registry …``: whole-registry operations.

``migrate`` creates a registry, or brings an old one to this release's schema,
without issuing anything (a PostgreSQL owner role runs it once, before the
issuing hosts start); ``copy SRC DST`` moves a whole registry into another
database, resumably.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import TaskID

from issuer.cli._open import open_registry, registry_url
from issuer.cli._output import JsonOpt, RegistryOpt, emit_json, note
from issuer.cli._progress import progress_bar
from issuer.registry_copy import BATCH, CopyResult, copy_registry
from issuer.store import SCHEMA_VERSION, parse_registry_url

registry_app = typer.Typer(
    help="Whole-registry operations: create or migrate a registry; copy one between SQLite "
    "and PostgreSQL.",
    no_args_is_help=True,
)

_URL_HELP = (
    "a path or sqlite:PATH, or postgresql://USER@HOST/DB (password from PGPASSWORD or ~/.pgpass, "
    "never in the URL)"
)


def register(app: typer.Typer) -> None:
    """Add ``pith registry …`` to ``app``."""
    app.add_typer(registry_app, name="registry")


class _RichProgress:
    """A progress bar on stderr over every row of every table, the current table below it."""

    def __init__(self) -> None:
        self._bar = progress_bar("copying")
        self._task: TaskID | None = None
        self._counts: dict[str, int] = {}

    def start(self, total_rows: int, done_rows: int) -> None:
        self._bar.start()
        self._task = self._bar.add_task("copy", total=total_rows, completed=done_rows, counts="")

    def advance(self, table: str, rows: int) -> None:
        self._counts[table] = self._counts.get(table, 0) + rows
        if self._task is not None:
            counts = ", ".join(f"{name} {n:,}" for name, n in self._counts.items())
            self._bar.update(self._task, advance=rows, counts=f"copied: {counts}")

    def finish(self) -> None:
        self._bar.stop()


@registry_app.command("migrate")
def migrate(
    ctx: typer.Context,
    registry_file: RegistryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create the registry if it is not there, and bring its schema to this release's.

    Every command that opens a registry migrates it too; this one does only
    that, with no key and no input: run it as the PostgreSQL role that owns the
    tables before issuing hosts (with fewer rights) start. Exit 0 when the
    registry is at this release's schema, 2 for usage, 3 for database trouble
    (a registry of a newer release is refused and left as it is).
    """
    url = registry_url(ctx, registry_file)
    with open_registry(ctx, url, must_exist=False, adopt_empty=True) as store:
        result = {
            "registry": url.display,
            "backend": store.backend,
            "schema": SCHEMA_VERSION,
            "records": store.count(),
            "log_size": store.log_size(),
        }
    if json_out:
        emit_json(result)
    else:
        note(
            f"registry {result['registry']} ({result['backend']}) is at schema {SCHEMA_VERSION}: "
            f"{result['records']:,} records, {result['log_size']:,} log leaves"
        )


@registry_app.command("copy")
def copy(
    source: Annotated[str, typer.Argument(help=f"The registry to copy: {_URL_HELP}.")],
    destination: Annotated[
        str,
        typer.Argument(
            help="Where to copy it: a new or empty registry, or one a cut-short copy left."
        ),
    ],
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="Rows per destination transaction.")
    ] = BATCH,
    json_out: Annotated[bool, typer.Option("--json", help="Counts as JSON on stdout.")] = False,
) -> None:
    """Copy every table row for row (ids kept), then check counts and sampled bundles.

    Resumable: a killed copy run again continues where the destination stands.
    The destination must be empty or a prefix of the source, and the source
    should not be written meanwhile. Exit 0 when copied and verified, 1 when the
    destination is not a prefix of the source or the check fails, 2 for usage,
    3 for database trouble.
    """
    src = parse_registry_url(source, from_command_line=True)
    dst = parse_registry_url(destination, from_command_line=True)
    result = copy_registry(src, dst, batch=batch, progress=_RichProgress())
    if json_out:
        emit_json(result.to_dict())
    else:
        _summary(result)


def _summary(result: CopyResult) -> None:
    note(f"copied {result.source} to {result.destination}")
    for t in result.tables:
        note(f"  {t.table}: {t.rows:,} rows ({t.copied:,} copied, {t.already:,} already there)")
    note(
        f"verified: row counts equal in {len(result.tables)} tables, "
        f"{len(result.verified)} sampled bundles byte-identical"
    )
