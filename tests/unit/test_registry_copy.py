"""`issuer.registry_copy`: a registry copied between SQLite and PostgreSQL, resumably, checked."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from issuer import registry
from issuer.errors import RegistryMismatchError, UsageError
from issuer.identifiers import PithNumber
from issuer.pipeline import Issuer
from issuer.publish import publish
from issuer.registry_copy import copy_registry
from issuer.store import TABLES, RawTables, open_store
from issuer.store._postgres import PostgresDb
from issuer.store._schema import TABLE
from issuer.store._sqlite import SqliteDb
from tests import factory
from tests._pg import PgCluster
from tests.registry_sql import execute, rows

Dump = dict[str, list[tuple[Any, ...]]]


def populate(url: str, work: Path, papers: int = 12) -> None:
    """A registry with a row in every table: versions, events, collisions, a published tree."""
    with open_store(url) as store:
        issue = Issuer(store, factory.signer(), lambda: factory.T0, workers=1, batch_size=7)
        # Every paper's v1, then v2 of half of them: the unversioned alias moves on.
        issue.run([str(factory.snapshot(work / "v1.json", range(1, papers + 1)))])
        v2 = factory.snapshot(work / "v2.json", range(1, papers // 2 + 1), versions=2)
        issue.run([str(v2)])
        number = next(store.records()).pith_number
        payload = {"graph_snapshot": {"n": 1}, "verdict_id": None}
        registry.add_event(
            store, number, "graph_snapshot", payload, factory.signer(), now=factory.T0
        )
        with pytest.MonkeyPatch.context() as mp:
            # Two more records with one short alias: a short_collisions row (and two records
            # that no longer pass once the patch is gone, which a copy carries all the same).
            factory.force_code_prefix(mp, "AAAAAAAA")
            more = factory.snapshot(work / "more.json", range(900, 902))
            Issuer(store, factory.signer(), lambda: factory.T0, workers=1).run([str(more)])
        publish(store, work / "tree", factory.signer(), base_url=factory.BASE_URL, now=factory.T0)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A populated SQLite registry, built once; tests copy it before using it."""
    work = tmp_path_factory.mktemp("copy-source")
    path = work / "source.sqlite3"
    populate(str(path), work)
    return path


@pytest.fixture
def sqlite_source(source: Path, tmp_path: Path) -> str:
    """This test's own copy of the populated registry, as a SQLite file."""
    path = tmp_path / "source.sqlite3"
    shutil.copyfile(source, path)
    return str(path)


def dump(url: str) -> Dump:
    """Every row of every table, in key order."""
    with open_store(url, must_exist=True) as store:
        tables = RawTables(store)
        return {t.name: tables.rows_after(t, None, 1_000_000) for t in TABLES}


def on(backend: str, sqlite_source: str, request: pytest.FixtureRequest) -> str:
    """The populated registry on ``backend``: the SQLite file, or a copy of it in PostgreSQL."""
    if backend == "sqlite":
        return sqlite_source
    url: str = request.getfixturevalue("pg_url")
    copy_registry(sqlite_source, url)
    return url


