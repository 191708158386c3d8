"""Re-issuance's reads and writes: every signed object in row order, and its new signatures.

:mod:`issuer.reissue` walks the registry with :meth:`ReissueTables.signed_batch`
and stores what it re-signed with :meth:`ReissueTables.write_signatures`.
"""

from __future__ import annotations

from typing import cast

from issuer.store._compact import (
    EVENT_COLUMNS,
    RECEIPT_COLUMNS,
    RECORD_CREATED,
    EventRow,
    RecordContext,
    event_bytes,
    event_row,
    receipt_row,
    record_payload,
)
from issuer.store._rows import SignedObjects
from issuer.store._sql_rows import CONTEXT_COLUMNS, EVENT_SELECT, CompactRows, key_ids


class ReissueTables(CompactRows):
    """The signed objects re-issuance reads and rewrites, a part of the store."""

    def signed_batch(self, after: int, limit: int) -> list[SignedObjects]:
        """The receipts and events of up to ``limit`` records with row id above ``after``.

        Re-issuance walks the registry with this, in row-id order, so that it
        can stop anywhere and start again after the last committed batch. The
        objects are returned as canonical JSON, byte for byte as they were
        written, for whichever process re-signs them to parse.
        """
        rows = self._db.execute(
            f"SELECT r.id, {CONTEXT_COLUMNS} FROM records r WHERE r.id > ? "  # noqa: S608 - constants
            "ORDER BY r.id LIMIT ?",
            (after, limit),
        ).fetchall()
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
