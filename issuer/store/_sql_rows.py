"""Reading compact rows back: keys, and the record a receipt or event is rebuilt from.

Schema 4 stores a receipt or an event as what cannot be recomputed;
:mod:`issuer.store._compact` rebuilds the JSON from that and a
:class:`~issuer.store._compact.RecordContext` (the record's own row, read
here) with the keys the registry has signed with.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, cast

from issuer import cjson
from issuer.errors import FormatError, StoreError
from issuer.identifiers import PithNumber
from issuer.keys import PublicKey
from issuer.record import CanonicalRecord
from issuer.store._compact import (
    EVENT_COLUMNS,
    RECEIPT_COLUMNS,
    RECORD_COLUMNS,
    EventRow,
    Keys,
    ReceiptRow,
    RecordContext,
    RecordRow,
    checked_event,
    event_candidate,
    receipt_bytes,
    record_bytes,
)
from issuer.store._db import Db
from issuer.store._rows import IssuedRecord
from issuer.store._tables import Tables

#: What a record row gives the rebuild of its receipt and events (see :func:`record_context`).
CONTEXT_COLUMNS = (
    "r.year, r.code, r.canonical_sha256, r.receipt_key_id, r.source_id, r.version, "
    + ", ".join(f"r.{c}" for c in (*RECORD_COLUMNS, *RECEIPT_COLUMNS))
)
CONTEXT_WIDTH = 6 + len(RECORD_COLUMNS) + len(RECEIPT_COLUMNS)
#: An event row's stored columns, as selected from ``events e``.
EVENT_SELECT = ", ".join(f"e.{c}" for c in EVENT_COLUMNS)
# Where a CONTEXT_COLUMNS row holds ``receipt_json`` (after six record columns).
_RECEIPT_JSON = 6 + len(RECORD_COLUMNS) + RECEIPT_COLUMNS.index("receipt_json")


class CompactRows(Tables):
    """The keys and record contexts compact rows are rebuilt with, a part of the store."""

    def __init__(self, db: Db) -> None:
        super().__init__(db)
        self._keys_cache: dict[str, PublicKey] | None = None

    def _keys(self, missing: Iterable[str] = ()) -> dict[str, PublicKey]:
        """``keys_used`` by key id: read once, again when a key id is not in it yet."""
        cached = self._keys_cache
        if cached is None or any(k not in cached for k in missing):
            cached = {key.key_id: key for key in self.keys_used()}
            self._keys_cache = cached
        return cached

    def _context(self, row: tuple[Any, ...]) -> RecordContext:
        """A record's row (:data:`CONTEXT_COLUMNS`) as its receipt and events are rebuilt from.

        Raises:
            StoreError: the receipt names a key ``keys_used`` does not hold.
        """
        whole = row[_RECEIPT_JSON] is not None  # a receipt stored whole names no key to fetch
        return record_context(row, self._keys(() if whole else (row[3],)))

    def keys_used(self) -> list[PublicKey]:
        """Every key the registry has signed with.

        Raises:
            StoreError: a row of ``keys_used`` is not a key record (the registry was altered).
        """
        keys = []
        for key_id, record in self._db.execute("SELECT key_id, record FROM keys_used"):
            try:
                keys.append(PublicKey.from_dict(cjson.loads(record)))
            except (FormatError, *UNREADABLE) as e:
                raise StoreError(
                    f"the registry's key {key_id!r} in keys_used cannot be read: "
                    f"{e.message if isinstance(e, FormatError) else e}",
                    hint="the registry was altered or damaged: restore it from a backup",
                ) from e
        return keys

    def _checked_event(self, record_id: int, event: dict[str, Any], event_json: bytes) -> EventRow:
        """The row of an event about record ``record_id``: compact where it rebuilds exactly."""
        candidate = event_candidate(event, event_json)
        keys = self._keys(k for k in candidate[7:9] if k is not None)
        return checked_event(
            candidate, event_json, self._context_of(record_id), keys, event.get("payload")
        )

    def _context_of(self, record_id: int) -> RecordContext:
        row = self._db.execute(
            f"SELECT {CONTEXT_COLUMNS} FROM records r WHERE r.id=?",  # noqa: S608 - constants
            (record_id,),
        ).fetchone()
        return self._context(row)

    def _contexts(self, record_ids: list[int]) -> dict[int, RecordContext]:
        """The rebuild context of each record, by row id."""
        return {
            int(row[0]): self._context(row[1:])
            for row in self._in_ranges(
                f"SELECT r.id, {CONTEXT_COLUMNS} FROM records r "  # noqa: S608 - constants
                "WHERE r.id BETWEEN ? AND ?",
                record_ids,
            )
        }

    def _in_ranges(
        self, sql: str, ids: list[int], params: tuple[Any, ...] = ()
    ) -> Iterator[tuple[Any, ...]]:
        """The rows of ``sql`` (``first column BETWEEN ? AND ?``, then ``params``) for ``ids``.

        Ids are queried as ranges of near ones (a batch walks the registry in
        row-id order, so one range is the common case); rows whose first
        column is not one of ``ids`` are left out.
        """
        wanted = set(ids)
        ordered = sorted(wanted)
        start = 0
        for k in range(1, len(ordered) + 1):
            if k == len(ordered) or ordered[k] - ordered[start] > 2 * (k - start) + _SPAN:
                for row in self._db.execute(sql, (ordered[start], ordered[k - 1], *params)):
                    if row[0] in wanted:
                        yield tuple(row)
                start = k


_SPAN = 64  # ids a range may skip over: a gap this size is read rather than split


def key_ids(events: Iterable[EventRow]) -> set[str]:
    """The key ids compact event rows name (a key another writer added since is read then)."""
    return {k for e in events for k in e[7:9] if k is not None}


def record_context(row: tuple[Any, ...], keys: Keys) -> RecordContext:
    """A record's row (:data:`CONTEXT_COLUMNS`) as its receipt and events are rebuilt from.

    ``keys`` holds at least the key the receipt names, unless it is stored whole.
    """
    year, code, digest, key_id, source_id, version, *columns = row
    record = cast(RecordRow, tuple(columns[: len(RECORD_COLUMNS)]))
    receipt = cast(ReceiptRow, tuple(columns[len(RECORD_COLUMNS) :]))
    return RecordContext(
        str(PithNumber(year, code)),
        digest,
        lambda: record_bytes(source_id, int(version), record),
        source_id,
        int(version),
        lambda: receipt_bytes(digest, key_id, receipt, keys),
    )


def issued_from_row(
    row: tuple[Any, ...], record_object: dict[str, Any] | None = None
) -> IssuedRecord:
    """Decode a records row; a record this release would refuse is a :class:`FormatError`.

    The row is ``year, code, issued_at, title, source_id, version``, then
    :data:`~issuer.store._compact.RECORD_COLUMNS`.

    ``record_object``: the record as :func:`~issuer.store._compact.record_object` builds it
    from this compact row, when the caller has it: read as it is rather than serialized and
    parsed again (the same object, as ``cjson.loads`` of those bytes gives back exactly what
    was serialized; ``tests/unit/test_publish_sources.py``).

    Raises:
        FormatError: naming the record and what is wrong with it (a record issued
            by an older release under a looser grammar, or a row written by hand).
    """
    year, code, issued_at, title, source_id, version, *columns = row
    number = PithNumber(year, code)
    try:
        if record_object is None:
            record_json = record_bytes(source_id, int(version), cast(RecordRow, tuple(columns)))
            record_object = cjson.loads(record_json)
        record = CanonicalRecord.from_dict(record_object)
    except FormatError as e:
        raise FormatError(
            f"{number}: the registry holds a record that no longer passes: {e.message}",
            hint=_BROKEN_HINT,
        ) from e
    except UNREADABLE as e:
        raise unreadable(number, e) from e
    derived = PithNumber.for_record(record)
    if derived != number:
        raise FormatError(
            f"{number}: the registry holds a record that no longer passes: "
            f"the record derives {derived}",
            hint=_BROKEN_HINT,
        )
    return IssuedRecord(number, record, issued_at, title)


_BROKEN_HINT = "the other records are not affected; this one cannot be published or bundled"

#: What rebuilding a row raises when a column holds a value of the wrong type or range
#: (SQLite keeps whatever a column is given; a ``NULL`` fails the rebuild's own asserts).
UNREADABLE = (TypeError, ValueError, OverflowError, AssertionError)


def unreadable(number: object, e: Exception) -> FormatError:
    """The error of record ``number``, a row of which cannot be rebuilt (``e``, an UNREADABLE)."""
    why = f"{type(e).__name__}: {e}" if str(e) else "a column it needs is NULL"
    return FormatError(
        f"{number}: the registry holds a row that cannot be read ({why})",
        hint="the registry was altered or damaged: restore it from a backup; "
        "the other records are not affected",
    )
