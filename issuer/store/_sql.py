"""The registry's queries, written once for SQLite and PostgreSQL: idempotent, crash-safe writes.

Every record is written with its receipt, its ``record_created`` event, its
log leaves and its aliases in one transaction that holds the registry's
single write lock (:meth:`issuer.store._db.Db.begin_write`), so concurrent
issuers queue rather than interleave and a crash leaves each record either
complete or absent. Uniqueness lives in the schema, not in the caller: one
record per (arXiv id, version) and per code, one event per id, and at most one
event per chain slot (record, target, prev_event) — two processes cannot fork
a chain.

The schema is shaped for arXiv scale: rows are keyed by an integer that grows
with issuance, so new rows append; the only randomly ordered index is the one
every content-derived identifier needs (the code). A record's six source
aliases are a pure function of the record, its Pith number and its issuance
time (spec §4), so they are recomputed rather than stored; what is stored is
what cannot be recomputed: where the unversioned arXiv alias pointed, and
when it moved. The same holds for the signed objects (schema 4): a record's
values, a receipt's and an event's signature, times and key ids are stored,
and their JSON is rebuilt on read by :mod:`issuer.store._compact`, which also
decides, when a row is written, whether its compact form gives back the very
bytes given or the row keeps them whole. Log leaf entries are rebuilt from
the record or event they name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

from issuer import cjson
from issuer.errors import StoreError
from issuer.identifiers import PithNumber, parse_pith_number
from issuer.keys import PublicKey
from issuer.store._checked import CheckedRecord, checked_record, rechecked
from issuer.store._compact import (
    EVENT_COLUMNS,
    RECORD_COLUMNS,
    EventRow,
    event_bytes,
)
from issuer.store._db import Db
from issuer.store._rows import IssuedRecord, NewRecord
from issuer.store._schema import BACKFILLS, MIGRATIONS, SCHEMA_VERSION, TABLE
from issuer.store._sql_aliases import AliasTables
from issuer.store._sql_log import LogTables
from issuer.store._sql_publish import PublishTables
from issuer.store._sql_reissue import ReissueTables
from issuer.store._sql_rows import (
    CONTEXT_COLUMNS,
    CONTEXT_WIDTH,
    EVENT_SELECT,
    UNREADABLE,
    issued_from_row,
    key_ids,
    unreadable,
)
from issuer.store._sqlite import SqliteDb
from issuer.store._tables import next_id

_RECORD_COLUMNS = "year, code, issued_at, title, source_id, version, " + ", ".join(RECORD_COLUMNS)


class SqlStore(AliasTables, ReissueTables, LogTables, PublishTables):
    """The registry: the same queries on SQLite and on PostgreSQL."""

    def __init__(self, db: Db) -> None:
        super().__init__(db)
        try:
            self._migrate()
        except BaseException:
            db.close()
            raise

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return "sqlite" if isinstance(self._db, SqliteDb) else "postgresql"

    @property
    def path(self) -> Path | None:
        """The registry file of a SQLite registry; ``None`` for a server."""
        return self._db.path if isinstance(self._db, SqliteDb) else None

    def close(self) -> None:
        """Close the connection (SQLite: checkpoint the WAL first)."""
        self._db.close()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        if self._db.schema_version() == SCHEMA_VERSION:
            return  # the common case: no lock taken, so opening never waits for a writer
        with self._transaction():
            version = self._db.schema_version() or 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"registry {self.name} has schema {version}, newer than this toolkit's "
                    f"{SCHEMA_VERSION}",
                    hint="upgrade issuer",
                )
            for step in range(version + 1, SCHEMA_VERSION + 1):
                try:
                    self._migrate_to(step)
                except StoreError as e:
                    raise StoreError(
                        f"cannot open registry {self.name}: migrating it to schema {step} "
                        f"failed, and it is left at schema {version}: {e.message}",
                        hint=e.hint,
                    ) from e

    def _migrate_to(self, step: int) -> None:
        # One statement at a time: SQLite's executescript() would commit the open transaction.
        for statement in MIGRATIONS[step].split(";"):
            if statement.strip():
                self._db.execute(self._db.ddl(statement))
        if step in BACKFILLS:
            BACKFILLS[step](self._db)
        self._db.set_schema_version(step)

    # -- reads -------------------------------------------------------------

    def issued_versions(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """(arXiv id, version) → canonical_sha256 for those already issued (batched queries)."""
        wanted = set(keys)
        ids = sorted({source_id for source_id, _ in wanted})
        found: dict[tuple[str, int], str] = {}
        rows = self._with_values(
            ids,
            "SELECT source_id, version, canonical_sha256 FROM records "
            "WHERE source_id IN (SELECT value FROM p)",
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
        return None if row is None else issued_from_row(row)

    def by_version(self, source_id: str, version: int) -> list[str]:
        """The record of one arXiv version (a list: empty or one)."""
        rows = self._db.execute(
            "SELECT year, code FROM records WHERE source_id=? AND version=?", (source_id, version)
        )
        return [str(PithNumber(year, code)) for year, code in rows]

    def current_arxiv(self, source_id: str) -> list[str]:
        """Where the unversioned arXiv id points now: the newest issued version."""
        rows = self._db.execute(
            "SELECT r.year, r.code FROM records r JOIN arxiv_alias a ON a.record_id=r.id "
            "WHERE r.source_id=? AND a.until IS NULL",
            (source_id,),
        )
        return [str(PithNumber(year, code)) for year, code in rows]

    def alias_history(self, source_id: str) -> list[dict[str, Any]]:
        """Every record the unversioned arXiv id has pointed at, oldest first."""
        rows = self._db.execute(
            "SELECT r.year, r.code, r.version, a.since, a.until FROM records r "
            "JOIN arxiv_alias a ON a.record_id=r.id WHERE r.source_id=? "
            "ORDER BY a.since, a.record_id",
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
            f"SELECT {CONTEXT_COLUMNS}, {EVENT_SELECT} FROM events e "  # noqa: S608 - constants
            "JOIN records r ON r.id=e.record_id WHERE e.record_id=? "
            "ORDER BY e.created_at, e.event_id",
            (self._id(pith_number),),
        ).fetchall()
        if not rows:
            return []
        try:
            context = self._context(rows[0][:CONTEXT_WIDTH])
            events = [_event(r) for r in rows]
            keys = self._keys(key_ids(events))
            return [cjson.loads(event_bytes(e, context, keys)) for e in events]
        except UNREADABLE as e:
            raise unreadable(pith_number, e) from e

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
            f"SELECT {CONTEXT_COLUMNS} FROM records r WHERE r.id=?",  # noqa: S608 - constants
            (self._id(pith_number),),
        ).fetchone()
        try:
            return dict(cjson.loads(self._context(row).receipt_json))
        except UNREADABLE as e:
            raise unreadable(pith_number, e) from e

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
            issued_from_row,
            self._db.stream(f"SELECT {_RECORD_COLUMNS} FROM records ORDER BY id"),  # noqa: S608 - constant
        )

    # -- writes ------------------------------------------------------------

    def add_key(self, key: PublicKey) -> None:
        """Remember a key the registry signs with."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO keys_used(key_id, record) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (key.key_id, cjson.dumps(key.to_dict())),
            )
        self._keys_cache = None  # read again, with this key, when a row next needs it

    def versions_of(self, source_ids: Iterable[str]) -> dict[str, dict[int, str]]:
        """arXiv id → {version: canonical_sha256} of its issued versions, for each id given.

        Every id given is a key, with an empty map if none of its versions is issued.
        """
        ids = sorted(set(source_ids))
        found: dict[str, dict[int, str]] = {source_id: {} for source_id in ids}
        rows = self._with_values(
            ids,
            "SELECT source_id, version, canonical_sha256 FROM records "
            "WHERE source_id IN (SELECT value FROM p)",
        )
        for source_id, version, digest in rows:
            found[source_id][int(version)] = digest
        return found

    def write_records(self, batch: list[NewRecord]) -> tuple[list[NewRecord], int]:
        """Write a batch in one transaction: each record with its receipt, event and aliases.

        Each object's compact row is checked here, against ``keys_used``, and
        kept only if it gives back the very bytes that were signed: otherwise
        the row keeps them whole.

        Returns:
            (records written, short-alias collisions newly recorded). Records
            another writer issued first are not written; compare with
            :meth:`issued_versions`.
        """
        keys = self._keys({n.receipt_key_id for n in batch})
        rows = [checked_record(n, keys) for n in batch]
        written, collisions = self._write_rows(rows, None)
        mine = {id(r) for r in written}
        return [n for n, r in zip(batch, rows, strict=True) if id(r) in mine], collisions

    def write_checked(
        self, batch: list[CheckedRecord], key: PublicKey
    ) -> tuple[list[CheckedRecord], int]:
        """Write records whose rows were checked under ``key`` where they were signed.

        As :meth:`write_records`, in one transaction. The rows are taken as
        they are if ``keys_used`` holds ``key`` under its id (add it first:
        :meth:`add_key`); if it holds another key under that id, each row is
        checked again against it (:func:`~issuer.store._checked.rechecked`).

        Returns:
            (records written, short-alias collisions newly recorded).
        """
        return self._write_rows(batch, key)

    def _write_rows(
        self, batch: list[CheckedRecord], key: PublicKey | None
    ) -> tuple[list[CheckedRecord], int]:
        with self._transaction():
            db = self._db
            present = self.issued_versions(r.key for r in batch)
            written: list[CheckedRecord] = []
            seen: set[tuple[str, int]] = set()
            for r in batch:
                if r.key not in present and r.key not in seen:
                    seen.add(r.key)
                    written.append(r)
            if not written:
                return written, 0
            rows = written
            if key is not None:
                keys = self._keys((key.key_id,))
                if keys.get(key.key_id) != key:
                    signed_with = {key.key_id: key}
                    rows = [rechecked(r, signed_with, keys) for r in written]
            # The write lock is held, so ids from MAX(id) cannot race another writer.
            first = next_id(db, "records")
            ids = range(first, first + len(rows))
            # The log, in issuance order: each record's leaf, then its record_created event's.
            leaf = self.log_size()
            db.load(
                "records",
                TABLE["records"].columns,
                [
                    (
                        i,
                        r.year,
                        r.code,
                        r.source_id,
                        r.version,
                        r.canonical_sha256,
                        r.issued_at,
                        r.key_id,
                        r.title,
                        *r.record,
                        *r.receipt,
                        leaf + 2 * k,
                    )
                    for k, (i, r) in enumerate(zip(ids, rows, strict=True))
                ],
            )
            event_first = next_id(db, "events")
            db.load(
                "events",
                TABLE["events"].columns,
                [
                    (event_first + k, i, leaf + 2 * k + 1, *r.event)
                    for k, (i, r) in enumerate(zip(ids, rows, strict=True))
                ],
            )
            self._move_arxiv_aliases(list(zip(ids, rows, strict=True)))
            collisions = self._record_collisions(rows)
        return written, collisions

    def append_event(self, event: dict[str, Any]) -> None:
        """Append one event to its chain.

        Raises:
            StoreError: if the record is unknown or the chain moved on meanwhile
                (another writer appended to the same head): fetch the head and retry.
        """
        try:
            with self._transaction():
                record_id = self._id(event["subject_pith_number"])
                row = next_id(self._db, "events")
                event_json = cjson.dumps(event)
                compact = self._checked_event(record_id, event, event_json)
                self._db.execute(_INSERT_EVENT, (row, record_id, self.log_size(), *compact))
                # Its published files no longer show the record's state.
                self._db.execute("DELETE FROM published WHERE record_id=?", (record_id,))
        except self._db.conflicts as e:
            raise StoreError(
                f"cannot append event to {event['subject_pith_number']}/{event['target']}: {e}",
                hint="the chain head moved (another writer); retry",
            ) from e


_INSERT_EVENT = (
    f"INSERT INTO events(id, record_id, leaf_index, {', '.join(EVENT_COLUMNS)}) "  # noqa: S608 - constants
    f"VALUES ({', '.join('?' * (len(EVENT_COLUMNS) + 3))})"
)


def _event(row: tuple[Any, ...]) -> EventRow:
    """The event columns of a row that starts with :data:`CONTEXT_COLUMNS`."""
    return cast(EventRow, tuple(row[CONTEXT_WIDTH:]))
