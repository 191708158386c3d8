"""``pith verify``: check bundles offline against the verifier's own trusted keys."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from issuer.cli._output import emit_json
from issuer.errors import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, FormatError
from issuer.keys.keyset import KeySet
from issuer.verify import verify_bundle_report


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("verify")(verify)


def _inputs(paths: list[str]) -> Iterator[tuple[str, bytes | OSError]]:
    """(name, bytes or the error reading them) for every file, directory entry or stdin."""
    for name in paths:
        if name == "-":
            yield "<stdin>", sys.stdin.buffer.read()
            continue
        path = Path(name)
        files = sorted(p for p in path.rglob("*.json") if p.is_file()) if path.is_dir() else [path]
        if path.is_dir() and not files:
            yield name, FileNotFoundError(f"no *.json files under {name}")
        for file in files:
            try:
                yield str(file), file.read_bytes()
            except OSError as e:
                yield str(file), e


def trusted_keys(extra: list[Path] | None) -> KeySet:
    """The shipped keys plus each ``--keys`` directory or file.

    Raises:
        FormatError: an unreadable or malformed key file.
    """
    keys = KeySet.shipped()
    for path in extra or []:
        keys = keys.merged(KeySet.load(path))
    return keys


def verify(
    paths: Annotated[
        list[str],
        typer.Argument(help="Bundle files, directories of bundles (*.json, recursively), or '-'."),
    ],
    keys: Annotated[
        list[Path] | None,
        typer.Option(
            "--keys",
            help="Also trust these keys: a directory of key-record files, or one file holding "
            "a record, a list, or a pith-signing-key.json document. Repeatable.",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON result per input on stdout (stable reasons).")
    ] = False,
) -> None:
    """Verify Pith bundles offline; trust comes only from the shipped keys and --keys.

    Checks, in order: structure, canonical record and canonical_sha256, Pith
    number and short form, aliases, key hints, receipt, every event, the state
    recomputed from the events, the bundle hash and signature. Exit 0 when
    every input is valid, 1 when any is not, 2 for usage or unreadable input.
    """
    try:
        trusted = trusted_keys(keys)
    except FormatError as e:
        typer.echo(f"error: --keys: {e.diagnostics()}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    code = EXIT_OK
    for name, data in _inputs(paths):
        if isinstance(data, OSError):
            typer.echo(f"ERROR: {name}: cannot read: {data.strerror or data}", err=True)
            if json_out:
                emit_json(
                    {"source": name, "ok": False, "reason": "unreadable", "message": str(data)}
                )
            code = EXIT_USAGE
            continue
        report = verify_bundle_report(data, trusted, name)
        if report.ok:
            typer.echo(f"OK: {name} ({report.pith_number})", err=True)
        else:
            typer.echo(
                f"FAIL: {name}: {report.failed_step}: {report.reason}: {report.message}", err=True
            )
            code = max(code, EXIT_REFUSED) if code != EXIT_USAGE else code
        if json_out:
            emit_json(report.to_dict())
    raise typer.Exit(code)