def empty(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A new registry URL on ``backend`` (nothing created yet for SQLite)."""
    if backend == "sqlite":
        return str(tmp_path / "copy.sqlite3")
    url: str = request.getfixturevalue("pg_url")
    return url


def test_the_tables_copied_are_every_table_and_column_of_the_schema(registry_url: str) -> None:
    with open_store(registry_url) as store:
        if store.backend == "sqlite":
            names = [r[0] for r in rows(store, "SELECT name FROM sqlite_master WHERE type='table'")]
            found = {}
            for name in names:
                info = rows(store, f"PRAGMA table_info({name})")
                columns = tuple(r[1] for r in info)
                key = tuple(r[1] for r in sorted(info, key=lambda r: r[5]) if r[5])
                found[name] = (columns, key)
        else:
            found = {}
            for table, column in rows(
                store,
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
            ):
                found.setdefault(table, ((), ()))
                found[table] = ((*found[table][0], column), ())
            for table, column in rows(
                store,
                "SELECT k.table_name, k.column_name FROM information_schema.table_constraints c "
                "JOIN information_schema.key_column_usage k ON k.constraint_name = "
                "c.constraint_name AND k.table_schema = c.table_schema WHERE c.constraint_type "
                "= 'PRIMARY KEY' AND c.table_schema = current_schema() "
                "ORDER BY k.table_name, k.ordinal_position",
            ):
                found[table] = (found[table][0], (*found[table][1], column))
    found.pop("pith_schema", None)  # PostgreSQL's schema version (SQLite's is user_version)
    assert found == {t.name: (t.columns, t.key) for t in TABLES}


def test_sqlite_to_postgresql_to_sqlite_keeps_every_row_and_id(
    sqlite_source: str, pg_url: str, tmp_path: Path
) -> None:
    original = dump(sqlite_source)
    assert all(original.values()), "the source has a row in every table"
    assert any(until is not None for *_, until in original["arxiv_alias"])
    there = copy_registry(sqlite_source, pg_url, batch=5)
    back = copy_registry(pg_url, str(tmp_path / "back.sqlite3"), batch=5)
    assert dump(pg_url) == original
    assert dump(str(tmp_path / "back.sqlite3")) == original
    for result in (there, back):
        counts = {t.table: (t.rows, t.already, t.copied) for t in result.tables}
        assert counts == {name: (len(r), 0, len(r)) for name, r in original.items()}
        # The first, the last and up to 20 random records (a dozen and more here).
        assert len(result.verified) >= 3
    assert (there.source, there.destination) == (sqlite_source, pg_url)


def test_copying_again_onto_a_finished_copy_writes_nothing(
    sqlite_source: str, tmp_path: Path
) -> None:
    target = str(tmp_path / "copy.sqlite3")
    copy_registry(sqlite_source, target)
    again = copy_registry(sqlite_source, target)
    assert again.copied == 0
    assert all(t.already == t.rows for t in again.tables)
    assert dump(target) == dump(sqlite_source)


def test_an_empty_registry_copies_to_an_empty_registry(tmp_path: Path, pg_url: str) -> None:
    src = str(tmp_path / "empty.sqlite3")
    open_store(src).close()
    result = copy_registry(src, pg_url)
    assert (result.copied, result.verified) == (0, [])


class _CrashError(Exception):
    """The fault a test injects into the destination's writes."""


def crash_before_commit(monkeypatch: pytest.MonkeyPatch, commits: int) -> None:
    """Let ``commits`` write transactions commit, then fail the next one at its commit.

    The failing batch's rows are in its transaction but never committed: the
    process dies, as if killed, with the transaction open.
    """
    calls = 0
    for cls in (SqliteDb, PostgresDb):
        real = cls.commit

        def commit(self: Any, real: Any = real) -> None:
            nonlocal calls
            calls += 1
            if calls > commits:
                raise _CrashError(f"injected at commit {calls}")
            real(self)

        monkeypatch.setattr(cls, "commit", commit)


@pytest.mark.parametrize(
    ("src_backend", "dst_backend"), [("sqlite", "postgresql"), ("postgresql", "sqlite")]
)
def test_a_copy_cut_short_resumes_where_the_destination_stands_and_duplicates_nothing(
    *,
    src_backend: str,
    dst_backend: str,
    sqlite_source: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = on(src_backend, sqlite_source, request)
    dst = empty(dst_backend, tmp_path, request)
    original = dump(src)
    total = sum(map(len, original.values()))
    with monkeypatch.context() as mp:
        crash_before_commit(mp, 10)  # creating the destination's schema, then nine batches
        with pytest.raises(_CrashError):
            copy_registry(src, dst, batch=4)
    partial = dump(dst)
    held = sum(map(len, partial.values()))
    # Nine batches committed; the tenth, cut before its commit, left nothing of its own.
    assert 9 * 2 < held <= 9 * 4
    assert all(r == original[name][: len(r)] for name, r in partial.items())
    resumed = copy_registry(src, dst, batch=4)
    assert sum(t.already for t in resumed.tables) == held
    assert resumed.copied == total - held
    assert dump(dst) == original


_FIRST_ALIAS = "SELECT source_id, record_id FROM arxiv_alias ORDER BY source_id, record_id"
_DELETE_ALIAS = "DELETE FROM arxiv_alias WHERE source_id=? AND record_id=?"


@pytest.mark.parametrize("dst_backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    ("why", "spoil", "message"),
    [
        ("another registry's rows", "issue_other", "records holds a row that differs"),
        ("a copied row changed since", "change_last", "records holds a row that differs"),
        ("rows the source does not have", "issue_more", "holds a row the source does not have"),
        ("a row missing before the last", "delete_first_alias", "arxiv_alias holds"),
    ],
    ids=lambda v: v if " " in str(v) else "",
)
def test_a_destination_that_is_not_a_prefix_of_the_source_is_refused_and_left_alone(
    *,
    why: str,
    spoil: str,
    message: str,
    dst_backend: str,
    sqlite_source: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    dst = empty(dst_backend, tmp_path, request)
    work = tmp_path / "other"
    work.mkdir()
    if spoil == "issue_other":
        with open_store(dst) as store:
            Issuer(store, factory.signer(2), lambda: factory.T0, workers=1).run(
                [str(factory.snapshot(work / "in.json", range(50, 53)))]
            )
    else:
        copy_registry(sqlite_source, dst)
        with open_store(dst) as store:
            if spoil == "change_last":
                execute(
                    store,
                    "UPDATE records SET title=? WHERE id=(SELECT MAX(id) FROM records)",
                    ("x",),
                )
            elif spoil == "issue_more":
                Issuer(store, factory.signer(), lambda: factory.T0, workers=1).run(
                    [str(factory.snapshot(work / "in.json", range(70, 71)))]
                )
            else:
                first = rows(store, _FIRST_ALIAS)
                execute(store, _DELETE_ALIAS, first[0])
    before = dump(dst)
    with pytest.raises(RegistryMismatchError, match=r"is not a copy of .* cut short") as refused:
        copy_registry(sqlite_source, dst)
    assert message in refused.value.message
    assert refused.value.exit_code == 1
    assert dump(dst) == before


def test_copying_a_registry_onto_itself_is_refused(
    sqlite_source: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(sqlite_source).parent)
    for same in (sqlite_source, f"sqlite:{sqlite_source}", f"./{Path(sqlite_source).name}"):
        with pytest.raises(UsageError, match="onto itself"):
            copy_registry(sqlite_source, same)
    open_store(pg_url).close()
    for same in (pg_url, pg_url + "?application_name=other"):
        with pytest.raises(UsageError, match="onto itself"):
            copy_registry(pg_url, same)


def test_a_copy_whose_bundles_differ_is_refused_naming_the_record(
    sqlite_source: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = RawTables.insert
    at = TABLE["records"].columns.index("issued_at")

    def insert(self: RawTables, table: Any, batch: Sequence[tuple[Any, ...]]) -> None:
        if table.name == "records":  # the first record issued a second later in the copy
            batch = [
                (*r[:at], "2026-05-17T23:59:23Z", *r[at + 1 :]) if r[0] == 1 else r for r in batch
            ]
        real(self, table, batch)

    monkeypatch.setattr(RawTables, "insert", insert)
    with open_store(sqlite_source) as store:
        year, code = rows(store, "SELECT year, code FROM records WHERE id=1")[0]
    with pytest.raises(RegistryMismatchError, match="copy check failed: the bundle of") as failed:
        copy_registry(sqlite_source, pg_url)
    assert str(PithNumber(year, code)) in failed.value.message


def test_a_batch_below_one_is_a_usage_error(sqlite_source: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--batch"):
        copy_registry(sqlite_source, str(tmp_path / "x.sqlite3"), batch=0)


def test_no_password_reaches_the_result_or_a_refusal(
    sqlite_source: str, pg_url: str, pg_cluster: PgCluster, tmp_path: Path
) -> None:
    password = pg_cluster.pgpass.read_text().strip().rsplit(":", 1)[1]
    with_password = pg_url.replace("postgresql://pith@", f"postgresql://pith:{password}@")
    result = copy_registry(sqlite_source, with_password)  # the library takes one from the env
    assert result.destination == pg_url
    assert password not in json.dumps(result.to_dict())
    other = str(tmp_path / "other.sqlite3")
    open_store(other).close()
    with pytest.raises(RegistryMismatchError) as refused:
        copy_registry(other, with_password)
    assert password not in refused.value.diagnostics()
    assert pg_url in refused.value.message
