"""The registry's record of its static trees: which files of which record each tree holds.

Only :mod:`issuer.publish` uses these; they let a publish run resume where
it stopped and skip every record whose files are already in place. It also
reads what a batch of records' files are built from
(:meth:`PublishTables.publish_sources`): one statement per range of row ids,
not six per record, and the ``record_created`` events, the common case, built
as objects from their compact rows rather than rebuilt as JSON and parsed.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any, cast

from issuer import cjson
from issuer.errors import FormatError
from issuer.identifiers import PithNumber
from issuer.store._compact import (
    RECORD_COLUMNS,
    EventRow,
    ReceiptRow,
    RecordRow,
    event_bytes,
    record_created_object,
    record_object,
)
from issuer.store._rows import ListedRecord, PublishedRecord, PublishRow, PublishSource
from issuer.store._schema import leaf_entry
from issuer.store._sql_rows import (
    CONTEXT_COLUMNS,
    CONTEXT_WIDTH,
    EVENT_SELECT,
    UNREADABLE,
    CompactRows,
    issued_from_row,
    key_ids,
    unreadable,
)

if TYPE_CHECKING:  # annotations only: the protocol's module imports this one's neighbours
    from issuer.store._protocol import Store

#: Off: :meth:`PublishTables.publish_sources` reads each record as it did before batching
#: (``record``, ``events_mark``, ``events``, ``log_leaves_of``): tests compare the two.
_FAST = True

# A range of records, each with its events (none: one row of NULLs), in one statement, so a
# record's receipt, its events and its newest event row are read from one snapshot.
_SOURCES = (
    f"SELECT r.id, r.leaf_index, r.issued_at, r.title, {CONTEXT_COLUMNS}, "  # noqa: S608 - constants
    f"e.id, e.leaf_index, {EVENT_SELECT} FROM records r LEFT JOIN events e ON e.record_id=r.id "
    "WHERE r.id BETWEEN ? AND ? ORDER BY r.id, e.created_at, e.event_id"
)
_CONTEXT = slice(4, 4 + CONTEXT_WIDTH)  # the CONTEXT_COLUMNS of a _SOURCES row
_RECORD = slice(4 + 6, 4 + 6 + len(RECORD_COLUMNS))  # its record columns
_RECEIPT = slice(4 + 6 + len(RECORD_COLUMNS), 4 + CONTEXT_WIDTH)  # its receipt columns
_EVENT_ROW_ID = 4 + CONTEXT_WIDTH  # then the event's leaf index, then its EVENT_SELECT
_GONE = "gone from the registry"


class PublishTables(CompactRows):
    """The published-tree rows, a part of :class:`~issuer.store._sql.SqlStore`."""

    def publish_sources(self, rows: list[PublishRow]) -> dict[int, PublishSource | FormatError]:
        """What each record's files are built from, by row id.

        A record that no longer passes is its :class:`FormatError` (as
        :meth:`record` or :meth:`events` raise it); the others are read still.

        Raises:
            StoreError: a row names a key ``keys_used`` does not hold.
        """
        if not _FAST:
            return {r.row_id: self._source_one_by_one(r) for r in rows}
        found: dict[int, PublishSource | FormatError] = {r.row_id: FormatError(_GONE) for r in rows}
        selected = self._in_ranges(_SOURCES, [r.row_id for r in rows])
        for row_id, group in groupby(selected, key=itemgetter(0)):
            rows_of = list(group)
            try:
                found[row_id] = self._source(rows_of)
            except FormatError as e:
                found[row_id] = e
            except UNREADABLE as e:
                found[row_id] = unreadable(f"pith:{rows_of[0][4]}:{rows_of[0][5]}", e)
        return found

    def _source(self, rows: list[tuple[Any, ...]]) -> PublishSource:
        first = rows[0]
        row_id, leaf_index, issued_at, title = first[:4]
        year, code, digest, receipt_key_id, source_id, version = first[4:10]
        record_row = cast(RecordRow, first[_RECORD])
        receipt_row = cast(ReceiptRow, first[_RECEIPT])
        compact = record_row[6] is None and receipt_row[5] is None
        version = int(version)
        record = record_object(source_id, version, record_row) if record_row[6] is None else None
        issued = issued_from_row(
            (year, code, issued_at, title, source_id, version, *record_row), record
        )
        number = str(issued.number)
        context = self._context(first[_CONTEXT])
        listed = [r for r in rows if r[_EVENT_ROW_ID] is not None]
        event_rows = [cast(EventRow, r[_EVENT_ROW_ID + 2 :]) for r in listed]
        keys = self._keys(key_ids(event_rows))
        events: list[dict[str, Any]] = []
        for e in event_rows:
            if compact and e[9] is None and e[10] is None:  # record_created, rebuilt from the rows
                assert record is not None  # noqa: S101 - compact says so
                events.append(
                    record_created_object(e, context, keys, record, (receipt_key_id, receipt_row))
                )
            else:
                events.append(cjson.loads(event_bytes(e, context, keys)))
        leaves = [(int(leaf_index), leaf_entry(number, digest, None))]
        leaves += [
            (int(r[_EVENT_ROW_ID + 1]), leaf_entry(number, digest, r[_EVENT_ROW_ID + 2]))
            for r in listed
        ]
        leaves.sort(key=itemgetter(0))
        mark = max((int(r[_EVENT_ROW_ID]) for r in listed), default=0)
        return PublishSource(int(row_id), issued, events, mark, leaves)

    def _source_one_by_one(self, row: PublishRow) -> PublishSource | FormatError:
        """:meth:`publish_sources` of one record, as publishing read it before batching."""
        store = cast("Store", self)  # the whole SqlStore, of which this is a part
        number = str(row.number)
        try:
            issued = store.record(number)
            if issued is None:  # pragma: no cover - the row was just read
                return FormatError(_GONE)
            mark = store.events_mark(row.row_id)  # before the events: see mark_published
            events = store.events(number)
            leaves = store.log_leaves_of(number)
        except FormatError as e:
            return e
        return PublishSource(row.row_id, issued, events, mark, leaves)

    def publish_tree(self, tree_id: str, outdir: str) -> None:
        """Register a static tree by its id; a tree made anew at ``outdir`` replaces the old one.

        The old tree's rows go with it: its files were deleted with its settings file.
        """
        with self._transaction():
            self._db.execute(
                "DELETE FROM publish_trees WHERE outdir=? AND tree_id!=?", (outdir, tree_id)
            )
            self._db.execute(
                "INSERT INTO publish_trees(tree_id, outdir) VALUES (?, ?) "
                "ON CONFLICT(tree_id) DO UPDATE SET outdir=excluded.outdir",
                (tree_id, outdir),
            )

    def publish_trees(self) -> list[tuple[str, str]]:
        """(tree id, output directory) of every static tree published from this registry."""
        rows = self._db.execute("SELECT tree_id, outdir FROM publish_trees ORDER BY tree_id")
        return [(str(t), str(o)) for t, o in rows]

    def publish_rows(self, tree_id: str, after: int, limit: int) -> list[PublishRow]:
        """Up to ``limit`` records after row id ``after``, with what ``tree_id`` holds of each."""
        rows = self._db.execute(
            "SELECT r.id, r.year, r.code, p.state_sha256, p.settings_sha256 FROM records r "
            "LEFT JOIN published p ON p.tree_id=? AND p.record_id=r.id "
            "WHERE r.id > ? ORDER BY r.id LIMIT ?",
            (tree_id, after, limit),
        )
        return [
            PublishRow(row_id, PithNumber(year, code), state, settings)
            for row_id, year, code, state, settings in rows
        ]

    def events_mark(self, row_id: int) -> int:
        """The newest event row of a record: read before its events, checked when marking."""
        row = self._db.execute(
            "SELECT COALESCE(MAX(id), 0) FROM events WHERE record_id=?", (row_id,)
        ).fetchone()
        return int(row[0])

    def mark_published(self, tree_id: str, rows: list[PublishedRecord]) -> None:
        """Record that these records' files are in place in the tree (after writing them).

        A record that gained an event since its files were built (its newest
        event row is no longer ``events_mark``) is left unmarked, so the next
        run writes it again.
        """
        with self._transaction():
            self._db.executemany(
                "INSERT INTO published(tree_id, record_id, state_sha256, base_url, "
                "settings_sha256, title) SELECT CAST(? AS TEXT), CAST(? AS BIGINT), "
                "CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT) "
                "WHERE (SELECT COALESCE(MAX(id), 0) FROM events WHERE record_id=?) = ? "
                "ON CONFLICT (tree_id, record_id) DO UPDATE SET "
                "state_sha256=excluded.state_sha256, base_url=excluded.base_url, "
                "settings_sha256=excluded.settings_sha256, title=excluded.title",
                [
                    (
                        tree_id,
                        r.row_id,
                        r.state_sha256,
                        r.base_url,
                        r.settings_sha256,
                        r.title,
                        r.row_id,
                        r.events_mark,
                    )
                    for r in rows
                ],
            )

    def unmark_published(self, tree_id: str, row_ids: list[int]) -> None:
        """Forget that these records are published in the tree (before rewriting their files)."""
        if row_ids:
            with self._transaction():
                self._db.executemany(
                    "DELETE FROM published WHERE tree_id=? AND record_id=?",
                    [(tree_id, r) for r in row_ids],
                )

    def published_years(self, tree_id: str) -> dict[int, int]:
        """Year → how many records of that year the tree holds."""
        rows = self._db.execute(
            "SELECT r.year, COUNT(*) FROM published p JOIN records r ON r.id=p.record_id "
            "WHERE p.tree_id=? GROUP BY r.year ORDER BY r.year",
            (tree_id,),
        )
        return {int(year): int(n) for year, n in rows}

    def published_listing(self, tree_id: str) -> Iterator[ListedRecord]:
        """Every record the tree holds, by year then issuance order, for the index pages."""
        rows = self._db.stream(
            "SELECT r.year, r.code, r.source_id, r.version, COALESCE(p.title, r.title) "
            "FROM published p JOIN records r ON r.id=p.record_id WHERE p.tree_id=? "
            "ORDER BY r.year, r.id",
            (tree_id,),
        )
        for year, code, source_id, version, title in rows:
            yield ListedRecord(PithNumber(year, code), source_id, version, title)
