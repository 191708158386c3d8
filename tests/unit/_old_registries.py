"""Registries as an older release left them, on either backend: how migration tests start.

An old registry is made by migrating a new database only up to an older
schema version, then filled with the rows of a registry issued today (the
columns the old schema has). Its state is read without opening a store, which
would migrate it.
"""

from __future__ import annotations

import sqlite3
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
    source = sqlite3.connect(today)
    try:
        with store:
            db = db_of(store)
            db.begin_write()
            for table in TABLES:
                query = f"SELECT * FROM {table} LIMIT 0"  # noqa: S608 - our table names
                names = [c[0] for c in cast(Any, db.execute(query)).description]
                columns = ", ".join(names)
                db.executemany(
                    f"INSERT INTO {table}({columns}) VALUES ({','.join('?' * len(names))})",  # noqa: S608
                    source.execute(f"SELECT {columns} FROM {table}").fetchall(),  # noqa: S608
                )
            db.commit()
    finally:
        source.close()
    assert schema_state(url)[0] == version


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
