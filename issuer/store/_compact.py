"""Schema 4's compact rows: records, receipts and events kept as what cannot be recomputed.

A canonical record (spec §2–3) is stored as its metadata values: the two
text digests as 32 raw bytes, the categories, the licence, the submission
time (seconds since the epoch); its field names, schema version and source
kind are fixed, and its arXiv id and version are the row's own columns.

A receipt (spec §6) is stored as its signature (64 raw bytes), its three
times (microseconds since the epoch; ``NULL`` where a time equals
``signed_at``) and its builder version. Its fixed fields, digest and key id
come from the record row, and its key fingerprint from ``keys_used``.

An event (spec §7) is stored as its columns (id, type, target, prev_event,
created_at), its signature, ``signed_at``, the signing key id, the
``signer`` key id when it differs, and its payload as canonical JSON, except
for a ``record_created`` event, whose payload (the canonical record and the
receipt it was issued with) is rebuilt from the record row. Its
``content_sha256`` is the hex of its id.

The bytes are rebuilt on read with the same serializer that made them
(:func:`issuer.cjson.dumps_parsed`, keys in canonical order). Every compact
form is rebuilt when it is written and compared with the bytes given: when
they differ (a field, a value or an event type the compact form does not
cover) the row keeps the full canonical JSON in its fallback column
(``receipt_json``, ``event_json``) instead. So a read returns exactly the
bytes that were written, whatever they were.

What the registry's tables are is :mod:`issuer.store._schema`'s; this module
only maps objects to row values and back.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from issuer import cjson
from issuer._signatures import ALGORITHM, SIGNATURE_STATUS
from issuer._time import format_micros, format_seconds, parse_micros, parse_seconds
from issuer.errors import FormatError, StoreError
from issuer.events import EVENT_ID_PREFIX
from issuer.events import SCHEMA_VERSION as EVENT_SCHEMA_VERSION
from issuer.events import SIGNED_MESSAGE as EVENT_SIGNED_MESSAGE
from issuer.keys import PublicKey, fingerprint_hex
from issuer.receipts import KIND, RECEIPT_VERSION
from issuer.receipts import SIGNED_MESSAGE as RECEIPT_SIGNED_MESSAGE
from issuer.record import SCHEMA_VERSION as RECORD_SCHEMA_VERSION
from issuer.record import SOURCE_KIND_ARXIV, CanonicalRecord

#: Key id → the registry's key, as ``keys_used`` holds it.
Keys = Mapping[str, PublicKey]

#: The canonical record columns of a records row, after ``source_id, version``.
RECORD_COLUMNS = (
    "title_sha256",
    "abstract_sha256",
    "primary_cat",
    "cross_cats",
    "license",
    "submitted_at",
    "record_json",
)
#: The receipt columns of a records row, after ``canonical_sha256, receipt_key_id``.
RECEIPT_COLUMNS = (
    "receipt_signature",
    "receipt_signed_at",
    "receipt_first_computed_at",
    "receipt_last_reissued_at",
    "receipt_builder",
    "receipt_json",
)
#: The columns of an events row that its bytes are rebuilt from, after the row ids.
EVENT_COLUMNS = (
    "event_id",
    "target",
    "event_type",
    "prev_event",
    "created_at",
    "signature",
    "signed_at",
    "key_id",
    "signer_key_id",
    "payload",
    "event_json",
)

#: ``title_sha256 … record_json``: compact, or all ``None`` but the last.
RecordRow = tuple[
    bytes | None, bytes | None, str | None, str | None, str | None, int | None, bytes | None
]
#: ``receipt_signature … receipt_json``: compact, or all ``None`` but the last.
ReceiptRow = tuple[bytes | None, int | None, int | None, int | None, str | None, bytes | None]
#: ``event_id … event_json`` (see :data:`EVENT_COLUMNS`).
EventRow = tuple[
    str, str, str, str, str, bytes | None, int | None, str | None, str | None, bytes | None,
    bytes | None,
]  # fmt: skip

RECORD_CREATED = "record_created"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_SECOND = timedelta(seconds=1)
# A malformed object is what the fallback is for: any of these means "store it whole".
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, FormatError, binascii.Error)


class RecordContext:
    """What a record row gives the rebuild of its receipt and ``record_created`` event.

    The record's and receipt's JSON may be given as functions that rebuild
    them, called the first time they are needed (most event rows need neither).
    """

    __slots__ = ("_receipt", "_record", "canonical_sha256", "pith_number", "source_id", "version")

    def __init__(  # noqa: PLR0917 - the record row's values, in the order every caller has them
        self,
        pith_number: str,
        canonical_sha256: str,
        record_json: bytes | Callable[[], bytes],
        source_id: str,
        version: int,
        receipt_json: bytes | Callable[[], bytes],
    ) -> None:
        self.pith_number = pith_number
        self.canonical_sha256 = canonical_sha256
        self.source_id = source_id
        self.version = version
        self._record = record_json
        self._receipt = receipt_json

    @property
    def record_json(self) -> bytes:
        """The canonical record's JSON."""
        if not isinstance(self._record, bytes):
            self._record = self._record()
        return self._record

    @property
    def receipt_json(self) -> bytes:
        """The record's current receipt, as rebuilt."""
        if not isinstance(self._receipt, bytes):
            self._receipt = self._receipt()
        return self._receipt


