"""Both backends hold the same schema: tables, columns, types, NOT NULL, keys and indexes."""

from __future__ import annotations

from pathlib import Path

import psycopg

from issuer.store import SCHEMA_VERSION, open_store
from issuer.store._postgres import _ddl
from tests.registry_sql import rows

# SQLite's declared type -> PostgreSQL's, as issuer.store._postgres translates them.
_TYPES = {"INTEGER": "bigint", "TEXT": "text", "BLOB": "bytea"}


def _sqlite_schema(path: Path) -> dict[str, list[tuple[str, str, bool]]]:
    with open_store(path) as store:
        query = "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
        tables = [t for (t,) in rows(store, query)]
        return {
            t: [
                (name, _TYPES[declared], bool(notnull) or bool(pk))
                for _, name, declared, notnull, _, pk in rows(store, f"PRAGMA table_info({t})")
            ]
            for t in tables
        }


def _postgres_schema(url: str) -> dict[str, list[tuple[str, str, bool]]]:
    open_store(url).close()
    with psycopg.connect(url) as conn:
        found: dict[str, list[tuple[str, str, bool]]] = {}
        for table, column, kind, nullable in conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable "
            "FROM information_schema.columns WHERE table_schema='public' "
            "AND table_name != 'pith_schema' "
            "ORDER BY table_name, ordinal_position"
        ):
            found.setdefault(table, []).append((column, kind, nullable == "NO"))
        return found


def _postgres_indexes(url: str) -> dict[str, set[str]]:
    with psycopg.connect(url) as conn:
        found: dict[str, set[str]] = {}
        for table, definition in conn.execute(
            "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname='public'"
        ):
            unique = "UNIQUE " if "UNIQUE INDEX" in definition else ""
            columns = definition[definition.index("(") + 1 : definition.index(")")]
            found.setdefault(table, set()).add(unique + columns)
        return found


def test_both_backends_have_the_same_tables_columns_and_types(tmp_path: Path, pg_url: str) -> None:
    sqlite = _sqlite_schema(tmp_path / "r.sqlite3")
    postgres = _postgres_schema(pg_url)
    assert sqlite == postgres
    assert set(sqlite) >= {"records", "events", "arxiv_alias", "log_checkpoints"}
    assert "log_leaves" not in sqlite  # schema 5: a leaf is in its record's or event's row


def test_both_backends_have_the_same_unique_keys(tmp_path: Path, pg_url: str) -> None:
    with open_store(tmp_path / "r.sqlite3") as store:
        sqlite: dict[str, set[str]] = {}
        for (table,) in rows(store, "SELECT name FROM sqlite_master WHERE type='table'"):
            for _, name, unique, *_ in rows(store, f"PRAGMA index_list({table})"):
                columns = ", ".join(c for _, _, c in rows(store, f"PRAGMA index_info({name})"))
                sqlite.setdefault(table, set()).add(("UNIQUE " if unique else "") + columns)
            pk = [r[1] for r in rows(store, f"PRAGMA table_info({table})") if r[5]]
            if len(pk) == 1 and table not in ("keys_used", "publish_trees"):
                sqlite.setdefault(table, set()).add("UNIQUE " + pk[0])  # the rowid alias
    open_store(pg_url).close()
    postgres = _postgres_indexes(pg_url)
    postgres.pop("pith_schema", None)
    assert sqlite == postgres


def test_the_postgresql_schema_is_at_the_current_version(pg_url: str) -> None:
    open_store(pg_url).close()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM pith_schema").fetchall() == [(SCHEMA_VERSION,)]


def test_text_is_bytewise_whatever_the_database_collation() -> None:
    assert _ddl("code TEXT NOT NULL") == 'code TEXT COLLATE "C" NOT NULL'
    assert _ddl("id INTEGER PRIMARY KEY, body BLOB") == "id BIGINT PRIMARY KEY, body BYTEA"
    assert _ddl("PRIMARY KEY (a, b)\n) WITHOUT ROWID") == "PRIMARY KEY (a, b)\n)"
