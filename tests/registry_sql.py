"""Raw SQL on an open registry, whichever backend: how tests tamper with rows or count them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from issuer.pipeline import Issuer
from issuer.store import Store
from issuer.store._db import Db
from issuer.store._sql import SqlStore
from tests import factory


def db_of(store: Store) -> Db:
    """The store's connection (``?`` placeholders on both backends)."""
    return cast(SqlStore, store)._db


def execute(store: Store, sql: str, params: Sequence[Any] = ()) -> None:
    """Run one statement in a committed write transaction."""
    db = db_of(store)
    db.begin_write()
    try:
        db.execute(sql, params)
    except BaseException:
        db.rollback()
        raise
    db.commit()


def rows(store: Store, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Every row of a query."""
    return list(db_of(store).execute(sql, params).fetchall())


def record_row_id(store: Store, pith_number: str) -> int:
    """The row id of a record (what signed_batch and publish rows are keyed by)."""
    return cast(SqlStore, store)._id(pith_number)


def issue(store: Store, folder: Path, numbers: range) -> None:
    """Issue the factory's records ``numbers`` into ``store`` (one worker, the factory's key)."""
    Issuer(store, factory.signer(), lambda: factory.T0, workers=1).run(
        [str(factory.snapshot(folder / "in.json", numbers))]
    )
