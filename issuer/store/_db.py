"""The seam between the registry's queries and a database: one connection, one dialect.

:class:`~issuer.store._sql.SqlStore` writes every query once, in the SQL that
SQLite and PostgreSQL share, with ``?`` placeholders; a :class:`Db` runs it on
its own connection. What differs between the two lives behind this protocol:
how a write transaction takes the registry's single write lock, how the schema
version is kept, how a large result is streamed, and which DDL types a
migration uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol


class Cursor(Protocol):
    """What a query returns: rows, and how many rows a write touched."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Db(Protocol):
    """One connection to a registry database."""

    #: How the registry is named in messages: its path, or its URL without a password.
    name: str
    #: The exceptions a violated UNIQUE constraint raises (a chain slot taken by another writer).
    conflicts: tuple[type[Exception], ...]
    #: How many values :meth:`text_values` takes at once.
    values_per_query: int

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement (``?`` placeholders) and return its cursor."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row of parameters."""
        ...

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        """The rows of a query without holding them all in memory."""
        ...

    def text_values(self, values: Sequence[str]) -> tuple[str, list[Any]]:
        """A query of one text column holding ``values``, and its parameters.

        Used as ``WITH p(value) AS (QUERY)``: a list of keys looked up in one
        statement, however many there are (up to :attr:`values_per_query`).
        """
        ...

    def load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Insert many rows into ``table`` as fast as the database takes them.

        ``table`` and ``columns`` are the store's own constants, never input.
        """
        ...

    def begin_write(self) -> None:
        """Open a transaction holding the registry's write lock (one writer at a time).

        Raises:
            StoreError: the lock could not be had in time.
        """
        ...

    def commit(self) -> None:
        """Commit the open transaction."""
        ...

    def rollback(self) -> None:
        """Undo the open transaction, if one is still open (never fails for want of one)."""
        ...

    def schema_version(self) -> int | None:
        """The schema the registry is at; ``None``: this database holds no registry yet."""
        ...

    def set_schema_version(self, version: int) -> None:
        """Record the schema version, inside the migration's transaction."""
        ...

    def ddl(self, statement: str) -> str:
        """A migration statement (written in SQLite's types) in this database's dialect."""
        ...

    def close(self) -> None:
        """Flush what the database needs flushed and close the connection."""
        ...


class Transaction:
    """A write transaction: committed on success, rolled back on any exception."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.begin_write()

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self._db.commit()
        else:
            self._db.rollback()
