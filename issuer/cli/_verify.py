"""``pith verify``: check bundles offline against the verifier's own trusted keys."""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import operator
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from issuer._fs import read_at_most, shown_path
from issuer.cjson import MAX_DOCUMENT_BYTES
from issuer.cli._output import emit_json, home_of, note
from issuer.cli._params import path_parser
from issuer.errors import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    FormatError,
    NetworkError,
    UsageError,
    VerificationError,
)
from issuer.fetch import fetch, is_url, new_client, shown_url
from issuer.keys import seen_keys_path, verifier_keys, verifier_trust
from issuer.keys.keyset import KeySet
from issuer.reasons import Reason
from issuer.verify import (
    LogPolicy,
    MirrorComparison,
    VerificationReport,
    VerifyInput,
    compare_mirrors,
    failure_report,
    log_policy,
    read_input,
    verify_batches,
)

logger = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""
    app.command("verify")(verify)


def _inputs(paths: list[str]) -> Iterator[VerifyInput]:
    """(name, source, code the URL names) for every input.

    Inputs are files, directories (every ``*.json`` under them), ``-`` for
    stdin, or http(s) URLs of bundles or resolver pages. Files are read by
    whichever process verifies them (:func:`_check`), so a large directory is
    handed to the workers as paths, not as bytes through the main process.
    """
    with contextlib.ExitStack() as stack:
        client = None
        for name in paths:
            if name == "-":
                yield (
                    "<stdin>",
                    read_input(
                        functools.partial(read_at_most, sys.stdin.buffer, MAX_DOCUMENT_BYTES)
                    ),
                    None,
                )
                continue
            if is_url(name):
                client = client or stack.enter_context(new_client())
                try:
                    fetched = fetch(name, client=client)
                except NetworkError as e:  # a URL fetch could read: shown without a password
                    yield shown_url(name), e, None
                except UsageError as e:
                    yield name, e, None
                else:
                    yield shown_url(fetched.url), fetched.data, fetched.code
                continue
            if not name:  # an unset shell variable, not the working directory
                yield name, FileNotFoundError("an empty path; name a file or directory"), None
                continue
            path = Path(name)
            if not path.is_dir():
                yield shown_path(path), path, None
                continue
            found = False
            for file in _bundles_under(str(path)):
                found = True
                yield shown_path(file), file, None
            if not found:
                shown = shown_path(name)
                yield shown, FileNotFoundError(f"no *.json files under {shown}"), None


# Files a published tree holds beside its bundles: not bundles, so not inputs.
_NOT_BUNDLES = {"state.json", "pith-signing-key.json"}
# The order a directory's entries are taken in: by name, as pathlib compares each part of
# a path (POSIX: as they are; Windows: case folded).
_NAME_ORDER: Callable[[os.DirEntry[str]], str] = (
    (lambda entry: entry.name.lower()) if os.name == "nt" else operator.attrgetter("name")
)


def _bundles_under(path: str) -> Iterator[str]:
    """Every ``*.json`` file under ``path``, in path order, except a tree's non-bundle files.

    Those are ``state.json``, the key document, hidden settings files, and the
    ``.well-known`` copies of bundles (each record is checked once, at
    ``pith/CODE/bundle.json``; name a ``.well-known`` directory to check those).

    The files ``sorted(Path(path).rglob("*.json"))`` gives, less those, found
    as they are needed: each directory is read once with :func:`os.scandir`,
    whose entries know their own type (a ``stat`` only for a symlink), and its
    entries are taken in name order, a directory's files where its name
    sorts, which is the order of the whole paths' parts. Hidden directories are
    not entered. Like ``rglob``, it does not follow a symlink to a directory,
    skips a directory it may not read, and compares the suffix in the
    platform's case. A directory removed before its turn came is skipped, as a
    removed file is.
    """
    try:
        with os.scandir(path) as listing:
            entries = sorted(listing, key=_NAME_ORDER)
    except PermissionError:
        return
    except OSError as e:  # gone since its parent was listed, as a file can be: skipped alike
        if e.errno in _NOT_THERE:
            return
        raise
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        # Named as pathlib joins them: Path(".") / "a.json" is "a.json", not "./a.json".
        child = name if path == os.curdir else entry.path
        if _is(entry.is_dir, follow_symlinks=False):
            yield from _bundles_under(child)
        elif (
            os.path.normcase(name).endswith(".json")
            and name not in _NOT_BUNDLES
            and _is(entry.is_file)
        ):
            yield child


