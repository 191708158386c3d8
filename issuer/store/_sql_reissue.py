"""Re-issuance's reads and writes: every signed object in row order, and its new signatures.

:mod:`issuer.reissue` walks the registry with :meth:`ReissueTables.resign_batch`
and stores what it re-signed with :meth:`ReissueTables.write_resigned`. A
batch is the records' and events' compact rows, as stored, with the keys they
name: the process that re-signs it (a worker) rebuilds their JSON, re-signs,
and turns what it signed into compact rows again, checked to rebuild the very
bytes it signed (:class:`ResignBatch`). The writer only stores those rows.
:meth:`ReissueTables.signed_batch` and :meth:`ReissueTables.write_signatures`
are the same walk with JSON in and out, the writer doing the split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from issuer import cjson
from issuer.cjson import MAX_SAFE_INTEGER
from issuer.keys import PublicKey
from issuer.record import SOURCE_KIND_ARXIV
from issuer.store._compact import (
    EVENT_COLUMNS,
    RECEIPT_COLUMNS,
    RECORD_COLUMNS,
    RECORD_CREATED,
    EventRow,
    ReceiptRow,
    RecordContext,
    RecordRow,
    checked_event,
    checked_receipt,
    event_bytes,
    event_candidate,
    event_halves,
    event_row,
    receipt_candidate,
    receipt_object,
    receipt_row,
    record_object,
    record_payload,
)
from issuer.store._rows import SignedObjects
from issuer.store._sql_rows import (
    CONTEXT_COLUMNS,
    EVENT_SELECT,
    CompactRows,
    key_ids,
    record_context,
)

#: One record's row (:data:`CONTEXT_COLUMNS`) and its events' rows (row id, columns).
_StoredRecord = tuple[int, tuple[Any, ...], list[tuple[int, EventRow]]]


#: Value types a driver returns that pickle as they are (SQLite's, and most of PostgreSQL's).
_PLAIN = frozenset({bytes, str, int, float, bool, type(None)})


def _plain(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row with ``bytes`` for any buffer the driver returned, so that it pickles."""
    if _PLAIN.issuperset(map(type, row)):  # the common case, checked without a Python loop
        return row
    return tuple(bytes(v) if isinstance(v, memoryview | bytearray) else v for v in row)


@dataclass(frozen=True)
class ResignObjects:
    """One record's signed objects, rebuilt from a :class:`ResignBatch`."""

    row_id: int
    context: RecordContext  # the record's row, as its receipt and events rebuild from it
    receipt: bytes  # canonical JSON, as stored
    events: list[tuple[int, bytes, bool]]  # (event row id, canonical JSON, row keeps payload)


@dataclass(frozen=True)
class ResignParsed:
    """One record's signed objects from a :class:`ResignBatch`, as objects where that is exact.

    A receipt or event whose rows are compact is built as an object straight
    from them (what :func:`cjson.loads` returns of the bytes they rebuild);
    anything stored whole, or holding a value the strict parse refuses, is
    left as its bytes, for the caller to parse strictly where it did before
    (:func:`loaded`), so that errors come out the same and in the same order.
    """

    row_id: int
    context: RecordContext
    receipt: dict[str, Any] | bytes
    events: list[tuple[int, dict[str, Any] | bytes, bool]]  # (row id, event, row keeps payload)


def loaded(obj: dict[str, Any] | bytes) -> Any:
    """An object of :class:`ResignParsed`: as built, or its bytes parsed strictly.

    Raises:
        FormatError: bytes that are not canonical JSON.
    """
    return obj if isinstance(obj, dict) else cjson.loads(obj)


def _record_payload_object(
    context: RecordContext, record: dict[str, Any], receipt: dict[str, Any]
) -> dict[str, Any]:
    """:func:`~issuer.store._compact.record_payload` as an object, from its parts as objects."""
    return {
        "attestation_state": "computed",
        "canonical_record": record,
        "canonical_sha256": context.canonical_sha256,
        "receipt": receipt,
        "source_id": context.source_id,
        "source_kind": SOURCE_KIND_ARXIV,
        "source_version": context.version,
    }


