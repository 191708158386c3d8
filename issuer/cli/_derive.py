"""``pith derive``: canonical records and Pith numbers from arXiv metadata, as JSON lines."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from issuer._time import fixed_or_system_clock
from issuer.cli._output import note, now_option
from issuer.derive import Derivation, DeriveSummary, derive_files
from issuer.errors import SourceError
from issuer.sources import Notice, Refusal


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("derive")(derive)


def derive(
    files: Annotated[
        list[str] | None,
        typer.Argument(
            help="arXiv metadata files: OAI-PMH arXivRaw XML or snapshot JSON lines "
            "(gzip is fine). '-' or nothing reads standard input.",
            show_default=False,
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            callback=now_option,
            help="Fix the clock (ISO 8601 with Z, or epoch seconds) for reproducible "
            "output; SOURCE_DATE_EPOCH is honoured too.",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Accepted for uniformity: the output is always JSON.")
    ] = False,
) -> None:
    """Derive canonical records, Pith numbers and aliases; one JSON object per line.

    Per-record problems go to stderr as FILE:LINE: reason, and the run goes on.
    Exit 0 when every record derived, 1 when any was refused, 2 for usage or
    unreadable input.
    """
    clock = fixed_or_system_clock(now)
    out = sys.stdout.buffer
    summary = DeriveSummary()
    for outcome in derive_files(files or ["-"], clock, summary):
        if isinstance(outcome, Derivation):
            out.write(outcome.to_json() + b"\n")
        elif isinstance(outcome, Refusal):
            typer.echo(f"refused: {outcome}", err=True)
        elif isinstance(outcome, Notice):
            note(f"note: {outcome}")
        elif isinstance(outcome, SourceError):
            typer.echo(f"ERROR: {outcome.diagnostics()}", err=True)
    out.flush()
    note(
        f"derived {summary.derived}, refused {summary.refused}, "
        f"from {summary.files} input(s)"
        + (f"; {len(summary.failed_files)} input(s) failed" if summary.failed_files else "")
    )
    raise typer.Exit(summary.exit_code)