# The errors Path.is_dir() and Path.is_file() answer False to (a name gone since it was
# listed, a symlink loop); any other is raised, as rglob raises it.
_NOT_THERE = frozenset((errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP))


def _is(test: Callable[..., bool], **kwargs: bool) -> bool:
    try:
        return test(**kwargs)
    except OSError as e:
        if e.errno in _NOT_THERE:
            return False
        raise


def _keys_option(values: list[Path] | None) -> list[Path] | None:
    """Refuse ``--keys URL``: trust comes from files the verifier chose, never fetched."""
    for value in values or []:
        if is_url(str(value)) or str(value).lower().startswith(("http:", "https:")):
            raise UsageError(
                "--keys takes a local file or directory, not a URL: trust is never fetched",
                hint="download the key document, check its fingerprint out of band, then "
                "pass the file: pith verify --keys pith-signing-key.json ...",
            )
    return values


def trusted_keys(extra: list[Path] | None, trust_root: str | None = None) -> KeySet:
    """The shipped keys plus each ``--keys`` path (:func:`issuer.keys.verifier_keys`)."""
    return verifier_keys(extra or [], trust_root)


def _trust(ctx: typer.Context, extra: list[Path] | None, trust_root: str | None) -> KeySet:
    """The verifier's key set (:func:`issuer.keys.verifier_trust`); warns if not remembered."""
    trust = verifier_trust(extra or [], trust_root, seen_keys_path(home_of(ctx)))
    if trust.not_remembered is not None:
        typer.echo(
            f"warning: cannot remember the key statements in {trust.seen_path}: "
            f"{trust.not_remembered}",
            err=True,
        )
    return trust.keys


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
            parser=path_parser,
            help="Also trust these keys: a directory of key-record files, or one file holding "
            "a record, a list, or a pith-signing-key.json document (local files only, not "
            "URLs). Repeatable.",
            callback=_keys_option,
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
        bool,
        typer.Option(
            "--json",
            help="JSON Lines on stdout: one result object per input, every one of the same "
            "shape (stable reasons); with --mirror, one comparison object per record.",
        ),
    ] = False,
    mirrors: Annotated[
        list[str] | None,
        typer.Option(
            "--mirror",
            help="Base URL of a mirror (repeatable). Each PATH is then a Pith number whose "
            "bundle is fetched from every mirror, verified, and compared.",
        ),
    ] = None,
    require_log: Annotated[
        bool,
        typer.Option(
            "--require-log",
            help="Refuse a bundle any of whose log leaves (record, events) has no inclusion "
            "proof in a checkpoint signed by a trusted key.",
        ),
    ] = False,
    witnesses: Annotated[
        list[str] | None,
        typer.Option(
            "--witness",
            help="A witness cosignature verifier key, NAME+KEYID+BASE64 (type 0x04): every "
            "checkpoint a proof uses must carry enough of their cosignatures. Repeatable.",
        ),
    ] = None,
    witness_threshold: Annotated[
        int | None,
        typer.Option(
            "--witness-threshold",
            help="How many distinct --witness keys must cosign (default: every one).",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Processes that verify (default: one per CPU). Results are printed in "
            "input order whatever the number.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Verify Pith bundles offline; trust comes only from the shipped keys and --keys.

    Checks, in order: structure, canonical record and canonical_sha256, Pith
    number and short form, aliases, key hints, receipt, every event, the state
    recomputed from the events, the bundle hash and signature, then any log
    proofs in timestamp_proofs (required with --require-log). A URL is
    fetched (timeouts, a size limit) and verified against local trust only.
    Key statements (rotations, revocations) in the key files are followed
    first; a key set older than one this verifier has seen is refused.
    Exit 0 when every input is valid (and mirrors agree), 1 when any is not
    (or the key set is refused), 2 for usage or unreadable input.
    """
    log = _log_policy(require_log, witnesses or [], witness_threshold)
    try:
        trusted = _trust(ctx, keys, trust_root)
    except FormatError as e:
        typer.echo(f"ERROR: --keys: {e.diagnostics()}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except VerificationError as e:
        typer.echo(f"FAIL: key set: {e.reason}: {e.message}", err=True)
        if json_out:
            emit_json(failure_report("keys", "keys", str(e.reason), e.message).to_dict())
        raise typer.Exit(EXIT_REFUSED) from None
    if mirrors:
        raise typer.Exit(max(_mirrored(p, mirrors, trusted, json_out) for p in paths))
    batches = verify_batches(_inputs(paths), trusted, log, jobs or os.cpu_count() or 1)
    raise typer.Exit(_print_reports(batches, trust_root, json_out))


def _print_reports(
    batches: Iterable[list[tuple[str, VerificationReport]]], trust_root: str | None, json_out: bool
) -> int:
    """One line per input on stderr (and its ``--json`` object on stdout); the exit code.

    A batch's OK lines in a row are written with one call: the same text, in
    the same order, as a line at a time.
    """
    code = EXIT_OK
    for batch in batches:
        oks: list[str] = []
        for name, report in batch:
            if report.ok:
                oks.append(f"OK: {name} ({report.pith_number})")
            else:
                _note_lines(oks)
                if report.failed_step == "read":
                    typer.echo(f"ERROR: {name}: {report.message}", err=True)
                    code = EXIT_USAGE
                else:
                    _print_fail(report, trust_root)
                    code = max(code, EXIT_REFUSED) if code != EXIT_USAGE else code
            if json_out:
                _note_lines(oks)
                emit_json(report.to_dict())
        _note_lines(oks)
    return code


def _note_lines(lines: list[str]) -> None:
    """Write ``lines`` with one call (unless --quiet), and empty the list."""
    if lines:
        note("\n".join(lines))
        lines.clear()


def _log_policy(require: bool, witnesses: list[str], threshold: int | None) -> LogPolicy:
    """What ``--require-log``, ``--witness`` and ``--witness-threshold`` ask of log proofs."""
    try:
        return log_policy(require=require, witnesses=witnesses, threshold=threshold)
    except FormatError as e:
        raise UsageError(f"--witness: {e.message}", hint=e.hint) from e
    except ValueError as e:
        raise UsageError(f"--witness-threshold: {e}") from e


# What a failed check usually means for the operator, and what to do.
_HINTS: dict[str, str] = {
    Reason.UNKNOWN_KEY: "trust the registry's key with --keys FILE (its pith-signing-key.json), "
    "after checking its fingerprint out of band",
}
_TRUST_ROOT_HINT = (
    "--trust-root trusts one key and the keys its rotation statements lead to, forward "
    "in time: pin the oldest key you trust, not a newer one"
)


def _print_fail(report: VerificationReport, trust_root: str | None) -> None:
    typer.echo(
        f"FAIL: {report.source}: {report.failed_step}: {report.reason}: {report.message}",
        err=True,
    )
    hint = _HINTS.get(report.reason or "")
    if trust_root is not None and report.reason == Reason.UNKNOWN_KEY:
        hint = _TRUST_ROOT_HINT
    if hint:
        typer.echo(f"Hint: {hint}", err=True)


def _mirrored(record: str, mirrors: list[str], trusted: KeySet, json_out: bool) -> int:
    """Verify one record on every mirror and report where they differ; the exit code."""
    try:
        comparison = compare_mirrors(record, mirrors, trusted)
    except FormatError as e:
        raise UsageError(f"with --mirror, give full Pith numbers: {e.message}") from e
    except (ValueError, RecursionError, MemoryError):
        # A mirror served a document the parser could not bound: this record fails, the
        # run goes on to the next.
        logger.debug("%s: parser refused a mirror's document", record, exc_info=True)
        failed = failure_report(record, "structure", str(Reason.MALFORMED), "too large to parse")
        _print_fail(failed, None)
        if json_out:
            emit_json(MirrorComparison(record, [failed]).to_dict())
        return EXIT_REFUSED
    for report in comparison.reports:
        if report.ok and report.result is not None:
            note(f"OK: {report.source} (state {report.result.state_sha256})")
        else:
            _print_fail(report, None)
    for d in comparison.disagreements:
        said = ", ".join(f"{url} says {value}" for url, value in d["values"].items())
        typer.echo(f"DISAGREE: {d['field']}: {said}", err=True)
    if json_out:
        emit_json(comparison.to_dict())
    if comparison.unreachable:
        return EXIT_USAGE
    return EXIT_OK if comparison.ok else EXIT_REFUSED
