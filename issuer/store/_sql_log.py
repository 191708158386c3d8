"""The registry's transparency-log tables: leaves, signed checkpoints, what each tree serves.

The leaves are sequenced by :meth:`~issuer.store._sql.SqlStore.write_records`
and :meth:`~issuer.store._sql.SqlStore.append_event`, inside the issuing
transaction; what they mean and how checkpoints, tiles and proofs are made of
them is :mod:`issuer.tlog`'s.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Generator, Iterator
from typing import Any

from issuer.errors import StoreError
from issuer.identifiers import PithNumber
from issuer.store._schema import leaf_entry
from issuer.store._tables import Tables, next_id
from issuer.tlog import StoredCheckpoint

# A record's leaves (schema 5: a record's own leaf is in its row, an event's leaf in the
# event's row) and what their entries are rebuilt from: the record's number and digest, the
# event's id; read through the record's id and the chain-slot key's record_id.
_LEAVES_OF = (
    "SELECT r.leaf_index, r.year, r.code, r.canonical_sha256, CAST(NULL AS TEXT) "
    "FROM records r WHERE r.id=? "
    "UNION ALL "
    "SELECT e.leaf_index, r.year, r.code, r.canonical_sha256, e.event_id FROM events e "
    "JOIN records r ON r.id=e.record_id WHERE e.record_id=? "
    "ORDER BY 1"
)
# A range of leaves: the records' and the events', each in leaf order along its own key
# (record_leaves, event_leaves), merged by the reader. One UNION ALL ... ORDER BY would do
# the same on SQLite, but PostgreSQL sorts the whole range before its first row.
_RECORD_LEAVES = (
    "SELECT r.leaf_index, r.year, r.code, r.canonical_sha256, NULL FROM records r "
    "WHERE r.leaf_index >= ? AND r.leaf_index < ? ORDER BY r.leaf_index"
)
_EVENT_LEAVES = (
    "SELECT e.leaf_index, r.year, r.code, r.canonical_sha256, e.event_id FROM events e "
    "JOIN records r ON r.id=e.record_id WHERE e.leaf_index >= ? AND e.leaf_index < ? "
    "ORDER BY e.leaf_index"
)
_LOG_SIZE = (
    "SELECT COALESCE(MAX(n) + 1, 0) FROM (SELECT MAX(leaf_index) AS n FROM records "
    "UNION ALL SELECT MAX(leaf_index) AS n FROM events) AS heads"
)


class LogTables(Tables):
    """The log's rows, a part of :class:`~issuer.store._sql.SqlStore`.

    The writer sequences leaves (:meth:`log_size` onwards, under the write lock) into the
    rows it inserts: a record's ``leaf_index``, then its ``record_created`` event's.
    """

    def log_size(self) -> int:
        """How many leaves the log holds."""
        return int(self._db.execute(_LOG_SIZE).fetchone()[0])

    def log_entries(self, start: int, stop: int) -> Iterator[bytes]:
        """The entries of leaves ``[start, stop)``, in order (rebuilt from records and events).

        The two streams are two statements: committed leaves never change, so a range
        below the log's size reads the same from both snapshots.

        Raises:
            StoreError: the leaves are not ``start``, ``start + 1``... (a leaf index
                missing, twice, or out of place: the registry was altered or damaged).
        """
        streams = (
            self._db.stream(_RECORD_LEAVES, (start, stop)),
            self._db.stream(_EVENT_LEAVES, (start, stop)),
        )
        expected = start
        try:
            for index, year, code, digest, event_id in heapq.merge(
                *streams, key=operator.itemgetter(0)
            ):
                if index != expected:
                    raise StoreError(
                        f"the log of registry {self.name} has leaf {index} where leaf "
                        f"{expected} belongs: the registry was altered or damaged",
                        hint="restore the registry from a backup; no checkpoint was signed",
                    )
                expected += 1
                yield leaf_entry(str(PithNumber(year, code)), digest, event_id)
        finally:  # a stream left where it stopped holds its cursor open
            for stream in streams:
                if isinstance(stream, Generator):
                    stream.close()

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
        return [_checkpoint(self.name, row) for row in rows]

    def checkpoint(self, checkpoint_id: int) -> StoredCheckpoint | None:
        """The stored checkpoint with this id."""
        row = self._db.execute(
            "SELECT tree_size, origin, note, state, created_at, id FROM log_checkpoints WHERE id=?",
            (checkpoint_id,),
        ).fetchone()
        return None if row is None else _checkpoint(self.name, row)

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


def _checkpoint(registry: str, row: tuple[Any, ...]) -> StoredCheckpoint:
    """A ``log_checkpoints`` row (``tree_size, origin, note, state, created_at, id``).

    Raises:
        StoreError: a column of the wrong type (the registry was altered or damaged).
    """
    size, origin, note, state, at, i = row
    try:
        return StoredCheckpoint(int(size), origin, bytes(note), bytes(state), at, int(i))
    except (TypeError, ValueError) as e:
        raise StoreError(
            f"checkpoint {i} of registry {registry} cannot be read: {e}",
            hint="the registry was altered or damaged: restore it from a backup",
        ) from e
