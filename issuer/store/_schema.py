"""The registry's schema: one list of migrations that every backend applies the same way.

The SQL is SQLite's; :meth:`issuer.store._db.Db.ddl` turns a statement into its
backend's dialect (PostgreSQL: ``BIGINT``, ``BYTEA``, bytewise ``TEXT``), so
both backends hold the same tables, columns, keys and indexes at the same
version. A migration and its backfill run in one transaction with the
version bump: a crash leaves the registry at the version before.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from issuer import cjson
from issuer.errors import StoreError
from issuer.identifiers import PithNumber
from issuer.keys import PublicKey
from issuer.store._compact import (
    EVENT_COLUMNS,
    RECEIPT_COLUMNS,
    RECORD_COLUMNS,
    RecordContext,
    event_row,
    receipt_bytes,
    receipt_row,
    record_row,
)
from issuer.store._db import Db
from issuer.tlog import event_entry, record_entry

SCHEMA_VERSION = 5

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
    # 4: "lean" (issue 14): what can be recomputed is no longer stored. Receipts and events
    # keep their signatures, times, key ids and builder version, and are rebuilt byte-exact
    # on read (issuer.store._compact); a row the compact form does not cover keeps its full
    # JSON in receipt_json / event_json. Leaf entries are rebuilt from records and events.
    # The backfill fills these columns, then drops receipt, body and entry.
    4: """
    -- The canonical record's values (text digests as raw bytes, categories space-separated,
    -- submitted_at in seconds since the epoch), or its whole JSON in record_json.
    ALTER TABLE records ADD COLUMN title_sha256 BLOB;
    ALTER TABLE records ADD COLUMN abstract_sha256 BLOB;
    ALTER TABLE records ADD COLUMN primary_cat TEXT;
    ALTER TABLE records ADD COLUMN cross_cats TEXT;
    ALTER TABLE records ADD COLUMN license TEXT;
    ALTER TABLE records ADD COLUMN submitted_at INTEGER;
    ALTER TABLE records ADD COLUMN record_json BLOB;
    -- Times in microseconds since the epoch. A NULL receipt time: the same as signed_at.
    ALTER TABLE records ADD COLUMN receipt_signature BLOB;
    ALTER TABLE records ADD COLUMN receipt_signed_at INTEGER;
    ALTER TABLE records ADD COLUMN receipt_first_computed_at INTEGER;
    ALTER TABLE records ADD COLUMN receipt_last_reissued_at INTEGER;
    ALTER TABLE records ADD COLUMN receipt_builder TEXT;
    -- The whole receipt, where its compact form does not rebuild it (then the rest is NULL).
    ALTER TABLE records ADD COLUMN receipt_json BLOB;
    ALTER TABLE events ADD COLUMN signature BLOB;
    ALTER TABLE events ADD COLUMN signed_at INTEGER;
    -- key_id signed the event, signer_key_id is its signer object's key (NULL: key_id).
    ALTER TABLE events ADD COLUMN key_id TEXT;
    ALTER TABLE events ADD COLUMN signer_key_id TEXT;
    -- The payload as canonical JSON (NULL: a record_created payload, from the record row).
    ALTER TABLE events ADD COLUMN payload BLOB;
    -- The whole event, where its compact form does not rebuild it (then the rest is NULL).
    ALTER TABLE events ADD COLUMN event_json BLOB
    """,
    # 5: fewer rows and keys per record (issue 14). A leaf's index moves into its record's or
    # its event's row (records.leaf_index, events.leaf_index, each unique), and log_leaves,
    # two rows and four keys per record, goes: the writer allocates leaves from the log's
    # size under the write lock, as it did. An event's id hashes its record, target and
    # prev_event (spec §7), so the chain-slot key (record_id, target, prev_event) already
    # refuses a record's event id twice: UNIQUE (record_id, event_id), the largest index
    # (an event id is 71 characters), goes. arxiv_alias holds one row per record, with the
    # record's own arXiv id: it is keyed by record (SQLite's row id) and found by arXiv id
    # through records' (source_id, version). SQLite drops a table's key only with the table,
    # so events and arxiv_alias are rebuilt, ids and rows unchanged, keys named (PostgreSQL
    # would name them after the _v5 tables). The backfill checks that every leaf moved, then
    # drops log_leaves and the old events.
    5: """
    CREATE TABLE events_v5 (
        id INTEGER CONSTRAINT event_rows PRIMARY KEY,
        record_id INTEGER NOT NULL REFERENCES records(id),
        leaf_index INTEGER NOT NULL CONSTRAINT event_leaves UNIQUE,  -- its leaf in the log
        event_id TEXT NOT NULL,
        target TEXT NOT NULL,
        event_type TEXT NOT NULL,
        prev_event TEXT NOT NULL,
        created_at TEXT NOT NULL,
        signature BLOB,
        signed_at INTEGER,
        key_id TEXT,
        signer_key_id TEXT,
        payload BLOB,
        event_json BLOB,
        -- One event per chain slot: a second writer appending to the same head fails here.
        CONSTRAINT event_chain_slots UNIQUE (record_id, target, prev_event)
    );
    INSERT INTO events_v5 (id, record_id, leaf_index, event_id, target, event_type, prev_event,
        created_at, signature, signed_at, key_id, signer_key_id, payload, event_json)
    SELECT e.id, e.record_id, l.leaf_index, e.event_id, e.target, e.event_type, e.prev_event,
        e.created_at, e.signature, e.signed_at, e.key_id, e.signer_key_id, e.payload,
        e.event_json
    FROM events e JOIN log_leaves l ON l.event_row = e.id;
    -- The record's own leaf (NULL only in a registry whose log lacks it: the backfill stops).
    ALTER TABLE records ADD COLUMN leaf_index INTEGER;
    UPDATE records SET leaf_index = (SELECT l.leaf_index FROM log_leaves l
        WHERE l.record_id = records.id AND l.event_row IS NULL);
    CREATE UNIQUE INDEX record_leaves ON records(leaf_index);
    CREATE TABLE arxiv_alias_v5 (
        source_id TEXT NOT NULL,
        record_id INTEGER CONSTRAINT arxiv_alias_records PRIMARY KEY REFERENCES records(id),
        since TEXT NOT NULL,
        until TEXT
    );
    INSERT INTO arxiv_alias_v5 (source_id, record_id, since, until)
    SELECT source_id, record_id, since, until FROM arxiv_alias;
    DROP TABLE arxiv_alias;
    ALTER TABLE arxiv_alias_v5 RENAME TO arxiv_alias
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
            "issued_at",
            "receipt_key_id",
            "title",
            *RECORD_COLUMNS,
            *RECEIPT_COLUMNS,
            "leaf_index",
        ),
        ("id",),
    ),
    Table(
        "events",
        (
            "id",
            "record_id",
            "leaf_index",
            *EVENT_COLUMNS,
        ),
        ("id",),
    ),
    Table("arxiv_alias", ("source_id", "record_id", "since", "until"), ("record_id",)),
    Table("keys_used", ("key_id", "record"), ("key_id",)),
    Table(
        "short_collisions",
        ("alias_kind", "alias_value", "pith_number", "detected_at"),
        ("alias_kind", "alias_value", "pith_number"),
    ),
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


