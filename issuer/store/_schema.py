"""The registry's schema: one list of migrations that every backend applies the same way.

The SQL is SQLite's; :meth:`issuer.store._db.Db.ddl` turns a statement into its
backend's dialect (PostgreSQL: ``BIGINT``, ``BYTEA``, bytewise ``TEXT``), so
both backends hold the same tables, columns, keys and indexes at the same
version. A migration and its backfill run in one transaction with the
version bump: a crash leaves the registry at the version before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from issuer.identifiers import PithNumber
from issuer.store._db import Db
from issuer.tlog import event_entry, record_entry

SCHEMA_VERSION = 3

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        year INTEGER NOT NULL,
        code TEXT NOT NULL UNIQUE,
        source_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        canonical_sha256 TEXT NOT NULL,
        canonical_record BLOB NOT NULL,
        issued_at TEXT NOT NULL,
        receipt_key_id TEXT NOT NULL,
        receipt BLOB NOT NULL,
        UNIQUE (source_id, version)
    );
    -- Where the unversioned arXiv id pointed and when: one row per record, until = NULL
    -- on the current one. Versioned ids and DOIs resolve through records directly.
    CREATE TABLE arxiv_alias (
        source_id TEXT NOT NULL,
        record_id INTEGER NOT NULL REFERENCES records(id),
        since TEXT NOT NULL,
        until TEXT,
        PRIMARY KEY (source_id, record_id)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        record_id INTEGER NOT NULL REFERENCES records(id),
        event_id TEXT NOT NULL,
        target TEXT NOT NULL,
        event_type TEXT NOT NULL,
        prev_event TEXT NOT NULL,
        created_at TEXT NOT NULL,
        body BLOB NOT NULL,  -- zlib-compressed canonical JSON of the whole event
        -- Event ids hash their subject, so they are unique per record and hence globally.
        UNIQUE (record_id, event_id),
        -- One event per chain slot: a second writer appending to the same head fails here.
        UNIQUE (record_id, target, prev_event)
    );
    CREATE TABLE keys_used (
        key_id TEXT PRIMARY KEY,
        record BLOB NOT NULL
    );
    CREATE TABLE short_collisions (
        alias_kind TEXT NOT NULL,
        alias_value TEXT NOT NULL,
        pith_number TEXT NOT NULL,
        detected_at TEXT NOT NULL,
        PRIMARY KEY (alias_kind, alias_value, pith_number)
    );
    """,
    # 2: what each published tree holds, so that publishing resumes where it stopped and a
    # run with nothing to do touches no record; the title as issued, for the published pages.
    2: """
    ALTER TABLE records ADD COLUMN title TEXT;
    -- One row per static tree (its id lives in the tree's .pith-publish.json).
    CREATE TABLE publish_trees (
        tree_id TEXT PRIMARY KEY,
        outdir TEXT NOT NULL
    );
    -- A record whose files are in place in a tree, with what they were built from.
    -- Written after the files, deleted when the record's events or signatures change.
    CREATE TABLE published (
        tree_id TEXT NOT NULL REFERENCES publish_trees(tree_id) ON DELETE CASCADE,
        record_id INTEGER NOT NULL REFERENCES records(id),
        state_sha256 TEXT NOT NULL,
        base_url TEXT NOT NULL,
        settings_sha256 TEXT NOT NULL,
        title TEXT,
        PRIMARY KEY (tree_id, record_id)
    ) WITHOUT ROWID;
    CREATE INDEX published_by_record ON published(record_id);
    """,
    # 3: the transparency log (issue 16): one leaf per record version and per event, in
    # issuance order, sequenced in the issuing transaction; signed checkpoints with the tree
    # state that lets the next one hash only the new leaves; what each tree published of it.
    3: """
    CREATE TABLE log_leaves (
        leaf_index INTEGER PRIMARY KEY,  -- 0, 1, 2...: the leaf's index in the tree
        record_id INTEGER NOT NULL REFERENCES records(id),
        event_row INTEGER UNIQUE REFERENCES events(id),  -- NULL: the record's own leaf
        entry BLOB NOT NULL  -- canonical JSON of the leaf entry (issuer.tlog record_entry...)
    );
    CREATE INDEX log_leaves_by_record ON log_leaves(record_id);
    CREATE UNIQUE INDEX log_record_leaf ON log_leaves(record_id) WHERE event_row IS NULL;
    CREATE TABLE log_checkpoints (
        id INTEGER PRIMARY KEY,
        tree_size INTEGER NOT NULL,
        origin TEXT NOT NULL,
        note BLOB NOT NULL,  -- the signed checkpoint as served
        state BLOB NOT NULL,  -- the tree state at tree_size (issuer.tlog encode_state)
        created_at TEXT NOT NULL
    );
    ALTER TABLE publish_trees ADD COLUMN log_checkpoint INTEGER REFERENCES log_checkpoints(id);
    """,
}


