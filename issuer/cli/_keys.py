"""``pith keys``: generate, list, show and export the registry's signing keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from issuer import cjson
from issuer._fs import atomic_write
from issuer.cli._output import cli_secrets, emit_json, home_of
from issuer.errors import KeyAccessError
from issuer.keys import DEFAULT_BASE_URL, PublicKey, Signer, validate_key_id
from issuer.keys.keyset import KeySet
from issuer.keys.local import LocalKeys, check_storable, default_signer_uri

keys_app = typer.Typer(help="Generate, list, show and export signing keys.", no_args_is_help=True)

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
    json_out: JsonFlag = False,
) -> None:
    """Generate a signing key and record its public key; never overwrites a key."""
    local = LocalKeys(home_of(ctx))
    if local.keys().get(key_id) is not None:
        raise KeyAccessError(f"key {key_id} exists already in {local.keys_dir}")
    uri = signer or default_signer_uri(key_id)
    check_storable(uri)
    made = Signer.generate_at(uri, key_id, cli_secrets(confirm=True))
    key = PublicKey(
        key_id, made.public_key.raw, url=f"{base_url.rstrip('/')}/pith-signing-key.json"
    )
    local.add(key, uri)
    if json_out:
        emit_json({"key": key.to_dict(), "signer": uri})
    else:
        typer.echo(f"generated {key_id} ({key.fingerprint}) in {uri}", err=True)
        typer.echo(f"public key record: {local.keys_dir / (key_id + '.json')}", err=True)


@keys_app.command("list")
def list_keys(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """List the local signing keys and the shipped trusted keys."""
    local = LocalKeys(home_of(ctx))
    rows = [
        {
            "key_id": key.key_id,
            "fingerprint": key.fingerprint,
            "rotates_at": key.rotates_at,
            "source": "local",
            "signer": uri,
            "current": current,
        }
        for key, uri, current in local.list()
    ]
    rows += [
        {
            "key_id": key.key_id,
            "fingerprint": key.fingerprint,
            "rotates_at": key.rotates_at,
            "source": "trusted (shipped)",
            "signer": None,
            "current": False,
        }
        for key in KeySet.shipped()
    ]
    if json_out:
        emit_json(rows)
        return
    table = Table("key id", "fingerprint", "rotates at", "source", "signer", "current")
    for row in rows:
        table.add_row(
            str(row["key_id"]),
            str(row["fingerprint"]),
            str(row["rotates_at"] or "-"),
            str(row["source"]),
            str(row["signer"] or "-"),
            "*" if row["current"] else "",
        )
    Console().print(table)


@keys_app.command("show")
def show(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(callback=_key_id)],
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
        Path | None, typer.Option("--out", "-o", help="Write here (atomically) instead of stdout.")
    ] = None,
) -> None:
    """Write the pith-signing-key.json document: every local public key."""
    keys = LocalKeys(home_of(ctx)).keys()
    if not len(keys):
        raise KeyAccessError("no local keys to export", hint="pith keys generate KEY_ID")
    document = keys.to_document()
    if out is None:
        emit_json(document)
    else:
        atomic_write(out, cjson.dumps(document) + b"\n", mode=0o644)
        typer.echo(f"wrote {len(keys)} key(s) to {out}", err=True)
