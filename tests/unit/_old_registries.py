"""Registries as an older release left them, on either backend: how migration tests start.

An old registry is made by migrating a new database only up to an older
schema version, then filled with the rows of a registry issued today (the
columns the old schema has; the ones schema 4 no longer stores, the whole
record, receipt and event, are rebuilt by the store, as a release before
schema 4 wrote them). Its state is read without opening a store, which would
migrate it.
"""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest

from issuer.store import _sql, open_store
from tests.registry_sql import db_of

#: The tables of schema 1, which every later schema keeps.
TABLES = ("records", "arxiv_alias", "events", "keys_used", "short_collisions")


def old_registry(url: str, version: int, today: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``url`` a registry at schema ``version`` holding the rows of SQLite file ``today``."""
    with monkeypatch.context() as m:
        m.setattr(_sql, "SCHEMA_VERSION", version)
        store = open_store(url)
    legacy = _legacy_columns(today)
    source = sqlite3.connect(today)
    source.row_factory = sqlite3.Row
    try:
        with store:
            db = db_of(store)
            db.begin_write()
            for table in TABLES:
                query = f"SELECT * FROM {table} LIMIT 0"  # noqa: S608 - our table names
                names = [c[0] for c in cast(Any, db.execute(query)).description]
                columns = ", ".join(names)
                rows = [
                    tuple(
                        legacy[(table, name)][row["id"]] if (table, name) in legacy else row[name]
                        for name in names
                    )
                    for row in source.execute(f"SELECT * FROM {table}")  # noqa: S608
                ]
                db.executemany(
                    f"INSERT INTO {table}({columns}) VALUES ({','.join('?' * len(names))})",  # noqa: S608
                    rows,
                )
            db.commit()
    finally:
        source.close()
    assert schema_state(url)[0] == version


def _legacy_columns(today: Path) -> dict[tuple[str, str], dict[int, bytes]]:
    """(table, column) → row id → value, for the columns schema 4 dropped, as schema 3 held them."""
    records: dict[int, bytes] = {}
    receipts: dict[int, bytes] = {}
    bodies: dict[int, bytes] = {}
    with open_store(today) as store:
        assert isinstance(store, _sql.SqlStore)
        for signed in store.signed_batch(0, 1 << 40):
            records[signed.row_id] = store._context_of(signed.row_id).record_json
            receipts[signed.row_id] = signed.receipt
            bodies.update((row, zlib.compress(event, 1)) for row, event in signed.events)
    return {
        ("records", "canonical_record"): records,
        ("records", "receipt"): receipts,
        ("events", "body"): bodies,
    }


def v3_registry(url: str, today: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``url`` a registry of schema 3 (the last release before lean rows) from ``today``.

    Its log leaves are the ones schema 3's own migration backfills, entries stored.
    """
    old_registry(url, 2, today, monkeypatch)
    with monkeypatch.context() as m:
        m.setattr(_sql, "SCHEMA_VERSION", 3)
        open_store(url).close()
    assert schema_state(url)[0] == 3


def v4_registry(url: str, today: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``url`` a registry of schema 4 (the last release before schema 5's keys) from ``today``.

    Its log leaves are the ones schema 3's migration backfills; schema 4's compacts its rows.
    """
    old_registry(url, 2, today, monkeypatch)
    with monkeypatch.context() as m:
        m.setattr(_sql, "SCHEMA_VERSION", 4)
        open_store(url).close()
    assert schema_state(url)[0] == 4


def index_columns(url: str) -> dict[str, set[str]]:
    """Table → its indexes, each as ``[UNIQUE ]columns``, read without migrating."""
    found: dict[str, set[str]] = {}
    if not url.startswith("postgresql://"):
        db = sqlite3.connect(url)
        try:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in tables:
                for _, name, unique, *_ in db.execute(f"PRAGMA index_list({table})").fetchall():
                    info = db.execute(f"PRAGMA index_info({name})").fetchall()
                    columns = ", ".join(c for _, _, c in info)
                    found.setdefault(table, set()).add(("UNIQUE " if unique else "") + columns)
                pk = [r[1] for r in db.execute(f"PRAGMA table_info({table})") if r[5]]
                if len(pk) == 1 and table not in ("keys_used", "publish_trees"):
                    found.setdefault(table, set()).add("UNIQUE " + pk[0])  # the rowid alias
        finally:
            db.close()
        return found
    with psycopg.connect(url) as conn:
        for table, definition in conn.execute(
            "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname='public' "
            "AND tablename != 'pith_schema'"
        ):
            unique = "UNIQUE " if "UNIQUE INDEX" in definition else ""
            columns = definition[definition.index("(") + 1 : definition.index(")")]
            found.setdefault(table, set()).add(unique + columns)
    return found


def schema_state(url: str) -> tuple[int, set[str], set[str]]:
    """(schema version, tables, columns of ``records``) of a registry, read without migrating."""
    if not url.startswith("postgresql://"):
        db = sqlite3.connect(url)
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            columns = {r[1] for r in db.execute("PRAGMA table_info(records)")}
        finally:
            db.close()
        return version, tables, columns
    with psycopg.connect(url) as conn:
        [(version,)] = conn.execute("SELECT version FROM pith_schema").fetchall()
        tables = {
            r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name='records'"
            )
        }
    return version, tables, columns
