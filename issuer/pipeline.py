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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from issuer._time import Clock, format_seconds
from issuer.errors import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, SourceError, UnreadableInputError
from issuer.events import build_event
from issuer.identifiers import PithNumber, source_aliases
from issuer.keys import Signer
from issuer.receipts import sign_receipt
from issuer.record import CanonicalRecord
from issuer.sources import Notice, Refusal, SourceMetadata, read_stream
from issuer.store._sqlite import NewRecord, SqliteStore

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


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
    """A record (or a whole input) that did not issue, and why."""

    location: str
    reason: str
    record_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The rejects-file line."""
        return {"location": self.location, "record_id": self.record_id, "reason": self.reason}


@dataclass
class IssueSummary:
    """Counts for a run; decides the exit code."""

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
        if self.refused or self.conflicts or self.failed_files:
            return EXIT_REFUSED
        return EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` summary."""
        return {
            "issued": self.issued,
            "already_issued": self.already_issued,
            "refused": self.refused,
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


@dataclass
class _Pending:
    meta: SourceMetadata
    record: CanonicalRecord
    number: PithNumber


class Issuer:
    """Issues records from arXiv inputs into a registry with one signer."""

    def __init__(
        self,
        store: SqliteStore,
        signer: Signer,
        clock: Clock,
        *,
        progress: Progress | None = None,
        on_reject: Callable[[Reject], None] | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.store = store
        self.signer = signer
        self.clock = clock
        self.progress = progress or NoProgress()
        self.on_reject = on_reject or (lambda r: None)
        self.batch_size = batch_size
        self.summary = IssueSummary()

    def run(self, paths: Iterable[str]) -> IssueSummary:
        """Issue every record of every input; one bad record or file never stops the run."""
        paths = list(paths)
        sizes = [Path(p).stat().st_size for p in paths if p != "-" and Path(p).is_file()]
        self.progress.start(sum(sizes) if len(sizes) == len(paths) else None)
        self.store.add_key(self.signer.public_key)
        try:
            for path in paths:
                self._input(path)
        finally:
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
        batch: list[_Pending] = []
        try:
            for item in read_stream(
                io.BufferedReader(counting), "<stdin>" if path == "-" else path
            ):
                if isinstance(item, SourceMetadata):
                    record = CanonicalRecord.from_source(item)
                    batch.append(_Pending(item, record, PithNumber.for_record(record)))
                    if len(batch) >= self.batch_size:
                        self._flush(batch)
                        batch = []
                        self.progress.advance(counting.consumed - reported, self.summary)
                        reported = counting.consumed
                elif isinstance(item, Refusal):
                    self.summary.refused += 1
                    self._reject(Reject(item.location, item.reason, item.record_id))
                elif isinstance(item, Notice):
                    self.summary.notices.append(str(item))
        except SourceError as e:
            self._file_failed(e)
        finally:
            self._flush(batch)
            self.progress.advance(counting.consumed - reported, self.summary)
            if path != "-":
                stream.close()

    def _file_failed(self, error: SourceError) -> None:
        self.summary.failed_files.append(error.location or "?")
        self.summary.unreadable |= isinstance(error, UnreadableInputError)
        self._reject(Reject(error.location or "?", error.message))

    def _flush(self, batch: list[_Pending]) -> None:
        if not batch:
            return
        existing = self.store.issued_versions((p.record.source_id, p.record.version) for p in batch)
        seen: dict[tuple[str, int], str] = dict(existing)
        fresh: list[_Pending] = []
        for pending in batch:
            key = (pending.record.source_id, pending.record.version)
            if key in seen:
                self._known(pending, seen[key])
            else:
                seen[key] = pending.record.canonical_sha256
                fresh.append(pending)
        if not fresh:
            return
        now = self.clock()
        stamp = format_seconds(now)
        new = [self._sign(p, now, stamp) for p in fresh]
        collisions_before = len(self.store.short_collisions())
        written, skipped = self.store.write_records(new)
        self.summary.issued += len(written)
        self.summary.already_issued += len(skipped)
        found = len(self.store.short_collisions()) - collisions_before
        if found:
            self.summary.collisions += found
            logger.warning("%d short-alias collision(s) recorded", found)

    def _known(self, pending: _Pending, issued_sha256: str) -> None:
        if issued_sha256 == pending.record.canonical_sha256:
            self.summary.already_issued += 1
            return
        self.summary.conflicts += 1
        self._reject(
            Reject(
                pending.meta.location,
                f"{pending.record.versioned_id} was issued before with different content "
                f"(canonical_sha256 {issued_sha256}); versions are immutable, so this one is "
                "not issued",
                pending.record.source_id,
            )
        )

    def _sign(self, pending: _Pending, now: Any, stamp: str) -> NewRecord:
        record, number = pending.record, pending.number
        receipt = sign_receipt(record.canonical_sha256, self.signer, now)
        payload = {
            "canonical_record": record.to_dict(),
            "canonical_sha256": record.canonical_sha256,
            "receipt": receipt,
            "source_kind": record.source_kind,
            "source_id": record.source_id,
            "source_version": record.version,
            "attestation_state": "computed",
        }
        event = build_event("record_created", str(number), payload, self.signer, now)
        return NewRecord(record, number, receipt, event, source_aliases(record, number, now), stamp)
