"""The registry's transparency-log tables: leaves, signed checkpoints, what each tree serves.

The leaves are sequenced by :meth:`~issuer.store._sql.SqlStore.write_records`
and :meth:`~issuer.store._sql.SqlStore.append_event`, inside the issuing
transaction; what they mean and how checkpoints, tiles and proofs are made of
them is :mod:`issuer.tlog`'s.
"""

from __future__ import annotations

from collections.abc import Iterator

from issuer.identifiers import PithNumber
from issuer.store._schema import TABLE, leaf_entry
from issuer.store._tables import Tables, next_id
from issuer.tlog import StoredCheckpoint

# A leaf and what its entry is rebuilt from: its record's number and digest, its event's id.
_LEAVES = (
    "SELECT l.leaf_index, r.year, r.code, r.canonical_sha256, e.event_id FROM log_leaves l "
    "JOIN records r ON r.id=l.record_id LEFT JOIN events e ON e.id=l.event_row "
)

# A record's leaves through the keys that hold them (schema 5 has no index of leaves by
# record): its own leaf (log_record_leaf), then its events' (the chain-slot key's record_id,
# then log_event_leaf).
_LEAVES_OF = (
    "SELECT l.leaf_index, r.year, r.code, r.canonical_sha256, CAST(NULL AS TEXT) "
    "FROM log_leaves l JOIN records r ON r.id=l.record_id "
    "WHERE l.record_id=? AND l.event_row IS NULL "
    "UNION ALL "
    "SELECT l.leaf_index, r.year, r.code, r.canonical_sha256, e.event_id FROM events e "
    "JOIN log_leaves l ON l.event_row=e.id JOIN records r ON r.id=e.record_id "
    "WHERE e.record_id=? "
    "ORDER BY 1"
)


class LogTables(Tables):
    """The log's rows, a part of :class:`~issuer.store._sql.SqlStore`."""

    def _append_leaves(self, leaves: list[tuple[int, int | None]]) -> None:
        """Append (record row, event row or None) leaves; the write lock is held.

        A leaf's entry is a pure function of its record's Pith number and digest, or of
        its event's id: it is rebuilt on read, not stored.
        """
        first = self.log_size()
        self._db.load(
            "log_leaves",
            TABLE["log_leaves"].columns,
            [(first + k, *leaf) for k, leaf in enumerate(leaves)],
        )

    def log_size(self) -> int:
        """How many leaves the log holds."""
        row = self._db.execute("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM log_leaves")
        return int(row.fetchone()[0])

    def log_entries(self, start: int, stop: int) -> Iterator[bytes]:
        """The entries of leaves ``[start, stop)``, in order (rebuilt from records and events)."""
        rows = self._db.stream(
            _LEAVES + "WHERE l.leaf_index >= ? AND l.leaf_index < ? ORDER BY l.leaf_index",
            (start, stop),
        )
        for _, year, code, digest, event_id in rows:
            yield leaf_entry(str(PithNumber(year, code)), digest, event_id)

    def log_leaves_of(self, pith_number: str) -> list[tuple[int, bytes]]:
        """(leaf index, entry) of every leaf about a record, in log order."""
        record_id = self._id(pith_number)
        rows = self._db.execute(_LEAVES_OF, (record_id, record_id))
        return [
            (int(i), leaf_entry(str(PithNumber(year, code)), digest, event_id))
            for i, year, code, digest, event_id in rows
        ]

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> StoredCheckpoint:
        """Keep a signed checkpoint (the newest is the current one); returns it with its id."""
        with self._transaction():
            checkpoint_id = next_id(self._db, "log_checkpoints")
            self._db.execute(
                "INSERT INTO log_checkpoints(id, tree_size, origin, note, state, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    checkpoint_id,
                    checkpoint.tree_size,
                    checkpoint.origin,
                    checkpoint.note,
                    checkpoint.state,
                    checkpoint.created_at,
                ),
            )
        return StoredCheckpoint(
            checkpoint.tree_size,
            checkpoint.origin,
            checkpoint.note,
            checkpoint.state,
            checkpoint.created_at,
            checkpoint_id,
        )

    def checkpoints(
        self, origin: str | None = None, *, latest: bool = False
    ) -> list[StoredCheckpoint]:
        """Stored checkpoints (of ``origin``, if given), oldest first; the newest if ``latest``."""
        where = "" if origin is None else "WHERE origin=? "
        order = "ORDER BY id DESC LIMIT 1" if latest else "ORDER BY id"
        rows = self._db.execute(
            "SELECT tree_size, origin, note, state, created_at, id FROM log_checkpoints "  # noqa: S608 - constant
            + where
            + order,
            () if origin is None else (origin,),
        )
        return [
            StoredCheckpoint(int(size), o, bytes(n), bytes(st), at, int(i))
            for size, o, n, st, at, i in rows
        ]

    def checkpoint(self, checkpoint_id: int) -> StoredCheckpoint | None:
        """The stored checkpoint with this id."""
        row = self._db.execute(
            "SELECT tree_size, origin, note, state, created_at, id FROM log_checkpoints WHERE id=?",
            (checkpoint_id,),
        ).fetchone()
        if row is None:
            return None
        size, origin, note, state, at, i = row
        return StoredCheckpoint(int(size), origin, bytes(note), bytes(state), at, int(i))

    def published_checkpoint(self, tree_id: str) -> int | None:
        """The id of the checkpoint whose tiles are in place in the tree, if any."""
        row = self._db.execute(
            "SELECT log_checkpoint FROM publish_trees WHERE tree_id=?", (tree_id,)
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def mark_checkpoint_published(self, tree_id: str, checkpoint_id: int) -> None:
        """Record that the tree now serves this checkpoint and its tiles."""
        with self._transaction():
            self._db.execute(
                "UPDATE publish_trees SET log_checkpoint=? WHERE tree_id=?",
                (checkpoint_id, tree_id),
            )