@dataclass(frozen=True)
class ResignBatch:
    """Records' compact rows as stored, and the keys they name: what a re-signing process needs.

    Plain values only, so that a batch pickles to a worker process, which
    rebuilds the JSON (:meth:`objects`) and makes the new rows
    (:meth:`receipt_row`, :meth:`event_row`) there, off the writer.
    """

    keys: dict[str, PublicKey]
    records: list[_StoredRecord]

    @property
    def last_row_id(self) -> int:
        """The row id of the batch's last record (the next batch starts after it)."""
        return self.records[-1][0]

    def signed_by(self, key_id: str) -> bool:
        """Whether every receipt and event row of the batch names ``key_id`` (compact rows only).

        Such a batch most likely holds nothing to re-sign: it is not worth a
        worker process (re-signing still checks each object, wherever it runs).
        """
        for _, context_row, events in self.records:
            if context_row[3] != key_id or context_row[-1] is not None:  # receipt key, whole
                return False
            if any(e[7] != key_id or e[10] is not None for _, e in events):
                return False
        return True

    def objects(self) -> Iterator[ResignObjects]:
        """Each record's receipt and events, rebuilt byte for byte as the registry holds them.

        Raises:
            StoreError: a row names a key the batch does not hold.
        """
        for row_id, context_row, events in self.records:
            context = record_context(context_row, self.keys)
            yield ResignObjects(
                row_id,
                context,
                context.receipt_json,
                [(r, event_bytes(e, context, self.keys), e[9] is not None) for r, e in events],
            )

    def parsed(self) -> Iterator[ResignParsed]:
        """:meth:`objects`, with the objects its compact rows hold built without JSON between.

        The bytes of a compact row are canonical JSON of these very objects
        (:func:`~issuer.store._compact.record_object`, ``receipt_object``,
        ``event_halves``); parsing them back strictly, the re-signing worker's
        largest cost besides signing, gives equal objects. Whatever is stored
        whole, an event keeping its own payload, or a version outside the
        strict parse's integers stays bytes (:class:`ResignParsed`).

        Raises:
            StoreError: a row names a key the batch does not hold.
        """
        for row_id, context_row, events in self.records:
            context = record_context(context_row, self.keys)
            digest, key_id, version = context_row[2], context_row[3], context_row[5]
            columns = context_row[6:]
            record_row = cast(RecordRow, tuple(columns[: len(RECORD_COLUMNS)]))
            receipt_row = cast(ReceiptRow, tuple(columns[len(RECORD_COLUMNS) :]))
            receipt: dict[str, Any] | bytes = (
                context.receipt_json
                if receipt_row[5] is not None
                else receipt_object(digest, key_id, receipt_row, self.keys)
            )
            # A record_created event built from its record row, as objects: both rows compact.
            objects = (
                isinstance(receipt, dict)
                and record_row[6] is None
                and -MAX_SAFE_INTEGER <= int(version) <= MAX_SAFE_INTEGER
            )
            parsed: list[tuple[int, dict[str, Any] | bytes, bool]] = []
            for r, e in events:
                kept = e[9] is not None
                if objects and e[10] is None and not kept:
                    assert isinstance(receipt, dict)  # noqa: S101 - objects says so
                    head, tail = event_halves(e, context, self.keys)
                    payload = _record_payload_object(
                        context,
                        record_object(context.source_id, context.version, record_row),
                        dict(receipt),  # its own copy, as a parse would give
                    )
                    parsed.append((r, {**head, "payload": payload, **tail}, False))
                else:
                    parsed.append((r, event_bytes(e, context, self.keys), kept))
            yield ResignParsed(row_id, context, receipt, parsed)

    def receipt_row(
        self, context: RecordContext, receipt: dict[str, Any], receipt_json: bytes
    ) -> ReceiptRow:
        """The row to store for a receipt just signed: compact where it rebuilds ``receipt_json``.

        ``receipt`` is the object serialized as ``receipt_json``, so nothing is parsed.
        """
        key_id = receipt["key_id"]
        candidate = receipt_candidate(receipt, receipt_json)
        return checked_receipt(candidate, receipt_json, context.canonical_sha256, key_id, self.keys)

    def event_row(
        self,
        context: RecordContext,
        event: dict[str, Any],
        event_json: bytes,
        *,
        kept_first: bool,
    ) -> EventRow:
        """The row to store for an event just re-signed: compact where it rebuilds ``event_json``.

        ``context`` is the record as it will be stored (with its new receipt, if
        it was re-signed too); ``kept_first``: the row keeps the payload itself.
        """
        candidate = event_candidate(event, event_json)
        return checked_event(
            candidate,
            event_json,
            context,
            self.keys,
            event.get("payload"),
            kept_first=kept_first,
        )


