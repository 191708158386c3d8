"""``pith log``: the transparency log (issue 16): checkpoints, and checking them."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Annotated

import typer

from issuer._time import fixed_or_system_clock, format_seconds
from issuer.cli._open import open_registry, open_signer, registry_url
from issuer.cli._output import (
    JsonOpt,
    KeyOpt,
    NowOpt,
    RegistryOpt,
    SignerOpt,
    emit_json,
    home_of,
    note,
)
from issuer.cli._params import path_parser
from issuer.errors import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, FormatError, UsageError
from issuer.fetch import is_url, shown_url
from issuer.publish import log_origin, log_verifier_keys, open_tree, served_checkpoint
from issuer.tlog import (
    SEEN_CHECKPOINTS,
    Checkpoint,
    CheckpointPolicy,
    Note,
    audit,
    load_seen,
    make_checkpoint,
    note_key,
    parse_keys,
    save_seen,
    verify_checkpoint_report,
)

log_app = typer.Typer(help="Transparency log: make and check checkpoints.", no_args_is_help=True)


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


@log_app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    origin: Annotated[
        str | None,
        typer.Option(
            "--origin",
            help="The log's name, e.g. pith.science/log (default: host and path of the "
            "published --base-url).",
        ),
    ] = None,
    registry_file: RegistryOpt = None,
    signer: SignerOpt = None,
    key: KeyOpt = None,
    now: NowOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sign a C2SP checkpoint of the registry's log with the current key, and keep it.

    Prints the signed checkpoint on stdout. When the newest checkpoint already
    covers every leaf under this origin and key, it is printed again rather
    than signed anew. The log's note verifier key is in pith-signing-key.json.
    """
    when = fixed_or_system_clock(now)()
    url = registry_url(ctx, registry_file)  # a bad URL is a usage error before any key
    sign = open_signer(ctx, key, signer, when)
    with open_registry(ctx, url) as store:
        name = log_origin(store, origin)
        made = make_checkpoint(store, sign, name, format_seconds(when))
    vkey = note_key(name, sign.public_key.raw)
    note(f"checkpoint {made.id}: {name} at size {made.tree_size}, signed by {sign.key_id} ({vkey})")
    if json_out:
        emit_json(
            {
                "id": made.id,
                "origin": made.origin,
                "tree_size": made.tree_size,
                "root_hash": base64.b64encode(made.root_hash).decode(),
                "checkpoint": made.note.decode(),
                "log_key": str(vkey),
                "key_id": sign.key_id,
            }
        )
    else:
        sys.stdout.write(made.note.decode())


@log_app.command("audit")
def audit_command(
    ctx: typer.Context,
    tree: Annotated[str, typer.Argument(help="A published tree: its base URL, or its directory.")],
    log_keys: Annotated[
        list[str] | None,
        typer.Option(
            "--log-key",
            help="The log's note verifier key, NAME+KEYID+BASE64 (type 0x01). Repeatable. "
            "Default: the trusted keys (shipped and --keys) as keys of the checkpoint's origin.",
        ),
    ] = None,
    keys: Annotated[
        list[Path] | None,
        typer.Option(
            "--keys", parser=path_parser, help="Also trust these keys (a key file or directory)."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Audit a published log: every tile and entry, the root, consistency, the bundles.

    Fetches every entry bundle and tile, recomputes them and the root, checks
    that the tree extends the checkpoint this auditor saw last (kept in
    seen-checkpoints.json under --home), that every record leaf's bundle is
    published and every published bundle's leaves are in the log. A split
    view (two checkpoints signed by the log key that cannot both be true) is
    printed as a portable proof. Exit 0 when consistent, 1 otherwise.
    """
    fetch, listed = open_tree(tree)
    served = served_checkpoint(fetch)  # None: the audit says why
    vkeys = log_verifier_keys(log_keys or [], keys or [], served)
    seen_file = home_of(ctx) / SEEN_CHECKPOINTS
    seen = load_seen(seen_file)
    origin = _origin_of(served)
    report = audit(fetch, vkeys, seen=seen.get(origin or ""), listed=listed)
    tree = shown_url(tree) if is_url(tree) else tree  # as printed: no user or password
    if report.ok and report.origin is not None and report.checkpoint is not None:
        save_seen(seen_file, report.origin, report.checkpoint)
        note(
            f"OK: {tree}: {report.origin} at size {report.tree_size}, {report.records} records, "
            f"{report.bundles_checked} bundles checked, consistent with the checkpoint seen last"
        )
    for step, message in report.problems:
        typer.echo(f"FAIL: {tree}: {step}: {message}", err=True)
    if report.split_view is not None:
        typer.echo(f"FAIL: {tree}: split_view: {report.split_view.why}", err=True)
    if json_out:
        emit_json(report.to_dict())
    elif report.split_view is not None:
        # The portable proof on stdout: both checkpoints, each signed by the log key.
        emit_json(report.split_view.to_dict())
    raise typer.Exit(EXIT_OK if report.ok else EXIT_REFUSED)


def _origin_of(served: bytes | None) -> str | None:
    try:
        return None if served is None else Checkpoint.from_text(Note.parse(served).text).origin
    except FormatError:
        return None
