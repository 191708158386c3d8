"""``pith log``: the transparency log (issue 16). For now, ``pith log verify-checkpoint``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from issuer.cli._output import emit_json, note
from issuer.errors import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, FormatError, UsageError
from issuer.tlog import CheckpointPolicy, parse_keys, verify_checkpoint_report

log_app = typer.Typer(help="Transparency log: check checkpoints.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``log`` command group to ``app``."""
    app.add_typer(log_app, name="log")


@log_app.command("verify-checkpoint")
def verify_checkpoint(
    file: Annotated[str, typer.Argument(help="A signed checkpoint (C2SP note), or '-'.")],
    log_key: Annotated[
        str,
        typer.Option(
            "--log-key", help="The log's note verifier key, NAME+KEYID+BASE64 (type 0x01)."
        ),
    ],
    witnesses: Annotated[
        list[str] | None,
        typer.Option(
            "--witness",
            help="A witness cosignature verifier key, NAME+KEYID+BASE64 (type 0x04). Repeatable.",
        ),
    ] = None,
    threshold: Annotated[
        int | None,
        typer.Option(
            "--witness-threshold",
            help="How many distinct witnesses must cosign (default: every --witness).",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="The result as JSON on stdout.")] = False,
) -> None:
    """Check a C2SP checkpoint: the log's signature and N of M witness cosignatures.

    The origin line must be the log key's name. Signatures by other keys are
    ignored; a signature by a given key that does not verify fails the check.
    Exit 0 when valid and the threshold is met, 1 otherwise (one line on
    stderr says why), 2 for unusable keys or an unreadable file.
    """
    try:
        log, witness_keys = parse_keys(log_key, witnesses or [])
        policy = CheckpointPolicy(log, witness_keys, threshold)
    except FormatError as e:
        raise UsageError(e.message, hint=e.hint) from e
    except ValueError as e:
        raise UsageError(str(e)) from e
    name = "<stdin>" if file == "-" else file
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as e:
        typer.echo(f"ERROR: {name}: cannot read: {e.strerror or e}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    report = verify_checkpoint_report(data, policy, name)
    if report.ok and report.result is not None:
        cp = report.result.checkpoint
        note(
            f"OK: {name}: {cp.origin} at size {cp.size}, "
            f"{len(report.result.cosignatures)} of {len(witness_keys)} witnesses cosigned "
            f"({policy.required} required)"
        )
    else:
        typer.echo(f"FAIL: {name}: {report.reason}: {report.message}", err=True)
    if json_out:
        emit_json(report.to_dict())
    raise typer.Exit(EXIT_OK if report.ok else EXIT_REFUSED)