def with_receipt(context: RecordContext, receipt_json: bytes) -> RecordContext:
    """``context`` with the record's receipt replaced (it was re-signed in this batch)."""
    return RecordContext(
        context.pith_number,
        context.canonical_sha256,
        lambda: context.record_json,
        context.source_id,
        context.version,
        receipt_json,
    )


class ReissueTables(CompactRows):
    """The signed objects re-issuance reads and rewrites, a part of the store."""

    def _record_rows(self, after: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to ``limit`` records with row id above ``after``: the id, then CONTEXT_COLUMNS."""
        return self._db.execute(
            f"SELECT r.id, {CONTEXT_COLUMNS} FROM records r WHERE r.id > ? "  # noqa: S608 - constants
            "ORDER BY r.id LIMIT ?",
            (after, limit),
        ).fetchall()

    def signed_batch(self, after: int, limit: int) -> list[SignedObjects]:
        """The receipts and events of up to ``limit`` records with row id above ``after``.

        Re-issuance walks the registry with this, in row-id order, so that it
        can stop anywhere and start again after the last committed batch. The
        objects are returned as canonical JSON, byte for byte as they were
        written, for whichever process re-signs them to parse.
        """
        rows = self._record_rows(after, limit)
        if not rows:
            return []
        contexts = {row[0]: self._context(row[1:]) for row in rows}
        stored = [
            (int(row[0]), int(row[1]), cast(EventRow, tuple(row[2:])))
            for row in self._db.execute(
                f"SELECT e.id, e.record_id, {EVENT_SELECT} FROM events e "  # noqa: S608 - constants
                "WHERE e.record_id BETWEEN ? AND ? ORDER BY e.id",
                (rows[0][0], rows[-1][0]),
            )
        ]
        keys = self._keys(key_ids(e for _, _, e in stored))
        events: dict[int, list[tuple[int, bytes]]] = {}
        for row_id, record_id, columns in stored:
            event = event_bytes(columns, contexts[record_id], keys)
            events.setdefault(record_id, []).append((row_id, event))
        return [
            SignedObjects(row_id, context.receipt_json, events.get(row_id, []))
            for row_id, context in contexts.items()
        ]

    def resign_batch(self, after: int, limit: int) -> ResignBatch | None:
        """The compact rows of up to ``limit`` records with row id above ``after``, and keys.

        ``None`` past the last record. The same walk as :meth:`signed_batch`,
        but nothing is rebuilt here: whichever process re-signs the batch does it.
        """
        rows = self._record_rows(after, limit)
        if not rows:
            return None
        events: dict[int, list[tuple[int, EventRow]]] = {}
        for row in self._db.execute(
            f"SELECT e.id, e.record_id, {EVENT_SELECT} FROM events e "  # noqa: S608 - constants
            "WHERE e.record_id BETWEEN ? AND ? ORDER BY e.id",
            (rows[0][0], rows[-1][0]),
        ):
            columns = cast(EventRow, _plain(tuple(row[2:])))
            events.setdefault(int(row[1]), []).append((int(row[0]), columns))
        wanted = key_ids(e for record in events.values() for _, e in record)
        wanted.update(str(row[4]) for row in rows if row[4] is not None)
        return ResignBatch(
            dict(self._keys(wanted)),
            [(int(row[0]), _plain(tuple(row[1:])), events.get(int(row[0]), [])) for row in rows],
        )

    def write_resigned(
        self,
        receipts: list[tuple[int, str, ReceiptRow]],
        events: list[tuple[int, int, EventRow]],
    ) -> None:
        """Store re-signed receipts and events as the rows the re-signing process made, atomically.

        ``receipts``: (record row id, key id, receipt row); ``events``: (event
        row id, record row id, event row), from :meth:`ResignBatch.receipt_row`
        and :meth:`ResignBatch.event_row`, which checked that each rebuilds
        the bytes signed. Only signatures change, as in :meth:`write_signatures`.
        """
        with self._transaction():
            db = self._db
            resigned = {r for r, _, _ in receipts}
            if receipts:
                # The record_created events whose payload is rebuilt from a receipt about to
                # change keep that payload, as it is now; those rewritten below carry theirs.
                rewritten = {rec for _, rec, row in events if row[2] == RECORD_CREATED}
                kept = [r for r in resigned if r not in rewritten]
                if kept:
                    self._keep_payloads(self._contexts(kept))
                db.executemany(
                    "UPDATE records SET receipt_key_id=?, "  # noqa: S608 - constants
                    + ", ".join(f"{c}=?" for c in RECEIPT_COLUMNS)
                    + " WHERE id=?",
                    [(key_id, *row, r) for r, key_id, row in receipts],
                )
            if events:
                db.executemany(
                    "UPDATE events SET "  # noqa: S608 - constants
                    + ", ".join(f"{c}=?" for c in EVENT_COLUMNS[5:])
                    + " WHERE id=?",
                    [(*row[5:], r) for r, _, row in events],
                )
            # Published bundles carry the old signatures: publish writes them again.
            stale = resigned | {record_id for _, record_id, _ in events}
            db.executemany("DELETE FROM published WHERE record_id=?", [(r,) for r in sorted(stale)])

    def write_signatures(
        self, receipts: list[tuple[int, str, bytes]], events: list[tuple[int, bytes]]
    ) -> None:
        """Store re-signed receipts and events, atomically.

        ``receipts``: (record row id, key id, receipt JSON); ``events``: (event
        row id, event JSON). Only signatures change: an event's id and content
        are the same, which the caller guarantees by re-signing with
        :func:`issuer.events.sign_event` and checking the id. A
        ``record_created`` event keeps the receipt it was issued with in its
        payload: before its record's receipt changes, that payload is kept
        with the event.
        """
        with self._transaction():
            db = self._db
            # Each event's record, whether its row keeps its payload, and its type.
            owners = {
                row_id: (record_id, bool(kept), event_type)
                for row_id, record_id, kept, event_type in self._in_ranges(
                    "SELECT id, record_id, payload IS NOT NULL, event_type FROM events "
                    "WHERE id BETWEEN ? AND ?",
                    [r for r, _ in events],
                )
            }
            resigned = {r for r, _, _ in receipts}
            if receipts:
                contexts = self._contexts(list(resigned))
                # The record_created events whose payload is rebuilt from a receipt about to
                # change keep that payload, as it is now; those rewritten below keep it as
                # they are written.
                rewritten = {rec for rec, _, kind in owners.values() if kind == RECORD_CREATED}
                self._keep_payloads({r: c for r, c in contexts.items() if r not in rewritten})
                keys = self._keys({k for _, k, _ in receipts})
                db.executemany(
                    "UPDATE records SET receipt_key_id=?, "  # noqa: S608 - constants
                    + ", ".join(f"{c}=?" for c in RECEIPT_COLUMNS)
                    + " WHERE id=?",
                    [
                        (
                            key_id,
                            *receipt_row(receipt, contexts[r].canonical_sha256, key_id, keys),
                            r,
                        )
                        for r, key_id, receipt in receipts
                    ],
                )
            if events:
                # The records as they are now (receipts re-signed above included).
                contexts = self._contexts([record_id for record_id, _, _ in owners.values()])
                keys = self._keys()
                updates = []
                for r, event in events:
                    record_id, kept, _ = owners[r]
                    first = kept or record_id in resigned  # the record no longer rebuilds it
                    row = event_row(event, contexts[record_id], keys, kept_first=first)
                    updates.append((*row[5:], r))
                db.executemany(
                    "UPDATE events SET "  # noqa: S608 - constants
                    + ", ".join(f"{c}=?" for c in EVENT_COLUMNS[5:])
                    + " WHERE id=?",
                    updates,
                )
            # Published bundles carry the old signatures: publish writes them again.
            db.executemany(
                "DELETE FROM published WHERE record_id=?", [(r,) for r, _, _ in receipts]
            )
            db.executemany(
                "DELETE FROM published WHERE record_id=(SELECT record_id FROM events WHERE id=?)",
                [(r,) for r, _ in events],
            )

    def _keep_payloads(self, contexts: dict[int, RecordContext]) -> None:
        """Store the payload of these records' ``record_created`` events that rebuild from them."""
        pending = [
            (record_payload(contexts[record_id]), row_id)
            for record_id, row_id in self._in_ranges(
                "SELECT record_id, id FROM events WHERE record_id BETWEEN ? AND ? "
                "AND event_type=? AND payload IS NULL AND event_json IS NULL",
                list(contexts),
                (RECORD_CREATED,),
            )
        ]
        self._db.executemany("UPDATE events SET payload=? WHERE id=?", pending)
