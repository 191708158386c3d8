"""Batch issuance: arXiv metadata → canonical records → receipts and events → the registry.

Streaming and idempotent. Records are derived as the readers yield them and
written in batches, each record with its receipt, ``record_created`` event
and aliases in one transaction; a record already issued is skipped, so a run
that was killed is simply run again. A version already issued with
*different* content is refused (versions are immutable). The library reports
progress through :class:`Progress` and never draws anything itself.
"""

from __future__ import annotations

import io
import logging
import sys
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

from issuer._time import Clock, format_seconds
from issuer._workers import signing_pool, worker_signer
from issuer.errors import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    FormatError,
    SourceError,
    UnreadableInputError,
)
from issuer.events import build_event
from issuer.identifiers import PithNumber
from issuer.keys import SeedSigner, Signer
from issuer.receipts import sign_receipt
from issuer.record import CanonicalRecord
from issuer.sources import Notice, Refusal, SourceMetadata, check_gzip, entries_prefix, read_stream
from issuer.store import NewRecord, Store

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000


class Progress(Protocol):
    """Told how far issuance got; the CLI draws it, tests count it."""

    def start(self, total_bytes: int | None) -> None:
        """Issuance starts; ``total_bytes`` of input, if known."""

    def advance(self, bytes_done: int, summary: IssueSummary) -> None:
        """``bytes_done`` more input bytes were consumed."""

    def finish(self) -> None:
        """Issuance ended."""


class NoProgress:
    """A :class:`Progress` that shows nothing."""

    def start(self, total_bytes: int | None) -> None:
        """Nothing to show."""

    def advance(self, bytes_done: int, summary: IssueSummary) -> None:
        """Nothing to show."""

    def finish(self) -> None:
        """Nothing to show."""


