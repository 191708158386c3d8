"""``pith registry migrate``: create a registry or bring it to this release's schema, no key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from issuer.store import SCHEMA_VERSION, open_store
from tests.cli._run import ok, on_postgresql, pg_tables, pith, registry_of, sqlite_only
from tests.registry_sql import execute

pytestmark = pytest.mark.usefixtures("backend")


def test_migrate_creates_an_empty_registry_without_a_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = ok(pith(home, "registry", "migrate", "--json"))
    document = json.loads(result.stdout)
    assert document == {
        "registry": registry_of(home),
        "backend": "postgresql" if on_postgresql() else "sqlite",
        "schema": SCHEMA_VERSION,
        "records": 0,
        "log_size": 0,
    }
    if on_postgresql():
        assert {"records", "events", "log_checkpoints", "pith_schema"} <= set(
            pg_tables(registry_of(home))
        )
    else:
        assert (home / "registry.sqlite3").is_file()
    assert not (home / "keys").exists()  # no key was asked for, none made
    # Run again: nothing to do, same answer; then a read-only command finds the registry.
    assert json.loads(ok(pith(home, "registry", "migrate", "--json")).stdout) == document
    resolved = pith(home, "resolve", "0704.0001")
    assert "ERROR: not found: 0704.0001" in resolved.stderr  # the registry is there, empty
    assert "no registry" not in resolved.stderr


def test_migrate_refuses_a_registry_of_a_newer_release(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    ok(pith(home, "registry", "migrate"))
    url = registry_of(home)
    with open_store(url) as store:
        if on_postgresql():
            execute(store, "UPDATE pith_schema SET version=?", (SCHEMA_VERSION + 1,))
        else:
            execute(store, f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    result = pith(home, "registry", "migrate")
    assert result.exit_code == 3, result.stderr
    assert f"has schema {SCHEMA_VERSION + 1}, newer than this toolkit's" in result.stderr


@sqlite_only
def test_migrate_into_a_missing_directory_is_an_output_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = pith(home, "registry", "migrate", "--registry", str(tmp_path / "no" / "r.sqlite3"))
    assert result.exit_code == 3, result.stderr
    assert "is not a directory" in result.stderr
    assert not (tmp_path / "no").exists()