def _backfill_lean(db: Db) -> None:
    """Migration 4: each receipt and event as its compact row, then the recomputable columns go.

    Runs inside the migration's transaction, so a crash leaves the registry at
    schema 3, whole. Rows are read in id slices (keyset pagination) and
    updated slice by slice, so memory stays flat on a registry of millions. A
    receipt or event whose compact form does not rebuild to its stored bytes
    keeps them in its fallback column; a leaf entry that is not the one its
    record or event rebuilds (a row written by hand) stops the migration.

    Raises:
        StoreError: a leaf entry differs from its rebuild (the registry is left at schema 3).
    """
    keys = {
        key.key_id: key
        for key in (
            PublicKey.from_dict(cjson.loads(r[0]))
            for r in db.execute("SELECT record FROM keys_used").fetchall()
        )
    }
    receipts: dict[int, bytes] = {}  # the receipts of the current slice's records, by row id
    after = 0
    while rows := db.execute(
        "SELECT id, canonical_sha256, receipt_key_id, receipt, source_id, version, "
        "canonical_record FROM records WHERE id > ? ORDER BY id LIMIT ?",
        (after, _SLICE),
    ).fetchall():
        after = rows[-1][0]
        db.executemany(
            "UPDATE records SET "  # noqa: S608 - constants
            + ", ".join(f"{c}=?" for c in (*RECORD_COLUMNS, *RECEIPT_COLUMNS))
            + " WHERE id=?",
            [
                (
                    *record_row(bytes(record), source_id, version),
                    *receipt_row(bytes(receipt), digest, key_id, keys),
                    row_id,
                )
                for row_id, digest, key_id, receipt, source_id, version, record in rows
            ],
        )
    after = 0
    while rows := db.execute(
        "SELECT e.id, e.body, r.id, r.year, r.code, r.canonical_sha256, r.canonical_record, "
        "r.source_id, r.version, r.receipt_key_id, r.receipt_signature, r.receipt_signed_at, "
        "r.receipt_first_computed_at, r.receipt_last_reissued_at, r.receipt_builder, "
        "r.receipt_json FROM events e JOIN records r ON r.id=e.record_id WHERE e.id > ? "
        "ORDER BY e.id LIMIT ?",
        (after, _SLICE),
    ).fetchall():
        after = rows[-1][0]
        updates = []
        for row_id, body, record_id, year, code, digest, record, source_id, version, *rest in rows:
            key_id, receipt = rest[0], tuple(rest[1:])
            if record_id not in receipts:
                receipts[record_id] = receipt_bytes(digest, key_id, receipt, keys)
            context = RecordContext(
                str(PithNumber(year, code)),
                digest,
                bytes(record),
                source_id,
                version,
                receipts[record_id],
            )
            event_json = zlib.decompress(body)
            compact = event_row(event_json, context, keys)
            updates.append((*compact[5:], row_id))
        receipts.clear()
        db.executemany(
            "UPDATE events SET signature=?, signed_at=?, key_id=?, signer_key_id=?, payload=?, "
            "event_json=? WHERE id=?",
            updates,
        )
    after = -1
    while rows := db.execute(
        "SELECT l.leaf_index, l.entry, r.year, r.code, r.canonical_sha256, e.event_id "
        "FROM log_leaves l JOIN records r ON r.id=l.record_id "
        "LEFT JOIN events e ON e.id=l.event_row WHERE l.leaf_index > ? "
        "ORDER BY l.leaf_index LIMIT ?",
        (after, _SLICE),
    ).fetchall():
        after = rows[-1][0]
        for index, entry, year, code, digest, event_id in rows:
            number = str(PithNumber(year, code))
            if bytes(entry) != leaf_entry(number, digest, event_id):
                raise StoreError(
                    f"log leaf {index} is not the entry of {number} that its row rebuilds",
                    hint="restore the registry from a backup, or migrate with a release "
                    "before schema 4",
                )
    dropped = (
        ("records", "canonical_record"),
        ("records", "receipt"),
        ("events", "body"),
        ("log_leaves", "entry"),
    )
    for table, column in dropped:
        db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def leaf_entry(pith_number: str, canonical_sha256: str, event_id: str | None) -> bytes:
    """A leaf's entry: its record's (no event) or its event's (issuer.tlog)."""
    if event_id is None:
        return record_entry(pith_number, canonical_sha256)
    return event_entry(pith_number, event_id)


def _fold_leaves(db: Db) -> None:
    """Migration 5: every leaf is now in its record's or its event's row; drop what held them.

    Raises:
        StoreError: a leaf that is not one record's own or one event's, or a record or
            event without its leaf (a registry written by hand; it is left at schema 4).
    """
    [(leaves, records, events, moved, unlogged)] = db.execute(
        "SELECT (SELECT COUNT(*) FROM log_leaves), (SELECT COUNT(*) FROM records), "
        "(SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM events_v5), "
        "(SELECT COUNT(*) FROM records WHERE leaf_index IS NULL)"
    ).fetchall()
    if (leaves, moved, unlogged) != (records + events, events, 0):
        raise StoreError(
            f"the log's {leaves} leaves are not one per record ({records}) and one per event "
            f"({events}): {unlogged} records and {events - moved} events have no leaf",
            hint="restore the registry from a backup, or migrate with a release before schema 5",
        )
    for statement in (
        "DROP TABLE log_leaves",
        "DROP TABLE events",
        "ALTER TABLE events_v5 RENAME TO events",
    ):
        db.execute(db.ddl(statement))


BACKFILLS: dict[int, Callable[[Db], None]] = {
    3: _backfill_log,
    4: _backfill_lean,
    5: _fold_leaves,
}
