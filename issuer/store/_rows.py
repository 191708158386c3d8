"""The registry's rows as the library sees them, whichever database holds them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from issuer import cjson
from issuer._time import parse_seconds
from issuer.identifiers import PithNumber, source_aliases
from issuer.record import CanonicalRecord
from issuer.store._compact import (
    EventRow,
    ReceiptRow,
    RecordContext,
    RecordRow,
    event_candidate,
    receipt_candidate,
    record_candidate,
)


@dataclass(frozen=True)
class SignedObjects:
    """One record's signed objects, by row id: its receipt and its events."""

    row_id: int
    receipt: bytes  # canonical JSON
    events: list[tuple[int, bytes]]  # (event row id, canonical JSON)


@dataclass(frozen=True)
class IssuedRecord:
    """One record as the registry holds it."""

    number: PithNumber
    record: CanonicalRecord
    issued_at: str
    title: str | None = None  # raw title as issued, where the registry kept it

    @property
    def pith_number(self) -> str:
        """The full Pith number as text."""
        return str(self.number)

    @property
    def aliases(self) -> list[dict[str, Any]]:
        """The record's six source aliases, recomputed exactly as they were issued."""
        return source_aliases(self.record, self.number, parse_seconds(self.issued_at))


@dataclass(frozen=True, slots=True)
class PublishRow:
    """One record as publishing walks it: what the tree last got of it, if anything."""

    row_id: int
    number: PithNumber
    state_sha256: str | None  # as last published to the tree; None: never
    settings_sha256: str | None  # the tree settings it was published under


@dataclass(frozen=True, slots=True)
class PublishSource:
    """What one record's published files are built from, read with the rest of its batch.

    ``events`` are as :meth:`Store.events` returns them and ``leaves`` as
    :meth:`Store.log_leaves_of`; ``events_mark`` as :meth:`Store.events_mark`,
    read in the same statement as the events.
    """

    row_id: int
    issued: IssuedRecord
    events: list[dict[str, Any]]
    events_mark: int
    leaves: list[tuple[int, bytes]]


@dataclass(frozen=True, slots=True)
class PublishedRecord:
    """A record whose files are in place in a tree, and what they were built from."""

    row_id: int
    state_sha256: str
    base_url: str
    settings_sha256: str
    title: str | None
    events_mark: int  # the record's newest event row when its files were built


@dataclass(frozen=True, slots=True)
class ListedRecord:
    """One line of a published tree's index pages."""

    number: PithNumber
    source_id: str
    version: int
    title: str | None


@dataclass(frozen=True, slots=True)
class NewRecord:
    """Everything issuance writes for one record, in one transaction, as ready-made rows.

    Built where the record is signed (a worker process, under the pipeline)
    so the single writer only binds values: serializing and splitting each
    object into its compact row (:mod:`issuer.store._compact`) is work that
    parallelizes, the writer is not. The writer only rebuilds each compact
    row and compares it with the bytes signed, keeping them whole if they differ.
    """

    source_id: str
    version: int
    versioned_id: str
    canonical_sha256: str
    year: int
    code: str
    record_json: bytes
    record_row: RecordRow  # compact, unchecked: the writer checks it rebuilds record_json
    receipt_key_id: str
    receipt_json: bytes
    receipt_row: ReceiptRow  # compact, unchecked: the writer checks it rebuilds receipt_json
    event_json: bytes  # the record_created event
    event_row: EventRow  # compact, unchecked: the writer checks it rebuilds event_json
    issued_at: str
    location: str = ""
    title: str | None = None

    @classmethod
    def build(
        cls,
        record: CanonicalRecord,
        number: PithNumber,
        *,
        receipt: dict[str, Any],
        event: dict[str, Any],
        issued_at: str,
        location: str = "",
        title: str | None = None,
    ) -> NewRecord:
        """Serialize one signed record for :meth:`Store.write_records`.

        ``title``: the raw title the record was issued from, kept for the published
        pages (the record itself holds only its hash).
        """
        receipt_json = cjson.dumps_parsed(receipt)
        event_json = cjson.dumps_parsed(event)
        return cls(
            source_id=record.source_id,
            version=record.version,
            versioned_id=record.versioned_id,
            canonical_sha256=record.canonical_sha256,
            year=number.year,
            code=number.code,
            record_json=cjson.dumps_parsed(record.to_dict()),
            record_row=record_candidate(record),
            receipt_key_id=receipt["key_id"],
            receipt_json=receipt_json,
            receipt_row=receipt_candidate(receipt, receipt_json),
            event_json=event_json,
            event_row=event_candidate(event, event_json),
            issued_at=issued_at,
            location=location,
            title=title,
        )

    @property
    def key(self) -> tuple[str, int]:
        """(arXiv id, version): what makes a record unique."""
        return self.source_id, self.version

    @property
    def pith_number(self) -> str:
        """The full Pith number as text."""
        return str(PithNumber(self.year, self.code))

    @property
    def context(self) -> RecordContext:
        """What the record row gives the rebuild of its receipt and event."""
        return RecordContext(
            self.pith_number,
            self.canonical_sha256,
            self.record_json,
            self.source_id,
            self.version,
            self.receipt_json,
        )
