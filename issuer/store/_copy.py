"""The registry's tables as raw rows, by primary key: what ``pith registry copy`` moves.

:data:`~issuer.store._schema.TABLES` lists every table of the schema in
foreign-key order, with its columns and primary key. :class:`RawTables` reads rows in
primary-key order (keyset pagination: ``WHERE key > last ORDER BY key``, so a
page costs the same at the start and the end of a table of millions) and
writes them as they are, ids included: a copy keeps record and event row ids,
log leaf indexes and checkpoint ids, which the log and published trees name.

Text keys order bytewise on both backends (``COLLATE "C"`` on PostgreSQL,
``BINARY`` on SQLite), so a key range names the same rows on either, and a
copy interrupted on one backend resumes from the other's largest key.

What a copy means (prefixes, verification) is :mod:`issuer.registry_copy`'s.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from issuer.store._db import Transaction
from issuer.store._protocol import Store
from issuer.store._schema import Key, Row, Table
from issuer.store._sql import SqlStore
from issuer.store._sqlite import SqliteDb


class RawTables:
    """One open registry's tables as rows, undecoded: the two ends of a copy.

    Values come back as the driver gives them (``int``, ``str``, ``bytes``,
    ``None`` on both backends), so a row read from one registry compares equal
    to the same row read from the other.
    """

    def __init__(self, store: Store) -> None:
        if not isinstance(store, SqlStore):
            raise TypeError(f"not a SQL registry: {type(store).__name__}")
        self._db = store._db

    @property
    def name(self) -> str:
        """How messages name the registry: its path, or its URL without a password."""
        return self._db.name

    def schema_version(self) -> int | None:
        """The schema the registry is at."""
        return self._db.schema_version()

    def count(self, table: Table) -> int:
        """How many rows ``table`` holds."""
        sql = f"SELECT COUNT(*) FROM {table.name}"  # noqa: S608 - names from TABLES
        return int(self._db.execute(sql).fetchone()[0])

    def count_through(self, table: Table, key: Key) -> int:
        """How many rows of ``table`` have a primary key up to and including ``key``."""
        sql = f"SELECT COUNT(*) FROM {table.name} WHERE {_compare(table, '<=')}"  # noqa: S608 - names from TABLES
        return int(self._db.execute(sql, key).fetchone()[0])

    def last(self, table: Table) -> Row | None:
        """The row of ``table`` with the largest primary key."""
        sql = (
            f"SELECT {', '.join(table.columns)} FROM {table.name} "  # noqa: S608 - names from TABLES
            f"ORDER BY {', '.join(f'{c} DESC' for c in table.key)} LIMIT 1"
        )
        row = self._db.execute(sql).fetchone()
        return None if row is None else tuple(row)

    def row(self, table: Table, key: Key) -> Row | None:
        """The row of ``table`` with this primary key."""
        where = " AND ".join(f"{c}=?" for c in table.key)
        sql = f"SELECT {', '.join(table.columns)} FROM {table.name} WHERE {where}"  # noqa: S608 - names from TABLES
        row = self._db.execute(sql, key).fetchone()
        return None if row is None else tuple(row)

    def rows_after(self, table: Table, after: Key | None, limit: int) -> list[Row]:
        """Up to ``limit`` rows of ``table`` after key ``after`` (``None``: from the start)."""
        where = "" if after is None else f"WHERE {_compare(table, '>')} "
        sql = (
            f"SELECT {', '.join(table.columns)} FROM {table.name} {where}"  # noqa: S608 - names from TABLES
            f"ORDER BY {', '.join(table.key)} LIMIT ?"
        )
        return [tuple(r) for r in self._db.execute(sql, (*(after or ()), limit)).fetchall()]

    def insert(self, table: Table, rows: Sequence[Row]) -> None:
        """Write ``rows`` into ``table`` as they are, in one write transaction.

        Raises:
            StoreError: the registry's write lock could not be had, or the database failed.
        """
        with Transaction(self._db):
            self._db.load(table.name, table.columns, rows)

    def record_number_from(self, row_id: int) -> tuple[int, int, str] | None:
        """(row id, year, code) of the first record whose row id is at least ``row_id``."""
        row = self._db.execute(
            "SELECT id, year, code FROM records WHERE id >= ? ORDER BY id LIMIT 1", (row_id,)
        ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]), str(row[2]))

    def record_id_range(self) -> tuple[int, int] | None:
        """The smallest and largest record row ids; ``None`` when there is no record."""
        row = self._db.execute("SELECT MIN(id), MAX(id) FROM records").fetchone()
        return None if row is None or row[0] is None else (int(row[0]), int(row[1]))

    def same_database(self, other: RawTables) -> bool:
        """Whether ``other`` is this very registry, however its URL or path is spelled."""
        mine, theirs = self._db, other._db
        if isinstance(mine, SqliteDb) and isinstance(theirs, SqliteDb):
            try:
                return os.path.samefile(mine.path, theirs.path)
            except OSError:
                return False
        from issuer.store._postgres import PostgresDb  # noqa: PLC0415 - psycopg is slow to import

        if isinstance(mine, PostgresDb) and isinstance(theirs, PostgresDb):
            # A server process (pid, start time) serves one connection to one database:
            # if the other connection's server sees ours, in its own database, they are one.
            pid, started = mine.execute(
                "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
            ).fetchone()
            seen = theirs.execute(
                "SELECT backend_start FROM pg_stat_activity "
                "WHERE pid = ? AND datname = current_database()",
                (pid,),
            ).fetchone()
            # Another role's sessions show no start time; the pid and database then decide.
            return seen is not None and seen[0] in (None, started)
        return False


def _compare(table: Table, op: str) -> str:
    """``key OP (?, …)``: a row-value comparison on the primary key (both backends have them)."""
    if len(table.key) == 1:
        return f"{table.key[0]} {op} ?"
    return f"({', '.join(table.key)}) {op} ({', '.join('?' * len(table.key))})"
