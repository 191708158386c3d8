"""A new record's receipt and ``record_created`` event, signed straight from their compact rows.

Issuance's fast path. :func:`~issuer.store._checked.issued_rows` takes the
receipt and event as signed dicts (:func:`issuer.receipts.sign_receipt`,
:func:`issuer.events.build_event`), serializes them, splits them into their
compact rows (:mod:`issuer.store._compact`) and rebuilds the bytes from the
rows to check that they are the bytes signed. :func:`issued_record` makes
the rows first and the bytes from them, with the functions the store rebuilds
them with on every read (:func:`~issuer.store._compact.record_bytes`,
:func:`~issuer.store._compact.receipt_bytes`,
:func:`~issuer.store._compact.record_payload`), so a row rebuilds what was
signed by construction and nothing is serialized twice:

- the record row is the record's compact row, kept only if
  :func:`~issuer.store._compact.record_bytes` rebuilds the very bytes the
  record was hashed over (else: ``None``, and the full path runs);
- the receipt is its row (the signature over the record digest, the signing
  time, this toolkit's builder version), and its JSON is that row rebuilt;
- the event's content is written from the record row, the receipt's JSON,
  the signing key and the times (:func:`record_created_content`), hashed and
  signed; the event row holds the id and the signature.

The bytes and rows are the same as the full path's (``tests/unit/test_issued_fast.py``
compares both, row for row, on the sample records and generated ones).
:data:`_FAST` switches the fast path off for those tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from issuer._time import format_micros, format_seconds
from issuer.events import EVENT_ID_PREFIX, EVENT_TYPES
from issuer.events import SCHEMA_VERSION as EVENT_SCHEMA_VERSION
from issuer.identifiers import PithNumber
from issuer.keys import PublicKey
from issuer.receipts import BUILDER_VERSION
from issuer.record import CanonicalRecord
from issuer.store._checked import CheckedRecord, issuing_context
from issuer.store._compact import (
    RECORD_CREATED,
    EventRow,
    ReceiptRow,
    RecordContext,
    micros,
    receipt_bytes,
    record_bytes,
    record_candidate,
    record_payload,
    with_payload,
)

#: Private switch for the differential tests: False sends every record to the full path.
_FAST = True

_TARGET = EVENT_TYPES[RECORD_CREATED].target


def record_created_content(context: RecordContext, created_at: str, key: PublicKey) -> bytes:
    """The content (what the id and signature cover) of a new record's ``record_created`` event.

    ``cjson.dumps`` of the event :func:`issuer.events.build_event` makes, less
    its ``signature``, ``content_sha256`` and ``event_id``: the payload is
    spliced in where canonical key order puts it
    (:func:`~issuer.store._compact.with_payload`, as the store's rebuild does).
    """
    return with_payload(
        {"created_at": created_at, "event_type": RECORD_CREATED},
        record_payload(context),
        {
            "prev_event": None,
            "schema_version": EVENT_SCHEMA_VERSION,
            "signer": key.signer_dict(),
            "subject_pith_number": context.pith_number,
            "supersedes": [],
            "target": _TARGET,
        },
    )


def issued_record(
    record: CanonicalRecord,
    number: PithNumber,
    sign: Callable[[bytes], bytes],
    key: PublicKey,
    now: datetime,
    *,
    location: str,
    title: str | None,
) -> CheckedRecord | None:
    """Sign ``record``'s receipt and event with ``sign`` (``key``'s) and return its rows.

    ``None`` where the fast path does not apply (a record not built by a
    checked constructor, or one whose compact row does not rebuild its
    bytes): sign it the full way.

    Raises:
        SigningError: as ``sign``.
    """
    if not _FAST or not record.is_checked:
        return None
    record_row = record_candidate(record)
    record_json = record.canonical_json
    if record_bytes(record.source_id, record.version, record_row) != record_json:
        return None  # pragma: no cover - every checked record rebuilds (test_record_bytes.py)
    key_id = key.key_id
    signed_at = micros(format_micros(now))
    created_at = format_seconds(now)
    receipt_row: ReceiptRow = (
        sign(record.canonical_digest),
        signed_at,
        None,  # first_computed_at: now, as signed_at
        None,  # last_reissued_at: the same
        BUILDER_VERSION,
        None,
    )
    context = issuing_context(
        record,
        number,
        record_json,
        receipt_bytes(record.canonical_sha256, key_id, receipt_row, {key_id: key}),
    )
    digest = hashlib.sha256(record_created_content(context, created_at, key)).digest()
    event_row: EventRow = (
        EVENT_ID_PREFIX + digest.hex(),
        _TARGET,
        RECORD_CREATED,
        "",  # no prev_event
        created_at,
        sign(digest),
        signed_at,
        key_id,
        None,  # the signer is the signing key
        None,  # the payload is rebuilt from the record row
        None,
    )
    return CheckedRecord.of(
        record, number, created_at, key_id, title, location, (record_row, receipt_row, event_row)
    )
