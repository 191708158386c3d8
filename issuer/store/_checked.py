"""A new record's rows, checked where it was signed: what the single writer only binds.

Issuance signs in worker processes and has one writer. Splitting each
signed object into its compact row (:mod:`issuer.store._compact`) and
checking that the row rebuilds the very bytes signed is work that
parallelizes, so a worker does it (:func:`checked_record`) and sends back
only the rows: a :class:`CheckedRecord`, plain values that are cheap to
pickle. The writer trusts the check as far as the key it was made with is
the key ``keys_used`` holds under that id (the fingerprint every receipt and
event is rebuilt with); when it is not, :func:`rechecked` rebuilds the bytes
signed from the rows and the signer's key and checks them again against
``keys_used``, so the row then keeps them whole.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

from issuer import cjson
from issuer.identifiers import PithNumber
from issuer.record import CanonicalRecord
from issuer.store._compact import (
    EventRow,
    Keys,
    ReceiptRow,
    RecordContext,
    RecordRow,
    checked_event,
    checked_receipt,
    event_bytes,
    event_candidate,
    receipt_bytes,
    receipt_candidate,
    record_bytes,
    record_candidate,
)
from issuer.store._compact import checked_record as _checked_record_row
from issuer.store._rows import NewRecord


class CheckedRecord(NamedTuple):
    """Everything issuance writes for one record, as checked row values.

    ``record``, ``receipt`` and ``event`` are compact where they rebuild the
    bytes signed under the key they were checked with, else they hold those
    bytes whole (see :mod:`issuer.store._compact`).
    """

    source_id: str
    version: int
    canonical_sha256: str
    year: int
    code: str
    issued_at: str
    key_id: str  # the receipt's (and the record_created event's) signing key
    title: str | None
    location: str
    record: RecordRow
    receipt: ReceiptRow
    event: EventRow

    @property
    def key(self) -> tuple[str, int]:
        """(arXiv id, version): what makes a record unique."""
        return self.source_id, self.version

    @property
    def versioned_id(self) -> str:
        """The arXiv id with its version, e.g. ``1811.06992v2``."""
        return f"{self.source_id}v{self.version}"

    @classmethod
    def of(  # noqa: PLR0917 - the row's values, as every caller has them
        cls,
        record: CanonicalRecord,
        number: PithNumber,
        issued_at: str,
        key_id: str,
        title: str | None,
        location: str,
        rows: tuple[RecordRow, ReceiptRow, EventRow],
    ) -> CheckedRecord:
        """The rows of ``record``, issued as ``number``."""
        return cls(
            record.source_id,
            record.version,
            record.canonical_sha256,
            number.year,
            number.code,
            issued_at,
            key_id,
            title,
            location,
            *rows,
        )


def issuing_context(
    record: CanonicalRecord, number: PithNumber, record_json: bytes, receipt_json: bytes
) -> RecordContext:
    """The rebuild context of ``record`` as it is issued, its and its receipt's JSON at hand."""
    return RecordContext(
        str(number),
        record.canonical_sha256,
        record_json,
        record.source_id,
        record.version,
        receipt_json,
    )


def checked_record(new: NewRecord, keys: Keys) -> CheckedRecord:
    """``new``'s rows, each compact if it rebuilds ``new``'s bytes under ``keys``, else whole."""
    return CheckedRecord(
        new.source_id,
        new.version,
        new.canonical_sha256,
        new.year,
        new.code,
        new.issued_at,
        new.receipt_key_id,
        new.title,
        new.location,
        _checked_record_row(new.record_row, new.record_json, new.source_id, new.version),
        checked_receipt(
            new.receipt_row, new.receipt_json, new.canonical_sha256, new.receipt_key_id, keys
        ),
        checked_event(new.event_row, new.event_json, new.context, keys),
    )


def issued_rows(
    record: CanonicalRecord,
    number: PithNumber,
    receipt: dict[str, Any],
    event: dict[str, Any],
    *,
    issued_at: str,
    location: str,
    title: str | None,
    keys: Keys,
) -> CheckedRecord:
    """:func:`checked_record` of :meth:`NewRecord.build`, each object serialized once.

    The record's row is checked by hashing its rebuilt bytes: the same
    ``canonical_sha256`` means the very bytes that were hashed.
    """
    record_row = record_candidate(record)
    record_json = record_bytes(record.source_id, record.version, record_row)
    if hashlib.sha256(record_json).hexdigest() != record.canonical_sha256:
        record_json = cjson.dumps_parsed(record.to_dict())
        record_row = (None, None, None, None, None, None, record_json)
    receipt_json = cjson.dumps_parsed(receipt)
    key_id = receipt["key_id"]
    event_json = cjson.dumps_parsed(event)
    context = issuing_context(record, number, record_json, receipt_json)
    return CheckedRecord.of(
        record,
        number,
        issued_at,
        key_id,
        title,
        location,
        (
            record_row,
            checked_receipt(
                receipt_candidate(receipt, receipt_json),
                receipt_json,
                record.canonical_sha256,
                key_id,
                keys,
            ),
            checked_event(event_candidate(event, event_json), event_json, context, keys),
        ),
    )


def rechecked(row: CheckedRecord, signed_with: Keys, keys: Keys) -> CheckedRecord:
    """``row``, checked under ``signed_with``, checked again under the registry's ``keys``."""
    number = str(PithNumber(row.year, row.code))
    record_json = record_bytes(row.source_id, row.version, row.record)
    receipt_json = receipt_bytes(row.canonical_sha256, row.key_id, row.receipt, signed_with)
    context = RecordContext(
        number, row.canonical_sha256, record_json, row.source_id, row.version, receipt_json
    )
    event_json = event_bytes(row.event, context, signed_with)
    return row._replace(
        record=_checked_record_row(row.record, record_json, row.source_id, row.version),
        receipt=checked_receipt(row.receipt, receipt_json, row.canonical_sha256, row.key_id, keys),
        event=checked_event(row.event, event_json, context, keys),
    )
