"""``pith verify``: check bundles offline against the verifier's own trusted keys."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from issuer.cli._output import emit_json, home_of
from issuer.errors import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    Error,
    FormatError,
    NetworkError,
    UsageError,
    VerificationError,
)
from issuer.fetch import fetch, is_url, new_client
from issuer.keys._seen import SEEN_FILE, check_rollback, load_seen, remember
from issuer.keys.keyset import KeySet, load_material, shipped_keys_dir
from issuer.verify import compare_mirrors, verify_bundle_report


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("verify")(verify)


def _inputs(paths: list[str]) -> Iterator[tuple[str, bytes | Exception, str | None]]:
    """(name, bytes or the error reading them, code the URL names) for every input.

    Inputs are files, directories (every ``*.json`` under them), ``-`` for
    stdin, or http(s) URLs of bundles or resolver pages.
    """
    with contextlib.ExitStack() as stack:
        client = None
        for name in paths:
            if name == "-":
                yield "<stdin>", sys.stdin.buffer.read(), None
                continue
            if is_url(name):
                client = client or stack.enter_context(new_client())
                try:
                    fetched = fetch(name, client=client)
                except (NetworkError, UsageError) as e:
                    yield name, e, None
                else:
                    yield fetched.url, fetched.data, fetched.code
                continue
            path = Path(name)
            files = sorted(_bundles_under(path)) if path.is_dir() else [path]
            if path.is_dir() and not files:
                yield name, FileNotFoundError(f"no *.json files under {name}"), None
            for file in files:
                try:
                    yield str(file), file.read_bytes(), None
                except OSError as e:
                    yield str(file), e, None


# Files a published tree holds beside its bundles: not bundles, so not inputs.
_NOT_BUNDLES = {"state.json", "pith-signing-key.json"}


def _bundles_under(path: Path) -> Iterator[Path]:
    """Every ``*.json`` under ``path``, except a published tree's non-bundle files.

    Those are ``state.json``, the key document and hidden settings files.
    """
    for file in path.rglob("*.json"):
        if file.is_file() and file.name not in _NOT_BUNDLES and not file.name.startswith("."):
            yield file


def _why(error: Exception) -> str:
    if isinstance(error, Error):
        return error.message
    if isinstance(error, OSError):
        return f"cannot read: {error.strerror or error}"
    return str(error)


def trusted_keys(extra: list[Path] | None, trust_root: str | None = None) -> KeySet:
    """The shipped keys plus each ``--keys`` directory or file, statements applied.

    With ``trust_root``, only that key is trusted outright; the others count
    only when reached from it by rotation statements signed by both keys.

    Raises:
        FormatError: an unreadable or malformed key file, or an unknown trust root.
        VerificationError: a key statement that cannot be trusted.
    """
    material = load_material(shipped_keys_dir())
    for path in extra or []:
        material.extend(load_material(path))
    root = material.find(trust_root) if trust_root is not None else None
    return KeySet.trusting(material, root)


def _trust(ctx: typer.Context, extra: list[Path] | None, trust_root: str | None) -> KeySet:
    """The verifier's key set, refused if it rolls back what this verifier has seen."""
    keys = trusted_keys(extra, trust_root)
    seen_path = home_of(ctx) / SEEN_FILE
    seen = load_seen(seen_path)
    check_rollback(keys, seen)
    try:
        remember(keys, seen_path, seen)
    except OSError as e:
        typer.echo(f"warning: cannot remember the key statements in {seen_path}: {e}", err=True)
    return keys


def verify(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Bundle files, directories of bundles (*.json, recursively; a published "
            "tree's state.json and key document are skipped), '-', or "
            "http(s) URLs of bundles or resolver pages."
        ),
    ],
    keys: Annotated[
        list[Path] | None,
        typer.Option(
            "--keys",
            help="Also trust these keys: a directory of key-record files, or one file holding "
            "a record, a list, or a pith-signing-key.json document. Repeatable.",
        ),
    ] = None,
    trust_root: Annotated[
        str | None,
        typer.Option(
            "--trust-root",
            help="Trust only this key (id or fingerprint, from the shipped keys or --keys) "
            "and the keys its rotation statements lead to.",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON result per input on stdout (stable reasons).")
    ] = False,
    mirrors: Annotated[
        list[str] | None,
        typer.Option(
            "--mirror",
            help="Base URL of a mirror (repeatable). Each PATH is then a Pith number whose "
            "bundle is fetched from every mirror, verified, and compared.",
        ),
    ] = None,
) -> None:
    """Verify Pith bundles offline; trust comes only from the shipped keys and --keys.

    Checks, in order: structure, canonical record and canonical_sha256, Pith
    number and short form, aliases, key hints, receipt, every event, the state
    recomputed from the events, the bundle hash and signature. A URL is
    fetched (timeouts, a size limit) and verified against local trust only.
    Key statements (rotations, revocations) in the key files are followed
    first; a key set older than one this verifier has seen is refused.
    Exit 0 when every input is valid (and mirrors agree), 1 when any is not
    (or the key set is refused), 2 for usage or unreadable input.
    """
    try:
        trusted = _trust(ctx, keys, trust_root)
    except FormatError as e:
        typer.echo(f"error: --keys: {e.diagnostics()}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except VerificationError as e:
        typer.echo(f"FAIL: key set: {e.reason}: {e.message}", err=True)
        if json_out:
            emit_json(
                {
                    "source": "keys",
                    "ok": False,
                    "step": "keys",
                    "reason": str(e.reason),
                    "message": e.message,
                }
            )
        raise typer.Exit(EXIT_REFUSED) from None
    if mirrors:
        raise typer.Exit(max(_mirrored(p, mirrors, trusted, json_out) for p in paths))
    code = EXIT_OK
    for name, data, expected in _inputs(paths):
        if isinstance(data, Exception):
            typer.echo(f"ERROR: {name}: {_why(data)}", err=True)
            if json_out:
                emit_json(
                    {"source": name, "ok": False, "reason": "unreadable", "message": _why(data)}
                )
            code = EXIT_USAGE
            continue
        report = verify_bundle_report(data, trusted, name, expected=expected)
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


def _mirrored(record: str, mirrors: list[str], trusted: KeySet, json_out: bool) -> int:
    """Verify one record on every mirror and report where they differ; the exit code."""
    try:
        comparison = compare_mirrors(record, mirrors, trusted)
    except FormatError as e:
        raise UsageError(f"with --mirror, give full Pith numbers: {e.message}") from e
    for report in comparison.reports:
        if report.ok and report.result is not None:
            typer.echo(f"OK: {report.source} (state {report.result.state_sha256})", err=True)
        else:
            typer.echo(
                f"FAIL: {report.source}: {report.failed_step}: {report.reason}: {report.message}",
                err=True,
            )
    for d in comparison.disagreements:
        said = ", ".join(f"{url} says {value}" for url, value in d["values"].items())
        typer.echo(f"DISAGREE: {d['field']}: {said}", err=True)
    if json_out:
        emit_json(comparison.to_dict())
    if comparison.unreachable:
        return EXIT_USAGE
    return EXIT_OK if comparison.ok else EXIT_REFUSED
