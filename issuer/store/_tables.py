"""What every part of the store shares: its connection, write transactions, record row ids."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from issuer.errors import StoreError
from issuer.identifiers import parse_pith_number
from issuer.store._db import Db, Transaction


class Tables:
    """Base of the store's parts (records, aliases, log, published trees): one connection."""

    def __init__(self, db: Db) -> None:
        self._db = db

    @property
    def name(self) -> str:
        """How messages name the registry: its path, or its URL without a password."""
        return self._db.name

    def _transaction(self) -> Transaction:
        return Transaction(self._db)

    def _id(self, pith_number: str) -> int:
        number = parse_pith_number(pith_number)
        row = self._db.execute(
            "SELECT id FROM records WHERE code=? AND year=?", (number.code, number.year)
        ).fetchone()
        if row is None:
            raise StoreError(
                f"no record {pith_number} in {self.name}", hint="find it with: pith resolve"
            )
        return int(row[0])

    def _with_values(self, values: list[str], select: str) -> Iterator[Any]:
        """The rows of ``WITH p(value) AS (values) SELECT …``, a slice of ``values`` at a time.

        ``select`` is the store's own SQL; the values are bound, never written into it.
        """
        for chunk in _chunks(values, self._db.values_per_query):
            fragment, params = self._db.text_values(chunk)
            query = f"WITH p(value) AS ({fragment}) {select}"
            yield from self._db.execute(query, params).fetchall()


def next_id(db: Db, table: str) -> int:
    """The next row id of ``table``, allocated under the write lock, never by the database.

    Ids are dense and in issuance order on every backend, and a copy of the
    registry keeps them.
    """
    row = db.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()  # noqa: S608 - table names are constants
    return int(row[0])


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    """Slices of at most ``size`` values: what one query takes (Db.values_per_query)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
