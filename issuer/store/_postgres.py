"""The PostgreSQL connection of a shared registry: several issuers, one database.

Decisions (docs/postgresql.md says more):

- **One writer at a time, like SQLite.** A write transaction takes a
  transaction-level advisory lock (``pg_advisory_xact_lock``), the analogue of
  SQLite's ``BEGIN IMMEDIATE``: row ids and log leaf indexes are allocated as
  ``MAX + 1`` under it, so they are dense and in issuance order, and issuers on
  several machines queue for the lock while their workers go on signing.
  Readers take no lock: each read sees only committed transactions, so a record
  is seen whole or not at all.
- **Autocommit between writes.** Reads run outside any transaction, so a
  resolver never holds a snapshot open for long.
- **Streamed reads** use a server-side cursor, so walking 2.9M records keeps
  the client's memory flat.
- **Bytewise text.** Every text column is ``COLLATE "C"``: code ranges (short
  aliases) and orderings are the same as SQLite's, whatever the database's
  default collation.
- **No password here.** The URL given to this class has none on the command
  line (:mod:`issuer.store._url` refuses it); libpq takes it from
  ``PGPASSWORD``, ``PGPASSFILE`` or ``~/.pgpass``. :attr:`name` never shows
  one.
- **No pool.** A process holds one connection: no thread shares a store.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import pq, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from issuer.errors import StoreError
from issuer.store._db import Cursor

#: The advisory lock of the registry's write transactions ("pith" in ASCII).
WRITE_LOCK = 0x70697468
#: How long a writer waits for another's transaction before giving up, as SQLite does.
LOCK_TIMEOUT = "60s"

_HINT = "check the URL, that the server runs, and the role's password (PGPASSWORD or ~/.pgpass)"


class PostgresDb:
    """One connection to a registry database."""

    conflicts: tuple[type[Exception], ...] = (psycopg.errors.UniqueViolation,)
    # One array parameter, however long: the statement text stays the same, so the
    # server plans it once rather than parsing a new list of placeholders each time.
    values_per_query = 100_000

    def __init__(self, conninfo: str, name: str) -> None:
        self.name = name
        self._cursors = itertools.count()
        self._types: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        try:
            options = conninfo_to_dict(conninfo)
        except psycopg.Error:
            # libpq's message quotes the part it could not read, which may be the password.
            raise StoreError(
                f"cannot open registry {name}: libpq cannot read the URL",
                hint="percent-encode spaces and any of @ : / ? # % & = in the user name, "
                "database name and parameter values, and use libpq's parameter names",
            ) from None
        extra = {k: v for k, v in _DEFAULTS.items() if k not in options}
        try:
            self._conn = psycopg.connect(make_conninfo(conninfo, **extra), autocommit=True)
        except psycopg.Error as e:
            raise StoreError(f"cannot open registry {name}: {_first_line(e)}", hint=_HINT) from e
        try:
            self._pin_search_path()
        except psycopg.Error as e:
            self._conn.close()
            raise StoreError(f"cannot open registry {name}: {_first_line(e)}", hint=_HINT) from e

    def _pin_search_path(self) -> None:
        """Search the registry's schema alone (and ``pg_catalog``, first, as always).

        The registry's schema is the one the role's ``search_path`` (or the URL's
        ``options``) names first among those that exist. The other schemas of the
        path leave it: PostgreSQL takes the function or operator whose argument
        types match best among every schema searched, so one that another role
        created in any of them could stand in for ``pg_catalog``'s and run with
        this role's rights (CVE-2018-1058).
        """
        schema = self._conn.execute("SELECT pg_catalog.current_schema()").fetchone()
        if schema is not None and schema[0] is not None:
            self._conn.execute(
                sql.SQL("SET search_path = {}").format(sql.Identifier(str(schema[0])))
            )

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        try:
            return self._conn.execute(_dialect(sql), params)
        except self.conflicts:
            raise
        except psycopg.Error as e:
            raise self._error(e) from e

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            with self._conn.cursor() as cursor:
                cursor.executemany(_dialect(sql), rows)
        except self.conflicts:
            raise
        except psycopg.Error as e:
            raise self._error(e) from e

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        # WITH HOLD: the cursor outlives the statement's implicit transaction, so
        # other queries can run on this connection between fetches.
        name = f"pith_stream_{next(self._cursors)}"
        try:
            with self._conn.cursor(name, withhold=True) as cursor:
                cursor.itersize = 2000
                cursor.execute(_dialect(sql), params)
                yield from cursor
        except psycopg.Error as e:
            raise self._error(e) from e

    def text_values(self, values: Sequence[str]) -> tuple[str, list[Any]]:
        return "SELECT unnest(CAST(? AS TEXT[]))", [list(values)]

    def load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        # Binary COPY FROM STDIN: one stream for the whole batch, not a statement per row.
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        try:
            types = self._column_types(table, tuple(columns))
            with self._conn.cursor() as cursor, cursor.copy(statement) as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
        except self.conflicts:
            raise
        except psycopg.Error as e:
            raise self._error(e) from e

    def _column_types(self, table: str, columns: tuple[str, ...]) -> list[int]:
        """The type OIDs of ``columns`` of ``table`` (binary COPY needs them), looked up once."""
        key = (table, columns)
        if key not in self._types:
            found: dict[str, int] = dict(
                self._conn.execute(
                    "SELECT attname, atttypid FROM pg_catalog.pg_attribute "
                    "WHERE attrelid = CAST(%s AS regclass) AND attnum > 0 AND NOT attisdropped",
                    (table,),
                ).fetchall()
            )
            self._types[key] = [int(found[c]) for c in columns]
        return self._types[key]

    def begin_write(self) -> None:
        try:
            self._conn.execute("BEGIN")
            self._conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            self._conn.execute(
                "SELECT pg_catalog.pg_advisory_xact_lock(CAST(%s AS BIGINT))", (WRITE_LOCK,)
            )
        except psycopg.errors.LockNotAvailable as e:
            self.rollback()
            raise StoreError(
                f"registry {self.name} is locked: no write lock within {LOCK_TIMEOUT}",
                hint="another pith process holds it",
            ) from e
        except psycopg.Error as e:
            self.rollback()
            raise self._error(e) from e

    def commit(self) -> None:
        try:
            self._conn.execute("COMMIT")
        except psycopg.Error as e:
            raise self._error(e) from e

    def rollback(self) -> None:
        status = self._conn.info.transaction_status
        if status in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR):
            # A lost connection: the server rolled the transaction back already.
            with contextlib.suppress(psycopg.OperationalError):
                self._conn.execute("ROLLBACK")

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on this connection."""
        return self._conn.info.transaction_status != pq.TransactionStatus.IDLE

    def schema_version(self) -> int | None:
        # Not to_regclass(): it answers from this backend's catalog cache, which a transaction
        # that began before another issuer's migration committed has not refreshed (it is
        # refreshed when a relation lock is taken), so an issuer that waited for the write
        # lock would migrate a registry just created. pg_class read by a query sees every
        # committed table (a fresh snapshot per statement).
        if not self.execute(_HAS_SCHEMA_TABLE).fetchone()[0]:
            return None
        row = self.execute("SELECT version FROM pith_schema").fetchone()
        return None if row is None else int(row[0])

    def set_schema_version(self, version: int) -> None:
        self.execute("CREATE TABLE IF NOT EXISTS pith_schema (version BIGINT NOT NULL)")
        self.execute("DELETE FROM pith_schema")
        self.execute("INSERT INTO pith_schema(version) VALUES (?)", (version,))

    def ddl(self, statement: str) -> str:
        return _ddl(statement)

    def close(self) -> None:
        self._conn.close()

    def _error(self, e: psycopg.Error) -> StoreError:
        return StoreError(f"registry {self.name}: {_first_line(e)}", hint=self._hint(e))

    def _hint(self, e: psycopg.Error) -> str:
        """What to do about a failure on an open connection (the URL and password were fine)."""
        if isinstance(e, psycopg.errors.InsufficientPrivilege):
            return "grant the role the privileges docs/postgresql.md lists"
        if isinstance(e, psycopg.errors.QueryCanceled):
            return (
                "the server cancelled the statement: raise the statement_timeout set for this "
                "role or database (ALTER ROLE … SET statement_timeout), then rerun; nothing of "
                "the unfinished transaction was kept"
            )
        if isinstance(e, _NOT_OURS):
            return (
                "the database holds tables that are not this registry's (another application's, "
                "or a registry altered by hand): give the registry a database or schema of its "
                "own, or restore it from a backup"
            )
        if self._conn.broken or isinstance(e, psycopg.OperationalError):
            return (
                "the connection to the server was lost (server restarted or session ended): "
                "rerun once it is back; nothing of the unfinished transaction was kept, and a "
                "rerun does not do twice what was committed"
            )
        return _HINT


#: A migration or query met tables or columns the registry did not make.
_NOT_OURS = (
    psycopg.errors.DuplicateTable,
    psycopg.errors.DuplicateColumn,
    psycopg.errors.DuplicateObject,
    psycopg.errors.UndefinedTable,
    psycopg.errors.UndefinedColumn,
)

_DEFAULTS = {"connect_timeout": "10", "application_name": "pith"}

_HAS_SCHEMA_TABLE = (
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
    "ON n.oid = c.relnamespace WHERE c.relname = 'pith_schema' AND n.nspname = current_schema())"
)


@functools.lru_cache(maxsize=512)
def _dialect(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (the store's SQL holds no other ``?`` or ``%``)."""
    return sql.replace("%", "%%").replace("?", "%s")


_TYPES = (
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    (re.compile(r"\bTEXT\b"), 'TEXT COLLATE "C"'),
    (re.compile(r"\s*WITHOUT ROWID"), ""),
)


def _ddl(statement: str) -> str:
    for pattern, replacement in _TYPES:
        statement = pattern.sub(replacement, statement)
    return statement


def _first_line(e: BaseException) -> str:
    """libpq's message without its DETAIL/HINT lines (which can quote row values)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
