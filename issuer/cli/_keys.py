"""``pith keys``: generate, list, show, export, rotate and revoke the registry's signing keys."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from issuer import cjson
from issuer._fs import atomic_write
from issuer._time import fixed_or_system_clock, format_seconds, parse_user_time
from issuer.cli._output import AlwaysJsonOpt, NowOpt, emit_json, home_of
from issuer.cli._params import check_base_url, path_parser
from issuer.cli._secrets import (
    NEW_PASSPHRASE_ENV,
    PassphraseFdOpt,
    PassphraseFileOpt,
    PassphraseSource,
    passphrase_source,
    secrets_for,
)
from issuer.errors import FormatError, KeyAccessError, UsageError
from issuer.keys import DEFAULT_BASE_URL, validate_key_id
from issuer.keys.keyset import KeySet
from issuer.keys.local import LocalKeys

keys_app = typer.Typer(
    help="Generate, list, show, export, rotate and revoke signing keys.", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def register(app: typer.Typer) -> None:
    """Add the ``keys`` group to ``app``."""
    app.add_typer(keys_app, name="keys")


def _key_id(value: str) -> str:
    try:
        return validate_key_id(value)
    except Exception as e:  # FormatError → usage error with the same text
        raise typer.BadParameter(str(e)) from e


@keys_app.command("generate")
def generate(
    ctx: typer.Context,
    key_id: Annotated[
        str, typer.Argument(help="New key id, e.g. pith-v2-2026-11.", callback=_key_id)
    ],
    signer: Annotated[
        str | None,
        typer.Option(
            "--signer",
            help="Where the private key goes: keyring:SERVICE/KEY_ID (default "
            "keyring:pith/KEY_ID), file:PATH (encrypted PKCS#8; passphrase from "
            "PITH_KEY_PASSPHRASE or a prompt) or pkcs11:… (RFC 7512).",
        ),
    ] = None,
    base_url: Annotated[
        str, typer.Option("--base-url", help="Registry base URL, for the record's url field.")
    ] = DEFAULT_BASE_URL,
    passphrase_file: PassphraseFileOpt = None,
    passphrase_fd: PassphraseFdOpt = None,
    json_out: JsonFlag = False,
) -> None:
    """Generate a signing key and record its public key; never overwrites a key."""
    check_base_url(base_url)
    local = LocalKeys(home_of(ctx))
    url = f"{base_url.rstrip('/')}/pith-signing-key.json"
    secrets = secrets_for(passphrase_source(passphrase_file, passphrase_fd))
    key, uri = local.generate(key_id, signer, url, secrets)
    if json_out:
        emit_json({"key": key.to_dict(), "signer": uri})
    else:
        typer.echo(f"generated {key_id} ({key.fingerprint}) in {uri}", err=True)
        typer.echo(f"public key record: {local.keys_dir / (key_id + '.json')}", err=True)


@keys_app.command("list")
def list_keys(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """List the local signing keys and the shipped trusted keys."""
    local = LocalKeys(home_of(ctx))
    local_keys = local.keys()
    rows = []
    for key, uri, current in local.list():
        revocation = local_keys.revocation(key.key_id)
        rows.append(
            {
                "key_id": key.key_id,
                "fingerprint": key.fingerprint,
                "rotates_at": key.rotates_at,
                "revoked_since": None
                if revocation is None
                else format_seconds(revocation.compromised_since),
                "source": "local",
                "signer": uri,
                "current": current,
            }
        )
    rows += [
        {
            "key_id": key.key_id,
            "fingerprint": key.fingerprint,
            "rotates_at": key.rotates_at,
            "revoked_since": None,
            "source": "trusted (shipped)",
            "signer": None,
            "current": False,
        }
        for key in KeySet.shipped()
    ]
    if json_out:
        emit_json(rows)
        return
    table = Table(
        "key id", "fingerprint", "rotates at", "revoked since", "source", "signer", "current"
    )
    for row in rows:
        table.add_row(
            str(row["key_id"]),
            str(row["fingerprint"]),
            str(row["rotates_at"] or "-"),
            str(row["revoked_since"] or "-"),
            str(row["source"]),
            str(row["signer"] or "-"),
            "*" if row["current"] else "",
        )
    Console().print(table)


@keys_app.command("show")
def show(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(callback=_key_id)],
    json_out: AlwaysJsonOpt = False,
) -> None:
    """Print a key record (local or shipped) as JSON."""
    key = LocalKeys(home_of(ctx)).keys().get(key_id) or KeySet.shipped().get(key_id)
    if key is None:
        raise KeyAccessError(f"no key {key_id}", hint="list keys with: pith keys list")
    emit_json(key.to_dict())


@keys_app.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", parser=path_parser, help="Write here (atomically) instead of stdout."
        ),
    ] = None,
    log_origin: Annotated[
        str | None,
        typer.Option(
            "--log-origin",
            help="Also list each key as the note verifier key of this transparency log "
            "(log_keys), e.g. pith.science/log.",
        ),
    ] = None,
    json_out: AlwaysJsonOpt = False,
) -> None:
    """Write the pith-signing-key.json document: every local public key and key statement."""
    keys = LocalKeys(home_of(ctx)).keys()
    if not len(keys):
        raise KeyAccessError("no local keys to export", hint="pith keys generate KEY_ID")
    document = keys.to_document()
    if log_origin is not None:
        # Here only: issuer.publish brings the registry, which no other keys command needs.
        from issuer.publish import with_log_keys  # noqa: PLC0415

        document = with_log_keys(document, keys, log_origin)
    if out is None:
        emit_json(document)
    else:
        atomic_write(out, cjson.dumps(document) + b"\n", mode=0o644)
        typer.echo(f"wrote {len(keys)} key(s) to {out}", err=True)


def _user_time(value: str, option: str) -> datetime:
    try:
        return parse_user_time(value)
    except FormatError as e:
        raise UsageError(f"{option}: {e.message}", hint=e.hint) from e


@keys_app.command("rotate")
def rotate(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to", help="Id of the key to rotate to, e.g. pith-v2-2026-11.", callback=_key_id
        ),
    ],
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="When the current key stops signing (ISO 8601 with Z; default now). "
            "Until then new signatures are still made with it.",
        ),
    ] = None,
    signer: Annotated[
        str | None,
        typer.Option(
            "--signer",
            help="Signer URI of the new key: generated there (default keyring:pith/KEY_ID), "
            "or, if the key was already made with pith keys generate, where it lives.",
        ),
    ] = None,
    passphrase_file: PassphraseFileOpt = None,
    passphrase_fd: PassphraseFdOpt = None,
    new_passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--new-passphrase-file",
            parser=path_parser,
            help=f"The new key's passphrase, from the first line of this file (else "
            f"--new-passphrase-fd, {NEW_PASSPHRASE_ENV}, then the current key's passphrase).",
        ),
    ] = None,
    new_passphrase_fd: Annotated[
        int | None,
        typer.Option(
            "--new-passphrase-fd",
            help="The new key's passphrase, from the first line of this open file descriptor.",
        ),
    ] = None,
    now: NowOpt = None,
    json_out: JsonFlag = False,
) -> None:
    """Rotate the current key to a new one; the statement is signed by both keys.

    The old key's record gets rotates_at, the statement is kept beside the key
    records and goes into pith keys export and pith publish. Verifiers follow it
    from any key they pinned. Rerunning after a crash finishes the rotation.
    The current and the new key may have different passphrases.
    """
    local = LocalKeys(home_of(ctx))
    clock = fixed_or_system_clock(now)()
    old_source = passphrase_source(passphrase_file, passphrase_fd)
    if new_passphrase_file is not None and new_passphrase_fd is not None:
        raise UsageError("give --new-passphrase-file or --new-passphrase-fd, not both")
    new_source = PassphraseSource(
        file=new_passphrase_file,
        fd=new_passphrase_fd,
        env=(NEW_PASSPHRASE_ENV,),
        then=old_source,
        hint=f"set {NEW_PASSPHRASE_ENV}, or use --new-passphrase-file PATH / --new-passphrase-fd N",
    )
    done = local.rotate(
        to,
        signer_uri=signer,
        at=None if at is None else _user_time(at, "--at"),
        now=clock,
        old_secrets=secrets_for(old_source),
        new_secrets=secrets_for(new_source),
    )
    when, old = format_seconds(done.rotation.rotates_at), done.rotation.from_key
    if json_out:
        emit_json(
            {
                "from_key": old.key_id,
                "to_key": to,
                "rotates_at": when,
                "signer": done.signer_uri,
                "statement": str(done.statement),
            }
        )
    else:
        typer.echo(
            f"rotated {old.key_id} → {to} ({done.new_key.fingerprint}) at {when}; "
            f"statement: {done.statement}",
            err=True,
        )
        typer.echo("publish the new key document: pith publish (or pith keys export)", err=True)


@keys_app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The compromised key.", callback=_key_id)],
    compromised_since: Annotated[
        str,
        typer.Option(
            "--compromised-since", help="Earliest time the key may have been in other hands."
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="What happened, for verifiers.")],
    passphrase_file: PassphraseFileOpt = None,
    passphrase_fd: PassphraseFdOpt = None,
    now: NowOpt = None,
    json_out: JsonFlag = False,
) -> None:
    """Revoke a compromised key; the statement is signed by the key signing now.

    Nothing the revoked key signed counts on its own afterwards, whatever time
    it claims. Rotate away from it first if it is the current key, then run
    pith reissue to re-sign what it signed, and pith publish.
    """
    local = LocalKeys(home_of(ctx))
    done = local.revoke(
        key_id,
        compromised_since=_user_time(compromised_since, "--compromised-since"),
        reason=reason,
        now=fixed_or_system_clock(now)(),
        secrets=secrets_for(passphrase_source(passphrase_file, passphrase_fd)),
    )
    signed_by = done.signed_by.key_id
    if json_out:
        emit_json(
            {
                "revoked_key": key_id,
                "compromised_since": format_seconds(done.revocation.compromised_since),
                "signed_by": signed_by,
                "statement": str(done.statement),
            }
        )
    else:
        typer.echo(
            f"revoked {key_id} (signed by {signed_by}); statement: {done.statement}", err=True
        )
        typer.echo("now re-sign what it signed: pith reissue, then pith publish", err=True)
