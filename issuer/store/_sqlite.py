"""SQLite registry: WAL, versioned schema with migrations, idempotent crash-safe writes.

Every record is written with its receipt, its ``record_created`` event and its
aliases in one transaction (``BEGIN IMMEDIATE``, so concurrent issuers queue
rather than interleave), so a crash leaves each record either complete or
absent. Uniqueness lives in the schema, not in the caller: one record per
(arXiv id, version) and per code, one event per id, and at most one event per
chain slot (record, target, prev_event) — two processes cannot fork a chain.

The schema is shaped for arXiv scale: rows are keyed by an integer that grows
with issuance, so new rows append; the only randomly ordered index is the one
every content-derived identifier needs (the code). A record's six source
aliases are a pure function of the record, its Pith number and its issuance
time (spec §4), so they are recomputed rather than stored; what is stored is
what cannot be recomputed: where the unversioned arXiv alias pointed, and
when it moved.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from issuer import cjson
from issuer._time import parse_seconds
from issuer.errors import FormatError, StoreError
from issuer.identifiers import PithNumber, parse_pith_number, source_aliases
from issuer.keys import PublicKey
from issuer.record import CanonicalRecord
from issuer.tlog import StoredCheckpoint, event_entry, record_entry

SCHEMA_VERSION = 3

_MIGRATIONS: dict[int, str] = {
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

SHORT_KINDS = {"pith_short_8": 8, "pith_short_12": 12, "pith_short_16": 16}

_RECORD_COLUMNS = "year, code, canonical_record, issued_at, title"


@dataclass(frozen=True)
class SignedObjects:
    """One record's signed objects, by row id: its receipt and its events."""

    row_id: int
    receipt: bytes  # canonical JSON
    events: list[tuple[int, bytes]]  # (event row id, zlib-compressed canonical JSON)


@dataclass(frozen=True)
class IssuedRecord:
    """One record as the registry holds it."""

    number: PithNumber
    record: CanonicalRecord
    issued_at: str
    title: str | None = None  # raw title as issued, where the registry kept it

    @property
    def pith_number(self) -> str:
        """The full Pith number as text."""
        return str(self.number)

    @property
    def aliases(self) -> list[dict[str, Any]]:
        """The record's six source aliases, recomputed exactly as they were issued."""
        return source_aliases(self.record, self.number, parse_seconds(self.issued_at))


@dataclass(frozen=True, slots=True)
class PublishRow:
    """One record as publishing walks it: what the tree last got of it, if anything."""

    row_id: int
    number: PithNumber
    state_sha256: str | None  # as last published to the tree; None: never
    settings_sha256: str | None  # the tree settings it was published under


@dataclass(frozen=True, slots=True)
class PublishedRecord:
    """A record whose files are in place in a tree, and what they were built from."""

    row_id: int
    state_sha256: str
    base_url: str
    settings_sha256: str
    title: str | None
    events_mark: int  # the record's newest event row when its files were built


@dataclass(frozen=True, slots=True)
class ListedRecord:
    """One line of a published tree's index pages."""

    number: PithNumber
    source_id: str
    version: int
    title: str | None


@dataclass(frozen=True, slots=True)
class NewRecord:
    """Everything issuance writes for one record, in one transaction, as ready-made rows.

    Built where the record is signed (a worker process, under the pipeline)
    so the single writer only binds bytes: serializing and compressing is
    work that parallelizes, the writer is not.
    """

    source_id: str
    version: int
    versioned_id: str
    canonical_sha256: str
    year: int
    code: str
    record_json: bytes
    receipt_key_id: str
    receipt_json: bytes
    event: tuple[str, str, str, str, str, bytes]  # id, target, type, prev, created_at, body
    issued_at: str
    location: str = ""
    title: str | None = None

    @classmethod
    def build(
        cls,
        record: CanonicalRecord,
        number: PithNumber,
        *,
        receipt: dict[str, Any],
        event: dict[str, Any],
        issued_at: str,
        location: str = "",
        title: str | None = None,
    ) -> NewRecord:
        """Serialize one signed record for :meth:`SqliteStore.write_records`.

        ``title``: the raw title the record was issued from, kept for the published
        pages (the record itself holds only its hash).
        """
        return cls(
            source_id=record.source_id,
            version=record.version,
            versioned_id=record.versioned_id,
            canonical_sha256=record.canonical_sha256,
            year=number.year,
            code=number.code,
            record_json=cjson.dumps_parsed(record.to_dict()),
            receipt_key_id=receipt["key_id"],
            receipt_json=cjson.dumps_parsed(receipt),
            event=_event_columns(event),
            issued_at=issued_at,
            location=location,
            title=title,
        )

    @property
    def key(self) -> tuple[str, int]:
        """(arXiv id, version): what makes a record unique."""
        return self.source_id, self.version

    @property
    def pith_number(self) -> str:
        """The full Pith number as text."""
        return str(PithNumber(self.year, self.code))


