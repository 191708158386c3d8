"""SQLite registry: WAL, versioned schema with migrations, idempotent crash-safe writes.

Every record is written with its receipt, its ``record_created`` event and its
aliases in one transaction (``BEGIN IMMEDIATE``, so concurrent issuers queue
rather than interleave), so a crash leaves each record either complete or
absent. Uniqueness lives in the schema, not in the caller: one record per
(arXiv id, version), one event per id, and at most one event per chain slot
(subject, target, prev_event) — two processes cannot fork a chain.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from issuer import cjson
from issuer.errors import StoreError
from issuer.identifiers import PithNumber
from issuer.keys import PublicKey
from issuer.record import CanonicalRecord

SCHEMA_VERSION = 1

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE records (
        pith_number TEXT PRIMARY KEY,
        code TEXT NOT NULL UNIQUE,
        source_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        canonical_sha256 TEXT NOT NULL,
        canonical_record BLOB NOT NULL,
        issued_at TEXT NOT NULL,
        UNIQUE (source_id, version)
    );
    CREATE TABLE receipts (
        pith_number TEXT PRIMARY KEY REFERENCES records(pith_number),
        key_id TEXT NOT NULL,
        receipt BLOB NOT NULL
    );
    CREATE TABLE aliases (
        alias_kind TEXT NOT NULL,
        alias_value TEXT NOT NULL,
        pith_number TEXT NOT NULL REFERENCES records(pith_number),
        created_at TEXT NOT NULL,
        superseded_at TEXT,
        PRIMARY KEY (alias_kind, alias_value, pith_number)
    );
    CREATE INDEX aliases_by_record ON aliases(pith_number);
    CREATE TABLE events (
        event_id TEXT PRIMARY KEY,
        pith_number TEXT NOT NULL REFERENCES records(pith_number),
        target TEXT NOT NULL,
        event_type TEXT NOT NULL,
        prev_event TEXT NOT NULL,
        created_at TEXT NOT NULL,
        body BLOB NOT NULL
    );
    -- One event per chain slot: a second writer appending to the same head fails here.
    CREATE UNIQUE INDEX events_chain_slot ON events(pith_number, target, prev_event);
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
}

SHORT_KINDS = ("pith_short_8", "pith_short_12", "pith_short_16")


@dataclass(frozen=True)
class IssuedRecord:
    """One record as the registry holds it."""

    pith_number: str
    record: CanonicalRecord
    issued_at: str


@dataclass(frozen=True)
class NewRecord:
    """Everything issuance writes for one record, in one transaction."""

    record: CanonicalRecord
    number: PithNumber
    receipt: dict[str, Any]
    event: dict[str, Any]
    aliases: list[dict[str, Any]]
    issued_at: str


class SqliteStore:
    """The registry in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "PRAGMA synchronous=NORMAL"
            )  # WAL + NORMAL: durable at checkpoints, never corrupt
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"cannot open registry {self.path}: {e}") from e

    def close(self) -> None:
        """Close the database."""
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
                self._db.execute(f"PRAGMA user_version={step}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    # -- reads -------------------------------------------------------------

    def issued_versions(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """(arXiv id, version) → canonical_sha256 for those already issued."""
        found: dict[tuple[str, int], str] = {}
        for source_id, version in keys:
            row = self._db.execute(
                "SELECT canonical_sha256 FROM records WHERE source_id=? AND version=?",
                (source_id, version),
            ).fetchone()
            if row:
                found[(source_id, version)] = row[0]
        return found

    def record(self, pith_number: str) -> IssuedRecord | None:
        """The record with this Pith number."""
        row = self._db.execute(
            "SELECT canonical_record, issued_at FROM records WHERE pith_number=?", (pith_number,)
        ).fetchone()
        if row is None:
            return None
        return IssuedRecord(pith_number, CanonicalRecord.from_dict(cjson.loads(row[0])), row[1])

    def by_code_prefix(self, prefix: str) -> list[str]:
        """Every Pith number whose code starts with ``prefix``: all candidates, none picked."""
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        rows = self._db.execute(
            "SELECT pith_number FROM records WHERE code >= ? AND code < ? ORDER BY pith_number",
            (prefix, upper),
        )
        return [r[0] for r in rows]

    def by_alias(self, kind: str, value: str, *, current_only: bool = True) -> list[str]:
        """Pith numbers an alias points at (the current one unless ``current_only`` is False)."""
        sql = "SELECT pith_number FROM aliases WHERE alias_kind=? AND alias_value=?"
        if current_only:
            sql += " AND superseded_at IS NULL"
        return [r[0] for r in self._db.execute(sql + " ORDER BY pith_number", (kind, value))]

    def aliases(self, pith_number: str) -> list[dict[str, Any]]:
        """The record's own six aliases (the unversioned one even after it moved on)."""
        rows = self._db.execute(
            "SELECT alias_kind, alias_value, created_at FROM aliases WHERE pith_number=? "
            "ORDER BY alias_kind, alias_value",
            (pith_number,),
        )
        return [{"alias_kind": k, "alias_value": v, "created_at": c} for k, v, c in rows]

    def alias_history(self, kind: str, value: str) -> list[dict[str, Any]]:
        """Every record an alias has pointed at, oldest first."""
        rows = self._db.execute(
            "SELECT pith_number, created_at, superseded_at FROM aliases "
            "WHERE alias_kind=? AND alias_value=? ORDER BY created_at, pith_number",
            (kind, value),
        )
        return [{"pith_number": p, "created_at": c, "superseded_at": s} for p, c, s in rows]

    def events(self, pith_number: str) -> list[dict[str, Any]]:
        """Every event about the record."""
        rows = self._db.execute(
            "SELECT body FROM events WHERE pith_number=? ORDER BY created_at, event_id",
            (pith_number,),
        )
        return [cjson.loads(r[0]) for r in rows]

    def chain_head(self, pith_number: str, target: str) -> str | None:
        """The newest event of a chain: the one no other event names as prev_event."""
        row = self._db.execute(
            "SELECT e.event_id FROM events e WHERE e.pith_number=? AND e.target=? AND NOT EXISTS "
            "(SELECT 1 FROM events n WHERE n.pith_number=e.pith_number AND n.target=e.target "
            "AND n.prev_event=e.event_id)",
            (pith_number, target),
        ).fetchone()
        return None if row is None else str(row[0])

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

    def pith_numbers(self) -> Iterator[str]:
        """Every Pith number, in order."""
        for row in self._db.execute("SELECT pith_number FROM records ORDER BY pith_number"):
            yield row[0]

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

    def write_records(self, batch: list[NewRecord]) -> tuple[list[NewRecord], list[NewRecord]]:
        """Write a batch, each record complete or not at all, in one transaction.

        Returns:
            (written, already there): records another writer issued first are skipped.
        """
        written: list[NewRecord] = []
        skipped: list[NewRecord] = []
        with self._transaction():
            for new in batch:
                if self._write_one(new):
                    written.append(new)
                else:
                    skipped.append(new)
        return written, skipped

    def _write_one(self, new: NewRecord) -> bool:
        db = self._db
        number = str(new.number)
        cur = db.execute(
            "INSERT OR IGNORE INTO records(pith_number, code, source_id, version, "
            "canonical_sha256, canonical_record, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                number,
                new.number.code,
                new.record.source_id,
                new.record.version,
                new.record.canonical_sha256,
                cjson.dumps(new.record.to_dict()),
                new.issued_at,
            ),
        )
        if cur.rowcount == 0:
            return False
        db.execute(
            "INSERT INTO receipts(pith_number, key_id, receipt) VALUES (?, ?, ?)",
            (number, new.receipt["key_id"], cjson.dumps(new.receipt)),
        )
        self._insert_event(new.event)
        for alias in new.aliases:
            self._insert_alias(alias, number, new.record, new.issued_at)
        return True

    def _insert_event(self, event: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO events(event_id, pith_number, target, event_type, prev_event, "
            "created_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                event["event_id"],
                event["subject_pith_number"],
                event["target"],
                event["event_type"],
                event["prev_event"] or "",
                event["created_at"],
                cjson.dumps(event),
            ),
        )

    def _insert_alias(
        self, alias: dict[str, Any], number: str, record: CanonicalRecord, now: str
    ) -> None:
        db = self._db
        kind, value = alias["alias_kind"], alias["alias_value"]
        if kind == "arxiv":
            # The unversioned alias follows the newest issued version; history is kept.
            newest = db.execute(
                "SELECT MAX(r.version) FROM aliases a "
                "JOIN records r ON r.pith_number=a.pith_number "
                "WHERE a.alias_kind='arxiv' AND a.alias_value=? AND a.superseded_at IS NULL",
                (value,),
            ).fetchone()[0]
            if newest is not None and newest > record.version:
                db.execute(
                    "INSERT INTO aliases VALUES (?, ?, ?, ?, ?)",
                    (kind, value, number, alias["created_at"], now),
                )
                return
            db.execute(
                "UPDATE aliases SET superseded_at=? WHERE alias_kind='arxiv' AND alias_value=? "
                "AND superseded_at IS NULL",
                (now, value),
            )
        elif kind in SHORT_KINDS:
            others = db.execute(
                "SELECT pith_number FROM aliases WHERE alias_kind=? AND alias_value=?",
                (kind, value),
            ).fetchall()
            if others:
                for (other,) in [*others, (number,)]:
                    db.execute(
                        "INSERT OR IGNORE INTO short_collisions VALUES (?, ?, ?, ?)",
                        (kind, value, other, now),
                    )
        db.execute(
            "INSERT INTO aliases VALUES (?, ?, ?, ?, NULL)",
            (kind, value, number, alias["created_at"]),
        )

    def append_event(self, event: dict[str, Any]) -> None:
        """Append one event to its chain.

        Raises:
            StoreError: if the record is unknown or the chain moved on meanwhile
                (another writer appended to the same head): fetch the head and retry.
        """
        try:
            with self._transaction():
                self._insert_event(event)
        except sqlite3.IntegrityError as e:
            raise StoreError(
                f"cannot append event to {event['subject_pith_number']}/{event['target']}: {e}",
                hint="the chain head moved (another writer) or the record is unknown; retry",
            ) from e

    def replace_event(self, event: dict[str, Any]) -> None:
        """Store a re-signed copy of an event (same id, new signature)."""
        with self._transaction():
            self._db.execute(
                "UPDATE events SET body=? WHERE event_id=?", (cjson.dumps(event), event["event_id"])
            )


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
            self._db.execute("ROLLBACK")