Row = tuple[Any, ...]
Key = tuple[Any, ...]


@dataclass(frozen=True)
class Table:
    """One registry table: its name, every column, and its primary key columns."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]

    def key_of(self, row: Row) -> Key:
        """The primary key of one of this table's rows (as read by :class:`RawTables`)."""
        return tuple(row[self.columns.index(c)] for c in self.key)


#: Every table, parents before children (each batch is written with foreign keys enforced).
TABLES: tuple[Table, ...] = (
    Table(
        "records",
        (
            "id",
            "year",
            "code",
            "source_id",
            "version",
            "canonical_sha256",
            "canonical_record",
            "issued_at",
            "receipt_key_id",
            "receipt",
            "title",
        ),
        ("id",),
    ),
    Table(
        "events",
        (
            "id",
            "record_id",
            "event_id",
            "target",
            "event_type",
            "prev_event",
            "created_at",
            "body",
        ),
        ("id",),
    ),
    Table("arxiv_alias", ("source_id", "record_id", "since", "until"), ("source_id", "record_id")),
    Table("keys_used", ("key_id", "record"), ("key_id",)),
    Table(
        "short_collisions",
        ("alias_kind", "alias_value", "pith_number", "detected_at"),
        ("alias_kind", "alias_value", "pith_number"),
    ),
    Table("log_leaves", ("leaf_index", "record_id", "event_row", "entry"), ("leaf_index",)),
    Table("log_checkpoints", ("id", "tree_size", "origin", "note", "state", "created_at"), ("id",)),
    Table("publish_trees", ("tree_id", "outdir", "log_checkpoint"), ("tree_id",)),
    Table(
        "published",
        ("tree_id", "record_id", "state_sha256", "base_url", "settings_sha256", "title"),
        ("tree_id", "record_id"),
    ),
)

#: Each table by name.
TABLE = {t.name: t for t in TABLES}


def _backfill_log(db: Db) -> None:
    """Migration 3: a leaf for every record and event issued before the log, in issuance order.

    Runs inside the migration's transaction, so a crash leaves the registry at
    schema 2 with no leaf, and the next open backfills again. Issuance order
    is reconstructed from row ids: events in id order, each record's own leaf
    just before the first event about it (its ``record_created``), as
    :meth:`~issuer.store.Store.write_records` sequences new ones. Rows are
    streamed and written in slices, so memory stays flat on a registry of millions.
    """

    def leaves() -> Iterator[tuple[int, int, int | None, bytes]]:
        logged: set[int] = set()
        index = 0
        rows = db.stream(
            "SELECT e.id, e.record_id, e.event_id, r.year, r.code, r.canonical_sha256 "
            "FROM events e JOIN records r ON r.id=e.record_id ORDER BY e.id"
        )
        for row, record_id, event_id, year, code, digest in rows:
            number = str(PithNumber(year, code))
            if record_id not in logged:
                logged.add(record_id)
                yield index, record_id, None, record_entry(number, digest)
                index += 1
            yield index, record_id, row, event_entry(number, event_id)
            index += 1
        # Records without any event (rows written by hand): logged last, in row order.
        rest = db.execute(
            "SELECT r.id, r.year, r.code, r.canonical_sha256 FROM records r WHERE NOT EXISTS "
            "(SELECT 1 FROM events e WHERE e.record_id=r.id) ORDER BY r.id"
        ).fetchall()
        for record_id, year, code, digest in rest:
            yield index, record_id, None, record_entry(str(PithNumber(year, code)), digest)
            index += 1

    pending: list[tuple[int, int, int | None, bytes]] = []
    for leaf in leaves():
        pending.append(leaf)
        if len(pending) == _SLICE:
            _insert_leaves(db, pending)
            pending = []
    _insert_leaves(db, pending)


_SLICE = 10_000


def _insert_leaves(db: Db, leaves: list[tuple[int, int, int | None, bytes]]) -> None:
    if leaves:
        db.executemany(
            "INSERT INTO log_leaves(leaf_index, record_id, event_row, entry) VALUES (?, ?, ?, ?)",
            leaves,
        )


BACKFILLS: dict[int, Callable[[Db], None]] = {3: _backfill_log}
