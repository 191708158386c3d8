"""``pith issue``, ``resolve``, ``show``, ``event add``, ``bundle``: the operator's commands."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.progress import TaskID

from issuer import cjson, registry
from issuer._fs import atomic_write, shown_path
from issuer._time import fixed_or_system_clock
from issuer.cli._open import local_keys, open_registry, open_signer, registry_url
from issuer.cli._output import (
    AlwaysJsonOpt,
    JsonOpt,
    KeyOpt,
    NowOpt,
    RegistryOpt,
    SignerOpt,
    emit_json,
    home_of,
    note,
    output_error,
    quiet,
    refusal_hints,
    refused_line,
)
from issuer.cli._params import check_base_url, path_parser
from issuer.cli._progress import progress_bar
from issuer.cli._secrets import PassphraseFdOpt, PassphraseFileOpt, passphrase_source
from issuer.errors import EXIT_REFUSED, FormatError, NotFoundError, UnreadableInputError
from issuer.keys import DEFAULT_BASE_URL
from issuer.pipeline import Issuer, IssueSummary, Reject

event_app = typer.Typer(help="Append signed events to a record's chains.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the registry commands to ``app``."""
    app.command("issue")(issue)
    app.command("resolve")(resolve)
    app.command("show")(show)
    app.command("bundle")(bundle)
    app.add_typer(event_app, name="event")


class _RichProgress:
    """A progress bar on stderr with elapsed and remaining time (by input bytes)."""

    def __init__(self) -> None:
        self._bar = progress_bar("issuing", in_bytes=True)
        self._task: TaskID | None = None

    def start(self, total_bytes: int | None) -> None:
        self._bar.start()
        self._task = self._bar.add_task("issue", total=total_bytes, counts="")

    def advance(self, bytes_done: int, summary: IssueSummary) -> None:
        if self._task is not None:
            counts = (
                f"{summary.issued:,} issued, {summary.already_issued:,} known, "
                f"{summary.refused:,} refused"
            )
            self._bar.update(self._task, advance=bytes_done, counts=counts)

    def finish(self) -> None:
        self._bar.stop()


