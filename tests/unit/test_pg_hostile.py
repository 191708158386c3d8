"""A PostgreSQL registry in a database that others use too (issue #15).

The role's ``search_path`` may name schemas that other roles can write to (a
``"$user"`` schema, another application's, ``public`` on servers before 15).
PostgreSQL picks, among the functions and operators of every schema on the
path, the one whose argument types match best, so a function there with more
exact types than ``pg_catalog``'s would run instead of it, with the issuing
role's rights: the registry's connection searches ``pg_catalog`` and the
registry's own schema only.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from issuer.errors import StoreError
from issuer.store import open_store
from issuer.store._postgres import PostgresDb
from tests.registry_sql import issue


def _plant(url: str, schema: str) -> None:
    """Another schema on the database's search path, after the registry's, with traps in it."""
    dbname = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE TABLE {}.calls (name TEXT)").format(sql.Identifier(schema)))
        for name, args in [
            ("pg_advisory_xact_lock", "integer"),
            ("pg_advisory_xact_lock", "smallint"),
            ("unnest", "varchar[]"),
        ]:
            conn.execute(
                sql.SQL("CREATE FUNCTION {}.{}({}) RETURNS SETOF text LANGUAGE sql AS {}").format(
                    sql.Identifier(schema),
                    sql.Identifier(name),
                    sql.SQL(args),
                    sql.Literal(f"INSERT INTO {schema}.calls VALUES ('{name}') RETURNING name"),  # noqa: S608 - test constants
                )
            )
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET search_path = public, {}").format(
                sql.Identifier(dbname), sql.Identifier(schema)
            )
        )


def test_functions_planted_on_the_search_path_never_run(pg_url: str, tmp_path: Path) -> None:
    _plant(pg_url, "other_app")
    with open_store(pg_url) as store:
        issue(store, tmp_path, range(1, 4))
        assert store.count() == 3
        assert store.issued_versions([("2401.00001", 1)])
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT name FROM other_app.calls").fetchall() == []
        # The registry is where the role's search path put it.
        assert conn.execute("SELECT COUNT(*) FROM public.records").fetchone() == (3,)


def test_another_applications_records_table_is_refused_with_a_hint_and_left_as_it_is(
    pg_url: str,
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE records (id SERIAL PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO records(name) VALUES ('theirs')")
    with pytest.raises(StoreError, match='relation "records" already exists') as caught:
        open_store(pg_url)
    assert "not this registry's" in (caught.value.hint or "")
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT id, name FROM records").fetchall() == [(1, "theirs")]
        assert conn.execute("SELECT to_regclass('pith_schema')").fetchone() == (None,)


def test_a_statement_timeout_of_the_role_is_named_in_the_hint(pg_url: str) -> None:
    db = PostgresDb(f"{pg_url}?options=-cstatement_timeout%3D1", "the registry")
    try:
        with pytest.raises(StoreError, match="statement timeout") as caught:
            db.execute("SELECT pg_sleep(1)")
        assert "statement_timeout" in (caught.value.hint or "")
        assert "password" not in (caught.value.hint or "")
    finally:
        db.close()


def test_a_connection_killed_under_a_command_says_to_rerun(pg_url: str) -> None:
    db = PostgresDb(pg_url, "the registry")
    try:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            pid = db.execute("SELECT pg_backend_pid()").fetchone()[0]
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(StoreError, match="terminating connection") as caught:
            db.execute("SELECT 1")
        assert "rerun" in (caught.value.hint or "")
        assert "password" not in (caught.value.hint or "")
        db.rollback()  # nothing to undo on a lost connection, and no psycopg error either
    finally:
        db.close()