@dataclass(frozen=True)
class Reject:
    """A record (or a whole input) that did not issue, and why.

    Attributes:
        location: ``FILE:LINE``, or ``FILE`` for a whole input.
        reason: why.
        record_id: the arXiv id, where known.
        entries: set when this one reject stands for that many entries of an
            input that cannot issue at all (an Atom feed).
    """

    location: str
    reason: str
    record_id: str | None = None
    entries: int | None = None

    @property
    def count(self) -> int:
        """How many refusals this reject stands for in the summary."""
        return 1 if self.entries is None else self.entries

    def __str__(self) -> str:
        return f"{self.location}: {entries_prefix(self.entries)}{self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """The rejects-file line."""
        return {
            "location": self.location,
            "record_id": self.record_id,
            "reason": self.reason,
            "count": self.count,
        }


@dataclass
class IssueSummary:
    """Counts for a run; decides the exit code.

    Every reject reported through ``on_reject`` is counted exactly once: a
    refused record in ``refused`` (an Atom feed's one reject by its entries),
    a version issued before with other content in ``conflicts``, an input that
    could not be read or cannot issue as a whole in ``failed_files``; so the
    ``refused:`` lines add up to :attr:`refusals`.
    """

    issued: int = 0
    already_issued: int = 0
    refused: int = 0
    conflicts: int = 0
    files: int = 0
    failed_files: list[str] = field(default_factory=list)
    unreadable: bool = False
    notices: list[str] = field(default_factory=list)
    collisions: int = 0

    @property
    def exit_code(self) -> int:
        """2 if an input could not be read, 1 if anything was refused, else 0."""
        if self.unreadable:
            return EXIT_USAGE
        if self.refusals:
            return EXIT_REFUSED
        return EXIT_OK

    @property
    def refusals(self) -> int:
        """Everything refused: records, conflicting versions and whole inputs."""
        return self.refused + self.conflicts + len(self.failed_files)

    def refusals_text(self) -> str:
        """What :attr:`refusals` is made of, e.g. ``20 records, 4 inputs``; ``""`` for none."""
        parts = [
            (self.refused, "record", "records"),
            (len(self.failed_files), "input", "inputs"),
            (
                self.conflicts,
                "version issued before with other content",
                "versions issued before with other content",
            ),
        ]
        return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in parts if n)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` summary."""
        return {
            "issued": self.issued,
            "already_issued": self.already_issued,
            "refused": self.refused,
            "refusals": self.refusals,
            "conflicts": self.conflicts,
            "short_alias_collisions": self.collisions,
            "inputs": self.files,
            "failed_inputs": self.failed_files,
            "notices": self.notices,
        }


class _Counting(io.RawIOBase):
    """Counts bytes as the reader consumes them, for progress in bytes (and so an ETA)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.consumed += len(data)
        return len(data)


def _sign_in_worker(metas: list[SourceMetadata], now: datetime) -> list[NewRecord | Reject]:
    return sign_records(metas, worker_signer(), now)


def sign_records(
    metas: list[SourceMetadata], signer: Signer, now: datetime
) -> list[NewRecord | Reject]:
    """Derive and sign everything issuance writes for each record (runs in workers).

    A record that cannot be canonicalized is returned as a :class:`Reject`,
    so one bad record never stops a run (and a re-run never trips on it
    again); a signer failure raises and stops the run.
    """
    stamp = format_seconds(now)
    out: list[NewRecord | Reject] = []
    for meta in metas:
        try:
            record = CanonicalRecord.from_source(meta)
            number = PithNumber.for_record(record)
        except FormatError as e:
            out.append(Reject(meta.location, e.message, meta.arxiv_id))
            continue
        receipt = sign_receipt(record.canonical_sha256, signer, now)
        payload = {
            "canonical_record": record.to_dict(),
            "canonical_sha256": record.canonical_sha256,
            "receipt": receipt,
            "source_kind": record.source_kind,
            "source_id": record.source_id,
            "source_version": record.version,
            "attestation_state": "computed",
        }
        event = build_event("record_created", str(number), payload, signer, now)
        out.append(
            NewRecord.build(
                record,
                number,
                receipt=receipt,
                event=event,
                issued_at=stamp,
                location=meta.location,
                title=meta.title,
            )
        )
    return out


class Issuer:
    """Issues records from arXiv inputs into a registry with one signer.

    With ``workers`` > 1 and a signer that holds its key in memory, deriving
    and signing run in that many worker processes while this process reads
    the input and is the registry's single writer; an HSM signer signs here.
    At most ``2 × workers`` batches are in flight, so memory stays flat.
    Workers are spawned, not forked: they inherit no open database handle,
    and receive only the key id and seed, over a pipe.
    """

    def __init__(
        self,
        store: Store,
        signer: Signer,
        clock: Clock,
        *,
        progress: Progress | None = None,
        on_reject: Callable[[Reject], None] | None = None,
        batch_size: int = BATCH_SIZE,
        workers: int = 1,
    ) -> None:
        self.store = store
        self.signer = signer
        self.clock = clock
        self.progress = progress or NoProgress()
        self.on_reject = on_reject or (lambda r: None)
        self.batch_size = batch_size
        self.workers = workers if isinstance(signer, SeedSigner) else 1
        self.summary = IssueSummary()
        self._pool: ProcessPoolExecutor | None = None
        self._inflight: deque[Future[list[NewRecord | Reject]] | list[NewRecord | Reject]] = deque()
        self._pending_bytes = 0
        self._batches = 0

    def run(self, paths: Iterable[str]) -> IssueSummary:
        """Issue every record of every input; one bad record or file never stops the run."""
        paths = list(paths)
        sizes = [Path(p).stat().st_size for p in paths if p != "-" and Path(p).is_file()]
        self.progress.start(sum(sizes) if len(sizes) == len(paths) else None)
        self.store.add_key(self.signer.public_key)
        try:
            for path in paths:
                self._input(path)
            self._drain(0)
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
            self.progress.finish()
        return self.summary

    def _reject(self, reject: Reject) -> None:
        self.on_reject(reject)

    def _input(self, path: str) -> None:
        self.summary.files += 1
        try:
            stream: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        except OSError as e:
            self._file_failed(UnreadableInputError(f"cannot read: {e.strerror}", location=path))
            return
        counting = _Counting(stream)
        reported = 0
        batch: list[SourceMetadata] = []
        name = "<stdin>" if path == "-" else path
        try:
            # A damaged gzip file issues nothing. Checked here: read_stream cannot, since
            # the counting wrapper it gets does not seek.
            check_gzip(stream, name)
            for item in read_stream(io.BufferedReader(counting), name):
                if isinstance(item, SourceMetadata):
                    batch.append(item)
                    if len(batch) >= self.batch_size:
                        self._submit(batch)
                        batch = []
                        self._pending_bytes += counting.consumed - reported
                        reported = counting.consumed
                elif isinstance(item, Refusal):
                    reject = Reject(item.location, item.reason, item.record_id, item.entries)
                    self.summary.refused += reject.count
                    self._reject(reject)
                elif isinstance(item, Notice):
                    self.summary.notices.append(str(item))
        except SourceError as e:
            self._file_failed(e)
        finally:
            self._submit(batch)
            self._pending_bytes += counting.consumed - reported
            if path != "-":
                stream.close()

    def _file_failed(self, error: SourceError) -> None:
        self.summary.failed_files.append(error.location or "?")
        self.summary.unreadable |= isinstance(error, UnreadableInputError)
        self._reject(Reject(error.location or "?", error.message))

    def _submit(self, batch: list[SourceMetadata]) -> None:
        """Skip what the registry already holds, then derive and sign the rest."""
        if not batch:
            return
        existing = self.store.issued_versions((m.arxiv_id, m.version) for m in batch)
        fresh = []
        for meta in batch:
            digest = existing.get((meta.arxiv_id, meta.version))
            if digest is None:
                fresh.append(meta)
                continue
            try:
                record = CanonicalRecord.from_source(meta)
            except FormatError as e:
                self.summary.refused += 1
                self._reject(Reject(meta.location, e.message, meta.arxiv_id))
            else:
                self._known(meta, record, digest)
        if not fresh:
            return
        now = self.clock()
        self._batches += 1
        if self._pool is None and self.workers > 1 and self._batches > 1:
            # Started at the second batch: a small run never pays for worker start-up.
            assert isinstance(self.signer, SeedSigner)  # noqa: S101 - checked in __init__
            self._pool = signing_pool(self.signer, self.workers)
        if self._pool is None:
            self._inflight.append(sign_records(fresh, self.signer, now))
        else:
            self._inflight.append(self._pool.submit(_sign_in_worker, fresh, now))
        self._drain(2 * self.workers)

    def _drain(self, keep: int) -> None:
        """Write finished batches until at most ``keep`` are in flight."""
        while len(self._inflight) > keep:
            done = self._inflight.popleft()
            self._write(done if isinstance(done, list) else done.result())

    def _write(self, signed: list[NewRecord | Reject]) -> None:
        new = [n for n in signed if isinstance(n, NewRecord)]
        for reject in (r for r in signed if isinstance(r, Reject)):
            self.summary.refused += 1
            self._reject(reject)
        written, collisions = self.store.write_records(new) if new else ([], 0)
        self.summary.issued += len(written)
        if len(written) < len(new):
            # Issued meanwhile by another writer, or twice in this input: same content or not?
            mine = {id(n) for n in written}
            skipped = [n for n in new if id(n) not in mine]
            stored = self.store.issued_versions(n.key for n in skipped)
            for n in skipped:
                self._known_new(n, stored.get(n.key, ""))
        if collisions:
            self.summary.collisions += collisions
            logger.warning("%d short-alias collision(s) recorded", collisions)
        self.progress.advance(self._pending_bytes, self.summary)
        self._pending_bytes = 0

    def _known(self, meta: SourceMetadata, record: CanonicalRecord, issued_sha256: str) -> None:
        if issued_sha256 == record.canonical_sha256:
            self.summary.already_issued += 1
            return
        self.summary.conflicts += 1
        self._reject(
            Reject(
                meta.location,
                f"{record.versioned_id} was issued before with different content "
                f"(canonical_sha256 {issued_sha256}); versions are immutable, so this one is "
                "not issued",
                record.source_id,
            )
        )

    def _known_new(self, new: NewRecord, issued_sha256: str) -> None:
        if issued_sha256 == new.canonical_sha256:
            self.summary.already_issued += 1
        else:
            self.summary.conflicts += 1
            self._reject(
                Reject(
                    new.location,
                    f"{new.versioned_id} was issued meanwhile with different content "
                    f"(canonical_sha256 {issued_sha256}); versions are immutable",
                    new.source_id,
                )
            )