class SqliteStore:
    """The registry in one SQLite file."""

    def __init__(self, path: Path, *, timeout: float = 60.0) -> None:
        self.path = Path(path)
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
                self._configure()
                self._migrate()
                return
            except sqlite3.OperationalError as e:
                # Switching a new file to WAL needs an exclusive lock and does not wait
                # for it: a second process opening the registry at that moment retries.
                with contextlib.suppress(AttributeError):
                    self._db.close()
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise StoreError(f"cannot open registry {self.path}: {e}") from e
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except (sqlite3.DatabaseError, OSError) as e:
                raise StoreError(f"cannot open registry {self.path}: {e}") from e

    def _configure(self) -> None:
        db = self._db
        # 16 KiB pages hold several ~2 KB event rows each (4 KiB pages held one).
        # Takes effect only when the file is created.
        db.execute("PRAGMA page_size=16384")
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode=WAL")
        # Checkpoint every 64 MiB of WAL rather than 4 MiB: fewer, larger syncs.
        db.execute("PRAGMA wal_autocheckpoint=4096")
        # A 256 MiB page cache keeps the hot part of the randomly ordered code index of
        # a multi-million record registry in memory; it is a bound, so memory stays flat.
        db.execute("PRAGMA cache_size=-262144")
        # WAL + NORMAL: a commit is on disk at the next checkpoint, not at once; a power
        # cut can lose the last batches (a re-run issues them again) but never corrupts.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")

    def close(self) -> None:
        """Checkpoint the WAL into the database with a full sync, then close."""
        # Another process may be reading; then its own close() checkpoints.
        with contextlib.suppress(sqlite3.OperationalError):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"registry {self.path} has schema {version}, newer than this toolkit's "
                    f"{SCHEMA_VERSION}",
                    hint="upgrade issuer",
                )
            for step in range(version + 1, SCHEMA_VERSION + 1):
                # One statement at a time: executescript() would commit the open transaction.
                for statement in _MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                if step in _BACKFILLS:
                    _BACKFILLS[step](self._db)
                self._db.execute(f"PRAGMA user_version={step}")
            self._db.execute("COMMIT")
        except BaseException:
            _rollback(self._db)
            raise

    # -- reads -------------------------------------------------------------

    def issued_versions(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """(arXiv id, version) → canonical_sha256 for those already issued (batched queries)."""
        wanted = set(keys)
        ids = sorted({source_id for source_id, _ in wanted})
        found: dict[tuple[str, int], str] = {}
        for chunk in _chunks(ids):
            rows = self._db.execute(
                "SELECT source_id, version, canonical_sha256 FROM records WHERE source_id IN "  # noqa: S608 - placeholders only
                f"({_marks(chunk)})",
                chunk,
            )
            for source_id, version, digest in rows:
                if (source_id, version) in wanted:
                    found[(source_id, version)] = digest
        return found

    def record(self, pith_number: str | PithNumber) -> IssuedRecord | None:
        """The record with this Pith number.

        Raises:
            FormatError: if ``pith_number`` is not a well-formed Pith number.
        """
        number = (
            pith_number if isinstance(pith_number, PithNumber) else parse_pith_number(pith_number)
        )
        row = self._db.execute(
            f"SELECT {_RECORD_COLUMNS} FROM records WHERE code=? AND year=?",  # noqa: S608 - constant
            (number.code, number.year),
        ).fetchone()
        return None if row is None else _issued(row)

    def by_code_prefix(self, prefix: str) -> list[str]:
        """Every Pith number whose code starts with ``prefix``: all candidates, none picked."""
        rows = self._db.execute(
            "SELECT year, code FROM records WHERE code >= ? AND code < ? ORDER BY year, code",
            (prefix, prefix + "~"),
        )
        return [str(PithNumber(year, code)) for year, code in rows]

    def by_version(self, source_id: str, version: int) -> list[str]:
        """The record of one arXiv version (a list: empty or one)."""
        rows = self._db.execute(
            "SELECT year, code FROM records WHERE source_id=? AND version=?", (source_id, version)
        )
        return [str(PithNumber(year, code)) for year, code in rows]

    def current_arxiv(self, source_id: str) -> list[str]:
        """Where the unversioned arXiv id points now: the newest issued version."""
        rows = self._db.execute(
            "SELECT r.year, r.code FROM arxiv_alias a JOIN records r ON r.id=a.record_id "
            "WHERE a.source_id=? AND a.until IS NULL",
            (source_id,),
        )
        return [str(PithNumber(year, code)) for year, code in rows]

    def alias_history(self, source_id: str) -> list[dict[str, Any]]:
        """Every record the unversioned arXiv id has pointed at, oldest first."""
        rows = self._db.execute(
            "SELECT r.year, r.code, r.version, a.since, a.until FROM arxiv_alias a "
            "JOIN records r ON r.id=a.record_id WHERE a.source_id=? ORDER BY a.since, a.rowid",
            (source_id,),
        )
        return [
            {
                "pith_number": str(PithNumber(year, code)),
                "version": version,
                "since": since,
                "until": until,
            }
            for year, code, version, since, until in rows
        ]

    def events(self, pith_number: str) -> list[dict[str, Any]]:
        """Every event about the record."""
        rows = self._db.execute(
            "SELECT body FROM events WHERE record_id=? ORDER BY created_at, event_id",
            (self._id(pith_number),),
        )
        return [cjson.loads(zlib.decompress(r[0])) for r in rows]

    def chain_head(self, pith_number: str, target: str) -> str | None:
        """The newest event of a chain: the one no other event names as prev_event."""
        row = self._db.execute(
            "SELECT e.event_id FROM events e WHERE e.record_id=? AND e.target=? AND NOT EXISTS "
            "(SELECT 1 FROM events n WHERE n.record_id=e.record_id AND n.target=e.target "
            "AND n.prev_event=e.event_id)",
            (self._id(pith_number), target),
        ).fetchone()
        return None if row is None else str(row[0])

    def receipt(self, pith_number: str) -> dict[str, Any]:
        """The record's receipt."""
        row = self._db.execute(
            "SELECT receipt FROM records WHERE id=?", (self._id(pith_number),)
        ).fetchone()
        return dict(cjson.loads(row[0]))

    def keys_used(self) -> list[PublicKey]:
        """Every key the registry has signed with."""
        return [
            PublicKey.from_dict(cjson.loads(r[0]))
            for r in self._db.execute("SELECT record FROM keys_used")
        ]

    def short_collisions(self) -> list[dict[str, str]]:
        """Recorded short-alias collisions."""
        rows = self._db.execute(
            "SELECT alias_kind, alias_value, pith_number, detected_at FROM short_collisions "
            "ORDER BY alias_kind, alias_value, pith_number"
        )
        return [
            {"alias_kind": k, "alias_value": v, "pith_number": p, "detected_at": d}
            for k, v, p, d in rows
        ]

    def count(self) -> int:
        """How many records are issued."""
        return int(self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def records(self) -> Iterator[IssuedRecord]:
        """Every record, in issuance order."""
        yield from map(
            _issued,
            self._db.execute(f"SELECT {_RECORD_COLUMNS} FROM records ORDER BY id"),  # noqa: S608 - constant
        )

    def _id(self, pith_number: str) -> int:
        number = parse_pith_number(pith_number)
        row = self._db.execute(
            "SELECT id FROM records WHERE code=? AND year=?", (number.code, number.year)
        ).fetchone()
        if row is None:
            raise StoreError(
                f"no record {pith_number} in {self.path}", hint="find it with: pith resolve"
            )
        return int(row[0])

    # -- writes ------------------------------------------------------------

    def _transaction(self) -> _Tx:
        return _Tx(self._db)

    def add_key(self, key: PublicKey) -> None:
        """Remember a key the registry signs with."""
        with self._transaction():
            self._db.execute(
                "INSERT OR IGNORE INTO keys_used(key_id, record) VALUES (?, ?)",
                (key.key_id, cjson.dumps(key.to_dict())),
            )

    def write_records(self, batch: list[NewRecord]) -> tuple[list[NewRecord], int]:
        """Write a batch in one transaction: each record with its receipt, event and aliases.

        Returns:
            (records written, short-alias collisions newly recorded). Records
            another writer issued first are not written; compare with
            :meth:`issued_versions`.
        """
        with self._transaction():
            db = self._db
            present = self.issued_versions(n.key for n in batch)
            written: list[NewRecord] = []
            seen: set[tuple[str, int]] = set()
            for n in batch:
                if n.key not in present and n.key not in seen:
                    seen.add(n.key)
                    written.append(n)
            if not written:
                return written, 0
            # The write lock is held, so ids from MAX(id) cannot race another writer.
            first = int(db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM records").fetchone()[0])
            ids = range(first, first + len(written))
            db.executemany(
                "INSERT INTO records(id, year, code, source_id, version, canonical_sha256, "
                "canonical_record, issued_at, receipt_key_id, receipt, title) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        i,
                        n.year,
                        n.code,
                        n.source_id,
                        n.version,
                        n.canonical_sha256,
                        n.record_json,
                        n.issued_at,
                        n.receipt_key_id,
                        n.receipt_json,
                        n.title,
                    )
                    for i, n in zip(ids, written, strict=True)
                ],
            )
            event_first = int(
                db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM events").fetchone()[0]
            )
            db.executemany(
                "INSERT INTO events(id, record_id, event_id, target, event_type, prev_event, "
                "created_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (event_first + k, i, *n.event)
                    for k, (i, n) in enumerate(zip(ids, written, strict=True))
                ],
            )
            # The log, in issuance order: each record's leaf, then its record_created event's.
            leaves: list[tuple[int, int | None, bytes]] = []
            for k, (i, n) in enumerate(zip(ids, written, strict=True)):
                leaves.append((i, None, record_entry(n.pith_number, n.canonical_sha256)))
                leaves.append((i, event_first + k, event_entry(n.pith_number, n.event[0])))
            self._append_leaves(leaves)
            self._move_arxiv_aliases(list(zip(ids, written, strict=True)))
            collisions = self._record_collisions(written)
        return written, collisions

    def _move_arxiv_aliases(self, written: list[tuple[int, NewRecord]]) -> None:
        """The unversioned alias follows the newest issued version; its history is kept."""
        db = self._db
        newest = self._newest_versions(sorted({n.source_id for _, n in written}))
        pending: list[tuple[str, int, str, str | None]] = []
        for record_id, n in written:
            current = newest.get(n.source_id)
            if current is None:
                pending.append((n.source_id, record_id, n.issued_at, None))
            elif current > n.version:
                # An older version issued after a newer one: history only, never current.
                pending.append((n.source_id, record_id, n.issued_at, n.issued_at))
            else:
                db.executemany("INSERT INTO arxiv_alias VALUES (?, ?, ?, ?)", pending)
                pending = []
                db.execute(
                    "UPDATE arxiv_alias SET until=? WHERE source_id=? AND until IS NULL",
                    (n.issued_at, n.source_id),
                )
                pending.append((n.source_id, record_id, n.issued_at, None))
            newest[n.source_id] = max(current or 0, n.version)
        db.executemany("INSERT INTO arxiv_alias VALUES (?, ?, ?, ?)", pending)

    def _newest_versions(self, ids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(ids):
            rows = self._db.execute(
                "SELECT a.source_id, r.version FROM arxiv_alias a "  # noqa: S608 - placeholders only
                "JOIN records r ON r.id=a.record_id WHERE a.until IS NULL "
                f"AND a.source_id IN ({_marks(chunk)})",
                chunk,
            )
            found.update(dict(rows))
        return found

    def _record_collisions(self, written: list[NewRecord]) -> int:
        """Record every short alias of the batch that now names more than one record.

        Short aliases are prefixes of the code, so a collision is a code range
        holding more than one row: one indexed range count per new record.
        """
        now = written[0].issued_at
        found = 0
        for kind, length in SHORT_KINDS.items():
            prefixes = sorted({n.code[:length] for n in written})
            for chunk in _chunks(prefixes):
                shared = self._db.execute(
                    f"WITH p(value) AS (VALUES {','.join(['(?)'] * len(chunk))}) "  # noqa: S608 - placeholders only
                    "SELECT p.value FROM p WHERE (SELECT COUNT(*) FROM records r "
                    "WHERE r.code >= p.value AND r.code < p.value || '~') > 1",
                    chunk,
                ).fetchall()
                for (prefix,) in shared:
                    for number in self.by_code_prefix(prefix):
                        cursor = self._db.execute(
                            "INSERT OR IGNORE INTO short_collisions VALUES (?, ?, ?, ?)",
                            (kind, prefix, number, now),
                        )
                        found += cursor.rowcount
        return found

    def append_event(self, event: dict[str, Any]) -> None:
        """Append one event to its chain.

        Raises:
            StoreError: if the record is unknown or the chain moved on meanwhile
                (another writer appended to the same head): fetch the head and retry.
        """
        try:
            with self._transaction():
                record_id = self._id(event["subject_pith_number"])
                cursor = self._db.execute(_INSERT_EVENT, (record_id, *_event_columns(event)))
                entry = event_entry(event["subject_pith_number"], event["event_id"])
                self._append_leaves([(record_id, cursor.lastrowid, entry)])
                # Its published files no longer show the record's state.
                self._db.execute("DELETE FROM published WHERE record_id=?", (record_id,))
        except sqlite3.IntegrityError as e:
            raise StoreError(
                f"cannot append event to {event['subject_pith_number']}/{event['target']}: {e}",
                hint="the chain head moved (another writer); retry",
            ) from e

    def signed_batch(self, after: int, limit: int) -> list[SignedObjects]:
        """The receipts and events of up to ``limit`` records with row id above ``after``.

        Re-issuance walks the registry with this, in row-id order, so that it
        can stop anywhere and start again after the last committed batch. The
        rows are returned as stored (receipt JSON, zlib-compressed event JSON),
        for whichever process re-signs them to parse.
        """
        rows = self._db.execute(
            "SELECT id, receipt FROM records WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
        ).fetchall()
        if not rows:
            return []
        events: dict[int, list[tuple[int, bytes]]] = {}
        for row_id, record_id, body in self._db.execute(
            "SELECT id, record_id, body FROM events WHERE record_id BETWEEN ? AND ? ORDER BY id",
            (rows[0][0], rows[-1][0]),
        ):
            events.setdefault(record_id, []).append((row_id, bytes(body)))
        return [
            SignedObjects(row_id, bytes(receipt), events.get(row_id, []))
            for row_id, receipt in rows
        ]

    def write_signatures(
        self, receipts: list[tuple[int, str, bytes]], events: list[tuple[int, bytes]]
    ) -> None:
        """Store re-signed receipts and events, atomically.

        ``receipts``: (record row id, key id, receipt JSON); ``events``: (event
        row id, zlib-compressed event JSON). Only signatures change: an event's
        id and content are the same, which the caller guarantees by re-signing
        with :func:`issuer.events.sign_event` and checking the id.
        """
        with self._transaction():
            self._db.executemany(
                "UPDATE records SET receipt_key_id=?, receipt=? WHERE id=?",
                [(key_id, receipt, row_id) for row_id, key_id, receipt in receipts],
            )
            self._db.executemany("UPDATE events SET body=? WHERE id=?", [(b, r) for r, b in events])
            # Published bundles carry the old signatures: publish writes them again.
            self._db.executemany(
                "DELETE FROM published WHERE record_id=?", [(r,) for r, _, _ in receipts]
            )
            self._db.executemany(
                "DELETE FROM published WHERE record_id=(SELECT record_id FROM events WHERE id=?)",
                [(r,) for r, _ in events],
            )

    # -- transparency log ---------------------------------------------------
    # The leaves are sequenced here, inside the issuing transaction; what they mean and
    # how checkpoints, tiles and proofs are made of them is issuer.tlog's and issuer.log's.

    def _append_leaves(self, leaves: list[tuple[int, int | None, bytes]]) -> None:
        """Append (record row, event row or None, entry) leaves; the write lock is held."""
        first = int(
            self._db.execute("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM log_leaves").fetchone()[
                0
            ]
        )
        self._db.executemany(
            "INSERT INTO log_leaves(leaf_index, record_id, event_row, entry) VALUES (?, ?, ?, ?)",
            [(first + k, *leaf) for k, leaf in enumerate(leaves)],
        )

    def log_size(self) -> int:
        """How many leaves the log holds."""
        row = self._db.execute("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM log_leaves")
        return int(row.fetchone()[0])

    def log_entries(self, start: int, stop: int) -> Iterator[bytes]:
        """The entries of leaves ``[start, stop)``, in order."""
        rows = self._db.execute(
            "SELECT entry FROM log_leaves WHERE leaf_index >= ? AND leaf_index < ? "
            "ORDER BY leaf_index",
            (start, stop),
        )
        for (entry,) in rows:
            yield bytes(entry)

    def log_leaves_of(self, pith_number: str) -> list[tuple[int, bytes]]:
        """(leaf index, entry) of every leaf about a record, in log order."""
        rows = self._db.execute(
            "SELECT leaf_index, entry FROM log_leaves WHERE record_id=? ORDER BY leaf_index",
            (self._id(pith_number),),
        )
        return [(int(i), bytes(e)) for i, e in rows]

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> StoredCheckpoint:
        """Keep a signed checkpoint (the newest is the current one); returns it with its id."""
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO log_checkpoints(tree_size, origin, note, state, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
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
            int(cursor.lastrowid or 0),
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

    # -- published trees ----------------------------------------------------
    # Kept apart from the reads above: only :mod:`issuer.publish` uses these.

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
                "INSERT OR REPLACE INTO published(tree_id, record_id, state_sha256, base_url, "
                "settings_sha256, title) SELECT ?, ?, ?, ?, ?, ? "
                "WHERE (SELECT COALESCE(MAX(id), 0) FROM events WHERE record_id=?) = ?",
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
        rows = self._db.execute(
            "SELECT r.year, r.code, r.source_id, r.version, COALESCE(p.title, r.title) "
            "FROM published p JOIN records r ON r.id=p.record_id WHERE p.tree_id=? "
            "ORDER BY r.year, r.id",
            (tree_id,),
        )
        for year, code, source_id, version, title in rows:
            yield ListedRecord(PithNumber(year, code), source_id, version, title)


_INSERT_EVENT = (
    "INSERT INTO events(record_id, event_id, target, event_type, prev_event, created_at, body) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _event_columns(event: dict[str, Any]) -> tuple[str, str, str, str, str, bytes]:
    return (
        event["event_id"],
        event["target"],
        event["event_type"],
        event["prev_event"] or "",
        event["created_at"],
        zlib.compress(cjson.dumps_parsed(event), 1),
    )


def _issued(row: tuple[Any, ...]) -> IssuedRecord:
    """Decode a records row; a record this release would refuse is a :class:`FormatError`.

    Raises:
        FormatError: naming the record and what is wrong with it (a record issued
            by an older release under a looser grammar, or a row written by hand).
    """
    year, code, record_json, issued_at, title = row
    number = PithNumber(year, code)
    try:
        record = CanonicalRecord.from_dict(cjson.loads(record_json))
    except FormatError as e:
        raise FormatError(
            f"{number}: the registry holds a record that no longer passes: {e.message}",
            hint=_BROKEN_HINT,
        ) from e
    derived = PithNumber.for_record(record)
    if derived != number:
        raise FormatError(
            f"{number}: the registry holds a record that no longer passes: "
            f"the record derives {derived}",
            hint=_BROKEN_HINT,
        )
    return IssuedRecord(number, record, issued_at, title)


_BROKEN_HINT = "the other records are not affected; this one cannot be published or bundled"


def _marks(values: list[Any]) -> str:
    """``?,?,…``: one SQL placeholder per value (never the values themselves)."""
    return ",".join("?" * len(values))


def _chunks(values: list[Any], size: int = 900) -> Iterator[list[Any]]:
    """Slices small enough for SQLite's limit on bound parameters."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _Tx:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise StoreError(
                f"registry is locked: {e}", hint="another pith process holds it"
            ) from e

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            _rollback(self._db)


def _rollback(db: sqlite3.Connection) -> None:
    """Undo the open transaction, if one is still open.

    An interrupt (Ctrl-C) can land after ``COMMIT`` ran or before ``BEGIN``
    did: a ``ROLLBACK`` then would fail with "no transaction is active" and
    hide the interrupt behind a store error.
    """
    if db.in_transaction:
        db.execute("ROLLBACK")


def _backfill_log(db: sqlite3.Connection) -> None:
    """Migration 3: a leaf for every record and event issued before the log, in issuance order.

    Runs inside the migration's transaction, so a crash leaves the registry at
    schema 2 with no leaf, and the next open backfills again. Issuance order
    is reconstructed from row ids: events in id order, each record's own leaf
    just before the first event about it (its ``record_created``), as
    :meth:`SqliteStore.write_records` sequences new ones. Rows are streamed,
    so memory stays flat on a registry of millions.
    """

    def leaves() -> Iterator[tuple[int, int, int | None, bytes]]:
        logged: set[int] = set()
        index = 0
        rows = db.execute(
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

    db.executemany(
        "INSERT INTO log_leaves(leaf_index, record_id, event_row, entry) VALUES (?, ?, ?, ?)",
        leaves(),
    )


_BACKFILLS = {3: _backfill_log}