def issue(
    ctx: typer.Context,
    files: Annotated[
        list[str],
        typer.Argument(help="arXiv metadata: OAI-PMH arXivRaw or snapshot lines; '-' for stdin."),
    ],
    registry_file: RegistryOpt = None,
    signer: SignerOpt = None,
    passphrase_file: PassphraseFileOpt = None,
    passphrase_fd: PassphraseFdOpt = None,
    key: KeyOpt = None,
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects",
            parser=path_parser,
            help="Append refused records here as JSON lines "
            "(default: rejects.jsonl beside the registry).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Processes that derive and sign (default: one per CPU); the writer stays single. "
            "HSM signers always sign in one process.",
            show_default=False,
        ),
    ] = None,
    now: NowOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Issue Pith numbers, receipts and record_created events; idempotent and crash-safe.

    Records already issued are skipped, so a killed run is simply run again.
    Exit 0 when every record issued or was already there, 1 when any was
    refused, 2 for usage or unreadable input, 3 for key or database trouble.
    """
    url = registry_url(ctx, registry_file)
    rejects_path = rejects or (url.path or home_of(ctx) / "registry").with_name("rejects.jsonl")
    clock = fixed_or_system_clock(now)
    sign = open_signer(ctx, key, signer, clock(), passphrase_source(passphrase_file, passphrase_fd))
    with open_registry(ctx, url, must_exist=False) as store, _append(rejects_path) as rejects_file:

        def on_reject(reject: Reject) -> None:
            rejects_file.write(cjson.dumps(reject.to_dict()) + b"\n")
            rejects_file.flush()
            typer.echo(f"refused: {reject}", err=True)  # stderr, with --json too

        progress = _RichProgress() if sys.stderr.isatty() and not quiet() else None
        summary = Issuer(
            store,
            sign,
            clock,
            progress=progress,
            on_reject=on_reject,
            workers=workers or os.cpu_count() or 1,
        ).run(files)
    result = {
        **summary.to_dict(),
        "registry": url.display,
        "rejects_file": shown_path(rejects_path),
    }
    if json_out:
        emit_json(result)
    else:
        parts = summary.refusals_text()
        note(
            f"issued {summary.issued}, already issued {summary.already_issued}, refused "
            f"{summary.refusals} ({f'{parts}; ' if parts else ''}see {rejects_path}), "
            f"short-alias collisions {summary.collisions}"
        )
        for notice in summary.notices:
            note(f"note: {notice}")
    raise typer.Exit(summary.exit_code)


def resolve(
    ctx: typer.Context,
    alias: Annotated[
        str,
        typer.Argument(
            help="pith:YYYY:CODE, pith:SHORT, arXiv id [vN] or abs URL, arXiv DOI or DOI URL."
        ),
    ],
    registry_file: RegistryOpt = None,
    json_out: AlwaysJsonOpt = False,
) -> None:
    """Resolve an alias to its Pith number(s) and records; every candidate is named.

    Exit 0 for exactly one match, 1 for an ambiguous short form or a candidate
    that no longer passes, 3 for none.
    """
    with open_registry(ctx, registry_file) as store:
        found = registry.resolve(store, alias)
        candidates = registry.candidate_records(store, found.candidates)
        versions = registry.issued_versions(store, found.query) if not found.candidates else []
    records = [
        {"pith_number": issued.pith_number, "canonical_record": issued.record.to_dict()}
        for issued in candidates.records
    ]
    emit_json(
        {
            "query": found.query,
            "kind": found.kind,
            "candidates": records,
            "unique": found.unique,
            "refused": [
                {"pith_number": r.pith_number, "why": r.reason, "hint": r.hint}
                for r in candidates.refusals
            ],
        }
    )
    for refusal in candidates.refusals:
        refused_line(refusal)
    refusal_hints(candidates.refusals)
    if not found.candidates:
        hint = None
        if versions:
            hint = "issued versions: " + ", ".join(f"v{v}" for v in versions)
        raise NotFoundError(f"not found: {alias}", hint=hint)
    if found.unique is None:
        typer.echo(
            f"ambiguous: {alias} names {len(found.candidates)} records: "
            + ", ".join(found.candidates),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED)
    if candidates.refusals:
        raise typer.Exit(EXIT_REFUSED)


def show(
    ctx: typer.Context,
    pith_number: Annotated[str, typer.Argument(help="A full Pith number.")],
    registry_file: RegistryOpt = None,
    json_out: AlwaysJsonOpt = False,
) -> None:
    """Print a record, its receipt, aliases (with the unversioned alias' history) and state."""
    with open_registry(ctx, registry_file) as store:
        emit_json(registry.show(store, pith_number, local_keys(ctx)))


@event_app.command("add")
def event_add(
    ctx: typer.Context,
    pith_number: Annotated[str, typer.Argument(help="A full Pith number.")],
    event_type: Annotated[str, typer.Option("--type", help="Event type, e.g. author_attestation.")],
    payload: Annotated[
        Path, typer.Option("--payload", help="JSON file holding the payload object; '-' for stdin.")
    ],
    supersedes: Annotated[
        list[str] | None,
        typer.Option("--supersedes", help="Event id this one replaces (repeatable)."),
    ] = None,
    registry_file: RegistryOpt = None,
    signer: SignerOpt = None,
    passphrase_file: PassphraseFileOpt = None,
    passphrase_fd: PassphraseFdOpt = None,
    key: KeyOpt = None,
    now: NowOpt = None,
    json_out: AlwaysJsonOpt = False,
) -> None:
    """Sign an event and append it to the head of its (record, target) chain."""
    raw = sys.stdin.buffer.read() if str(payload) == "-" else _read(payload)
    try:
        body = cjson.loads(raw)
    except FormatError as e:
        raise FormatError(f"{payload}: {e.message}") from e
    when = fixed_or_system_clock(now)()
    sign = open_signer(ctx, key, signer, when, passphrase_source(passphrase_file, passphrase_fd))
    with open_registry(ctx, registry_file) as store:
        event = registry.add_event(
            store,
            pith_number,
            event_type,
            body,
            sign,
            now=when,
            supersedes=tuple(supersedes or ()),
            extra=local_keys(ctx),
        )
    emit_json(
        {
            "event_id": event["event_id"],
            "prev_event": event["prev_event"],
            "target": event["target"],
        }
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise UnreadableInputError(f"cannot read {path}: {e.strerror}") from e


@contextlib.contextmanager
def _append(path: Path) -> Iterator[BinaryIO]:
    """``path`` opened for appending, or the one-line error naming it."""
    try:
        file = path.open("ab")
    except OSError as e:
        raise output_error(path, e) from e
    with file:
        yield file


def bundle(
    ctx: typer.Context,
    pith_number: Annotated[str, typer.Argument(help="A full Pith number.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", parser=path_parser, help="Write here (atomically) instead of stdout."
        ),
    ] = None,
    base_url: Annotated[
        str, typer.Option("--base-url", help="Where the registry publishes.")
    ] = DEFAULT_BASE_URL,
    registry_file: RegistryOpt = None,
    signer: SignerOpt = None,
    passphrase_file: PassphraseFileOpt = None,
    passphrase_fd: PassphraseFdOpt = None,
    key: KeyOpt = None,
    now: NowOpt = None,
    json_out: AlwaysJsonOpt = False,
) -> None:
    """Write the signed bundle of a record; `pith verify` accepts it with the registry's key."""
    check_base_url(base_url)
    when = fixed_or_system_clock(now)()
    with open_registry(ctx, registry_file) as store:
        sign = open_signer(
            ctx, key, signer, when, passphrase_source(passphrase_file, passphrase_fd)
        )
        built = registry.bundle(store, pith_number, sign, when, base_url, extra=local_keys(ctx))
    if out is None:
        emit_json(built)
    else:
        try:
            atomic_write(out, cjson.dumps(built) + b"\n")
        except OSError as e:
            raise output_error(out, e) from e
        note(f"wrote {out}")