@functools.lru_cache(maxsize=4096)
def seconds(text: str) -> int:
    """A seconds wire time as seconds since the epoch."""
    return (parse_seconds(text) - _EPOCH) // _SECOND


@functools.lru_cache(maxsize=4096)  # a run's receipts share their times
def micros(text: str) -> int:
    """A microsecond wire time as microseconds since the epoch."""
    return (parse_micros(text) - _EPOCH) // _MICROSECOND


@functools.lru_cache(maxsize=4096)
def wire_micros(value: int) -> str:
    """Microseconds since the epoch as a microsecond wire time."""
    return format_micros(_EPOCH + value * _MICROSECOND)


def _signature(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@functools.lru_cache(maxsize=64)  # a registry signs with a handful of keys
def _fingerprint(raw: bytes) -> str:
    """:attr:`PublicKey.fingerprint` of the key ``raw``, hashed once per key."""
    return fingerprint_hex(raw)


def _key(keys: Keys, key_id: str) -> PublicKey:
    key = keys.get(key_id)
    if key is None:
        raise StoreError(
            f"the registry's key {key_id!r} is missing from keys_used",
            hint="restore the registry from a backup",
        )
    return key


# -- records -----------------------------------------------------------------


def record_bytes(source_id: str, version: int, row: RecordRow) -> bytes:
    """The canonical record's JSON, rebuilt from its row (or its fallback column)."""
    if row[6] is not None:
        return bytes(row[6])
    return cjson.dumps_parsed(record_object(source_id, version, row))


def record_object(source_id: str, version: int, row: RecordRow) -> dict[str, Any]:
    """The canonical record a compact row holds, as an object: what :func:`record_bytes` writes."""
    title, abstract, primary, cross, license_url, submitted, _ = row
    assert title is not None and abstract is not None and submitted is not None  # noqa: S101 - schema invariant
    return {
        "metadata": {
            "abstract_canon_sha256": bytes(abstract).hex(),
            "cross_cats_sorted": cross.split(" ") if cross else [],
            "license": license_url,
            "primary_cat": primary,
            "submitted_at": format_seconds(_EPOCH + submitted * _SECOND),
            "title_canon_sha256": bytes(title).hex(),
        },
        "schema_version": RECORD_SCHEMA_VERSION,
        "source": {"id": source_id, "kind": SOURCE_KIND_ARXIV, "version": version},
    }


def record_candidate(record: CanonicalRecord) -> RecordRow:
    """The compact row of a record built by this toolkit, unchecked (see :func:`checked_record`)."""
    return (
        bytes.fromhex(record.title_canon_sha256),
        bytes.fromhex(record.abstract_canon_sha256),
        record.primary_cat,
        " ".join(record.cross_cats_sorted),
        record.license,
        seconds(record.submitted_at),
        None,
    )


def checked_record(
    candidate: RecordRow, record_json: bytes, source_id: str, version: int
) -> RecordRow:
    """``candidate`` if it rebuilds to ``record_json``, else the JSON itself."""
    full: RecordRow = (None, None, None, None, None, None, record_json)
    if candidate[6] is not None:
        return full
    try:
        rebuilt = record_bytes(source_id, version, candidate)
    except _MALFORMED:
        return full
    return candidate if rebuilt == record_json else full


def record_row(record_json: bytes, source_id: str, version: int) -> RecordRow:
    """The row of a stored record: compact if it rebuilds to ``record_json``, else whole."""
    full: RecordRow = (None, None, None, None, None, None, record_json)
    try:
        record = CanonicalRecord.from_dict(cjson.loads(record_json))
        candidate = record_candidate(record)
    except _MALFORMED:
        return full
    return checked_record(candidate, record_json, source_id, version)


# -- receipts ----------------------------------------------------------------


def receipt_bytes(canonical_sha256: str, key_id: str, row: ReceiptRow, keys: Keys) -> bytes:
    """The receipt's canonical JSON, rebuilt from its row (or its fallback column).

    Raises:
        StoreError: the row names a key that ``keys_used`` does not hold.
    """
    if row[5] is not None:
        return bytes(row[5])
    return cjson.dumps_parsed(receipt_object(canonical_sha256, key_id, row, keys))


def receipt_object(
    canonical_sha256: str, key_id: str, row: ReceiptRow, keys: Keys
) -> dict[str, Any]:
    """The receipt a compact row holds, as an object: what :func:`receipt_bytes` writes.

    Raises:
        StoreError: the row names a key that ``keys_used`` does not hold.
    """
    signature, signed_at, first, last, builder, _ = row
    assert signature is not None and signed_at is not None and builder is not None  # noqa: S101 - schema invariant
    stamp = wire_micros(signed_at)
    return {
        "algorithm": ALGORITHM,
        "builder_version": builder,
        "canonical_sha256": canonical_sha256,
        "first_computed_at": stamp if first is None else wire_micros(first),
        "key_id": key_id,
        "kind": KIND,
        "last_reissued_at": stamp if last is None else wire_micros(last),
        "public_key_fingerprint": _fingerprint(_key(keys, key_id).raw),
        "receipt_version": RECEIPT_VERSION,
        "signature_b64": _signature(bytes(signature)),
        "signature_status": SIGNATURE_STATUS,
        "signed_at": stamp,
        "signed_message": RECEIPT_SIGNED_MESSAGE,
    }


def receipt_candidate(receipt: dict[str, Any], receipt_json: bytes) -> ReceiptRow:
    """The compact row of a receipt, unchecked (see :func:`checked_receipt`); malformed: whole."""
    try:
        signed_at = micros(receipt["signed_at"])
        first = micros(receipt["first_computed_at"])
        last = micros(receipt["last_reissued_at"])
        builder = receipt["builder_version"]
        if isinstance(builder, str):
            return (
                base64.b64decode(receipt["signature_b64"], validate=True),
                signed_at,
                None if first == signed_at else first,
                None if last == signed_at else last,
                builder,
                None,
            )
    except _MALFORMED:
        pass
    return (None, None, None, None, None, receipt_json)


def checked_receipt(
    candidate: ReceiptRow, receipt_json: bytes, canonical_sha256: str, key_id: str, keys: Keys
) -> ReceiptRow:
    """``candidate`` if it rebuilds to ``receipt_json`` under ``keys``, else the JSON itself."""
    full: ReceiptRow = (None, None, None, None, None, receipt_json)
    if candidate[5] is not None or key_id not in keys:
        return full
    try:
        rebuilt = receipt_bytes(canonical_sha256, key_id, candidate, keys)
    except _MALFORMED:
        return full
    return candidate if rebuilt == receipt_json else full


def _parse(data: bytes) -> Any:
    """A stored object's values, to split into columns (``None``: not JSON).

    Not the strict parse: the columns are kept only if they rebuild the very
    bytes, so anything odd that a looser parse lets through is kept whole.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def receipt_row(receipt_json: bytes, canonical_sha256: str, key_id: str, keys: Keys) -> ReceiptRow:
    """The row of a stored receipt: compact if it rebuilds to ``receipt_json``, else whole."""
    receipt = _parse(receipt_json)
    candidate = receipt_candidate(receipt, receipt_json) if isinstance(receipt, dict) else None
    if candidate is None:
        return (None, None, None, None, None, receipt_json)
    return checked_receipt(candidate, receipt_json, canonical_sha256, key_id, keys)


# -- events ------------------------------------------------------------------


def record_payload(context: RecordContext) -> bytes:
    """The payload of a ``record_created`` event, as issuance builds it from the record row."""
    # Keys in canonical order; each value is canonical JSON already.
    return b"".join(
        (
            b'{"attestation_state":"computed","canonical_record":',
            context.record_json,
            b',"canonical_sha256":',
            cjson.dumps_parsed(context.canonical_sha256),
            b',"receipt":',
            context.receipt_json,
            b',"source_id":',
            cjson.dumps_parsed(context.source_id),
            b',"source_kind":',
            cjson.dumps_parsed(SOURCE_KIND_ARXIV),
            b',"source_version":',
            str(context.version).encode("ascii"),
            b"}",
        )
    )


def event_bytes(row: EventRow, context: RecordContext, keys: Keys) -> bytes:
    """An event's canonical JSON, rebuilt from its row and its record's (or its fallback column).

    Raises:
        StoreError: the row names a key that ``keys_used`` does not hold.
    """
    if row[10] is not None:
        return bytes(row[10])
    head, tail = event_halves(row, context, keys)
    return with_payload(head, record_payload(context) if row[9] is None else bytes(row[9]), tail)


def with_payload(head: dict[str, Any], payload: bytes, tail: dict[str, Any]) -> bytes:
    """An event's canonical JSON from its fields before ``payload``, the payload's, and after.

    Canonical key order puts ``payload`` between ``event_type`` and
    ``prev_event``: the two halves are serialized apart and the payload's
    canonical bytes spliced between them.
    """
    head_json, tail_json = cjson.dumps_parsed(head), cjson.dumps_parsed(tail)
    return b"".join((head_json[:-1], b',"payload":', payload, b",", tail_json[1:]))


def record_created_object(
    row: EventRow,
    context: RecordContext,
    keys: Keys,
    record: dict[str, Any],
    receipt: tuple[str, ReceiptRow],
) -> dict[str, Any]:
    """A compact ``record_created`` event as an object: ``cjson.loads`` of its :func:`event_bytes`.

    For an event row that leaves its payload to the record row (``payload``
    and ``event_json`` ``NULL``) of a record and receipt stored compact:
    ``record`` is :func:`record_object` of the record row, ``receipt`` the
    receipt's key id and row. Every part is what :func:`event_bytes` serializes, so the
    object is the one parsing those bytes gives, keys in the same (canonical)
    order; ``tests/unit/test_publish_sources.py`` compares the two.

    Raises:
        StoreError: the rows name a key that ``keys_used`` does not hold.
    """
    head, tail = event_halves(row, context, keys)
    payload = {
        "attestation_state": "computed",
        "canonical_record": record,
        "canonical_sha256": context.canonical_sha256,
        "receipt": receipt_object(context.canonical_sha256, *receipt, keys),
        "source_id": context.source_id,
        "source_kind": SOURCE_KIND_ARXIV,
        "source_version": context.version,
    }
    # The signer's fields as parsing gives them: in canonical (sorted) order.
    tail["signer"] = dict(sorted(tail["signer"].items()))
    return {**head, "payload": payload, **tail}


def event_halves(
    row: EventRow, context: RecordContext, keys: Keys
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An event's fields before ``payload`` in canonical order, and after it (a compact row).

    Raises:
        StoreError: the row names a key that ``keys_used`` does not hold.
    """
    event_id, target, event_type, prev, created_at, signature, signed_at, key_id = row[:8]
    signer_key_id = row[8]
    assert signature is not None and signed_at is not None and key_id is not None  # noqa: S101 - schema invariant
    key = _key(keys, key_id)
    signer = key if signer_key_id is None else _key(keys, signer_key_id)
    head: dict[str, Any] = {
        "content_sha256": event_id.removeprefix(EVENT_ID_PREFIX),
        "created_at": created_at,
        "event_id": event_id,
        "event_type": event_type,
    }
    tail: dict[str, Any] = {
        "prev_event": prev or None,
        "schema_version": EVENT_SCHEMA_VERSION,
        "signature": {
            "algorithm": ALGORITHM,
            "key_id": key_id,
            "public_key_fingerprint": _fingerprint(key.raw),
            "signature_b64": _signature(bytes(signature)),
            "signature_status": SIGNATURE_STATUS,
            "signed_at": wire_micros(signed_at),
            "signed_message": EVENT_SIGNED_MESSAGE,
        },
        "signer": signer.signer_dict(),
        "subject_pith_number": context.pith_number,
        "supersedes": [],
        "target": target,
    }
    return head, tail


def event_candidate(event: dict[str, Any], event_json: bytes) -> EventRow:
    """The compact row of an event, unchecked (see :func:`checked_event`); malformed: whole.

    A ``record_created`` event's payload is left to its record row; any other's is kept.
    """
    columns = (
        event["event_id"],
        event["target"],
        event["event_type"],
        event["prev_event"] or "",
        event["created_at"],
    )
    try:
        signature = event["signature"]
        key_id = signature["key_id"]
        signer_key_id = event["signer"]["key_id"]
        if isinstance(key_id, str) and isinstance(signer_key_id, str):
            return (
                *columns,
                base64.b64decode(signature["signature_b64"], validate=True),
                micros(signature["signed_at"]),
                key_id,
                None if signer_key_id == key_id else signer_key_id,
                None if event["event_type"] == RECORD_CREATED else cjson.dumps(event["payload"]),
                None,
            )
    except _MALFORMED:
        pass
    return (*columns, None, None, None, None, None, event_json)


def checked_event(
    candidate: EventRow,
    event_json: bytes,
    context: RecordContext,
    keys: Keys,
    payload: Any = None,
    *,
    kept_first: bool = False,
) -> EventRow:
    """``candidate`` if it rebuilds to ``event_json``, else the JSON itself.

    ``payload``: the event's payload, to keep with the row where the
    candidate leaves it to the record row and the record row does not
    rebuild it (a ``record_created`` event whose receipt was re-signed since).
    ``kept_first``: try that first (the row keeps its payload already).
    """
    full: EventRow = (*candidate[:5], None, None, None, None, None, event_json)
    if candidate[10] is not None:
        return full
    key_id, signer_key_id = candidate[7], candidate[8]
    if key_id not in keys or (signer_key_id is not None and signer_key_id not in keys):
        return full
    try:
        tries = [candidate]
        if candidate[9] is None and payload is not None:
            # Not the validating dump: whatever it writes is kept only if it rebuilds the bytes.
            kept: EventRow = (*candidate[:9], cjson.dumps_parsed(payload), None)
            tries.insert(0 if kept_first else 1, kept)
        for row in tries:
            if event_bytes(row, context, keys) == event_json:
                return row
    except _MALFORMED:
        pass
    return full


def event_row(
    event_json: bytes, context: RecordContext, keys: Keys, *, kept_first: bool = False
) -> EventRow:
    """The row of a stored event: compact if it rebuilds to ``event_json``, else whole.

    Raises:
        FormatError: ``event_json`` is not canonical JSON of an object with an
            event's columns (the registry never held such a row).
    """
    event = _parse(event_json)
    if not isinstance(event, dict):
        raise FormatError("a stored event is not a JSON object")
    try:
        candidate = event_candidate(event, event_json)
    except _MALFORMED as e:
        raise FormatError(f"a stored event lacks its columns: {e}") from e
    return checked_event(
        candidate, event_json, context, keys, event.get("payload"), kept_first=kept_first
    )
