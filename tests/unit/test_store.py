"""The registry store and the issuance pipeline, through the library."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from issuer import registry
from issuer.errors import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, FormatError, StoreError
from issuer.events import build_event
from issuer.identifiers import PithNumber
from issuer.keys.keyset import KeySet
from issuer.pipeline import Issuer, IssueSummary, Reject, sign_records
from issuer.publish import publish
from issuer.record import CanonicalRecord
from issuer.sources import SourceMetadata, read_stream
from issuer.store import SCHEMA_VERSION, NewRecord, Store, _schema, open_store
from issuer.store._db import Transaction
from issuer.store._postgres import PostgresDb
from issuer.store._sqlite import SqliteDb
from issuer.verify import verify_bundle
from tests import factory
from tests.conftest import SAMPLES
from tests.registry_sql import db_of, execute, rows
from tests.unit._old_registries import old_registry, schema_state

ARXIVRAW = SAMPLES / "oai" / "arXivOAIHarvester_arXivRaw_ListRecordsResponse.xml"


@pytest.fixture
def store(tmp_path: Path, registry_url: str) -> Iterator[Store]:
    with open_store(registry_url) as opened:
        yield opened


def _issue(
    store: Store, *paths: Path, workers: int = 1, batch_size: int = 1000
) -> tuple[IssueSummary, list[Reject]]:
    rejects: list[Reject] = []
    summary = Issuer(
        store,
        factory.signer(),
        lambda: factory.T0,
        on_reject=rejects.append,
        workers=workers,
        batch_size=batch_size,
    ).run([str(p) for p in paths])
    return summary, rejects


def _metas(path: Path) -> list[SourceMetadata]:
    with path.open("rb") as stream:
        return [m for m in read_stream(stream, str(path)) if isinstance(m, SourceMetadata)]


def test_new_registry_is_wal_and_at_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    open_store(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()
    open_store(path).close()  # reopening does not migrate again (CREATE TABLE would fail)


def test_a_registry_from_a_newer_toolkit_is_refused(registry_url: str) -> None:
    with open_store(registry_url) as store:
        if store.backend == "sqlite":
            db_of(store).execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
        else:  # the pith_schema table
            execute(store, "UPDATE pith_schema SET version=?", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer than this toolkit"):
        open_store(registry_url)
    assert schema_state(registry_url)[0] == SCHEMA_VERSION + 1  # and it is left as it was


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="is not an SQLite database, so not a registry"):
        open_store(path)
    assert path.read_bytes() == b"not a database" * 100  # left as it was


def test_an_empty_file_another_issuer_is_creating_is_waited_for_not_refused(
    tmp_path: Path,
) -> None:
    """Two issuers at once on a new registry: the second may find it still empty."""
    made = tmp_path / "made.sqlite3"
    open_store(made).close()
    path = tmp_path / "r.sqlite3"
    path.touch()  # as SQLite leaves it, for a moment, before it writes the header
    writer = threading.Timer(0.3, lambda: path.write_bytes(made.read_bytes()))
    writer.start()
    try:
        with open_store(path) as store:
            assert store.count() == 0
    finally:
        writer.join()
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    with pytest.raises(StoreError, match="is an empty file, not a registry"):
        open_store(empty)
    assert empty.read_bytes() == b""


def test_issue_writes_record_receipt_event_and_aliases_and_the_bundle_verifies(
    store: Store,
) -> None:
    summary, rejects = _issue(store, ARXIVRAW)
    metas = _metas(ARXIVRAW)
    assert (summary.issued, summary.refused, rejects) == (len(metas), 0, [])
    assert summary.exit_code == EXIT_OK
    assert store.count() == len(metas)
    for issued in store.records():
        number = issued.pith_number
        assert PithNumber.for_record(issued.record) == issued.number
        [created] = store.events(number)
        assert created["event_type"] == "record_created"
        assert created["payload"]["receipt"] == store.receipt(number)
        assert created["payload"]["canonical_record"] == issued.record.to_dict()
        assert [a["alias_kind"] for a in issued.aliases] == [
            "arxiv",
            "arxiv_version",
            "doi",
            "pith_short_12",
            "pith_short_16",
            "pith_short_8",
        ]
        built = registry.bundle(store, number, factory.signer(), factory.T0, factory.BASE_URL)
        verify_bundle(built, KeySet([factory.signer().public_key]))  # raises on any failure


def test_issuing_the_same_input_again_issues_nothing(store: Store) -> None:
    first, _ = _issue(store, ARXIVRAW)
    rows = _table_sizes(store)
    again, rejects = _issue(store, ARXIVRAW)
    assert (again.issued, again.already_issued, rejects) == (0, first.issued, [])
    assert _table_sizes(store) == rows


def _table_sizes(store: Store) -> dict[str, int]:
    tables = ("records", "events", "arxiv_alias", "short_collisions")
    return {t: rows(store, f"SELECT COUNT(*) FROM {t}")[0][0] for t in tables}  # noqa: S608


def test_the_same_record_twice_in_one_input_is_issued_once(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "twice.json"
    path.write_bytes(factory.snapshot_line(1) * 2)
    summary, _ = _issue(store, path)
    assert (summary.issued, summary.already_issued, store.count()) == (1, 1, 1)


def test_a_newer_version_moves_the_arxiv_alias_and_keeps_its_history(
    store: Store, tmp_path: Path
) -> None:
    _issue(store, factory.snapshot(tmp_path / "v1.json", range(1, 2)))
    [v1] = store.current_arxiv("2401.00001")
    _issue(store, factory.snapshot(tmp_path / "v2.json", range(1, 2), versions=2))
    [v2] = store.current_arxiv("2401.00001")
    assert v2 != v1
    assert registry.resolve(store, "2401.00001").unique == v2
    assert registry.resolve(store, "arXiv:2401.00001v1").unique == v1
    assert registry.resolve(store, "10.48550/arXiv.2401.00001").unique == v2
    history = store.alias_history("2401.00001")
    assert [(h["pith_number"], h["version"]) for h in history] == [(v1, 1), (v2, 2)]
    assert history[0]["until"] is not None and history[1]["until"] is None
    # The old record keeps its own arxiv alias in its bundle: aliases are as issued.
    old = store.record(v1)
    assert old is not None
    assert old.aliases[0] == {
        "alias_kind": "arxiv",
        "alias_value": "2401.00001",
        "created_at": "2026-05-17T23:59:22Z",
    }


def test_an_older_version_issued_late_never_takes_the_alias(store: Store, tmp_path: Path) -> None:
    _issue(store, factory.snapshot(tmp_path / "v3.json", range(1, 2), versions=3))
    [v3] = store.current_arxiv("2401.00001")
    _issue(store, factory.snapshot(tmp_path / "v1.json", range(1, 2)))
    assert store.current_arxiv("2401.00001") == [v3]
    assert [h["version"] for h in store.alias_history("2401.00001")] == [3, 1]


def test_a_newer_version_signed_earlier_but_committed_later_keeps_the_history_in_order(
    store: Store, tmp_path: Path
) -> None:
    """Two issuers: one signs v2 at T0+5s and commits; the other signed v3 at T0, commits next."""
    v2 = factory.snapshot(tmp_path / "v2.json", range(1, 2), versions=2)
    v3 = factory.snapshot(tmp_path / "v3.json", range(1, 2), versions=3)
    Issuer(store, factory.signer(), lambda: factory.T0 + timedelta(seconds=5)).run([str(v2)])
    Issuer(store, factory.signer(), lambda: factory.T0).run([str(v3)])
    history = store.alias_history("2401.00001")
    assert [h["version"] for h in history] == [2, 3]
    assert all(h["until"] is None or h["since"] <= h["until"] for h in history)
    # The alias moved when v3 was committed after v2: not before v2 took it.
    assert history[0]["until"] == history[1]["since"] == history[0]["since"]
    assert history[1]["until"] is None


def test_versions_within_one_batch_leave_exactly_one_current(store: Store, tmp_path: Path) -> None:
    lines = [factory.snapshot_line(1, versions=v) for v in (2, 1, 3)]
    (tmp_path / "mixed.json").write_bytes(b"".join(lines))
    _issue(store, tmp_path / "mixed.json")
    [current] = store.current_arxiv("2401.00001")
    assert store.record(current) is not None
    assert store.by_version("2401.00001", 3) == [current]
    assert len(store.alias_history("2401.00001")) == 3


def test_a_changed_version_is_a_conflict_and_goes_to_the_rejects(
    store: Store, tmp_path: Path
) -> None:
    _issue(store, factory.snapshot(tmp_path / "a.json", range(1, 3)))
    changed = tmp_path / "b.json"
    changed.write_bytes(factory.snapshot_line(2, title="A different title"))
    summary, rejects = _issue(store, changed)
    assert (summary.issued, summary.conflicts, summary.exit_code) == (0, 1, EXIT_REFUSED)
    [reject] = rejects
    assert reject.location == f"{changed}:1"
    assert reject.record_id == "2401.00002"
    assert "versions are immutable" in reject.reason
    assert store.count() == 2


def test_refused_records_are_reported_with_location_and_the_run_goes_on(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.json"
    path.write_bytes(
        factory.snapshot_line(1) + b'{"id": "2401.00002", "truncated\n' + factory.snapshot_line(3)
    )
    missing = tmp_path / "missing.json"
    summary, rejects = _issue(store, path, missing)
    assert (summary.issued, summary.refused) == (2, 1)
    assert summary.failed_files == [str(missing)]
    assert [r.location for r in rejects] == [f"{path}:2", str(missing)]
    assert summary.exit_code == EXIT_USAGE  # an unreadable input


def test_refused_formats_name_why(store: Store) -> None:
    atom = SAMPLES / "atom" / "arxivpy_2016_id_list_1111.2011v2.xml"
    summary, rejects = _issue(store, atom)
    assert summary.issued == 0 and summary.exit_code == EXIT_REFUSED
    assert rejects and "license" in rejects[0].reason


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_issue_exactly_what_one_process_issues(
    tmp_path: Path, registry_url: str, workers: int
) -> None:
    path = factory.snapshot(tmp_path / "in.json", range(1, 251))
    with open_store(registry_url) as store:
        summary, _ = _issue(store, path, workers=workers, batch_size=40)
        got = {(i.pith_number, i.issued_at) for i in store.records()}
        events = {store.events(n)[0]["event_id"] for n, _ in got}
    assert summary.issued == 250 == len(got) == len(events)
    expected = {
        (n.pith_number, n.issued_at)
        for n in sign_records(_metas(path), factory.signer(), factory.T0)
        if isinstance(n, NewRecord)
    }
    assert got == expected


def _forced(codes: list[str], tmp_path: Path) -> list[NewRecord]:
    """Records with chosen codes: SHA-256 prefixes cannot be made to collide on demand."""
    path = factory.snapshot(tmp_path / "forced.json", range(1, len(codes) + 1))
    out = []
    for meta, code in zip(_metas(path), codes, strict=True):
        [signed] = sign_records([meta], factory.signer(), factory.T0)
        assert isinstance(signed, NewRecord)
        out.append(
            NewRecord(**{**{f: getattr(signed, f) for f in NewRecord.__slots__}, "code": code})
        )
    return out


def test_short_alias_collisions_are_recorded_and_resolve_names_every_candidate(
    store: Store, tmp_path: Path
) -> None:
    a, b, c = _forced(
        ["AAAAAAAABBBBCCCCDDDDEEEEFF", "AAAAAAAABBBBZZZZDDDDEEEEFF", "AAAAAAA2BBBBCCCCDDDDEEEEFF"],
        tmp_path,
    )
    assert store.write_records([a])[1] == 0
    written, collisions = store.write_records([b, c])
    assert len(written) == 2
    assert collisions == 4  # a and b share both 8 and 12 characters
    assert {
        (x["alias_kind"], x["alias_value"], x["pith_number"]) for x in store.short_collisions()
    } == {
        ("pith_short_8", "AAAAAAAA", a.pith_number),
        ("pith_short_8", "AAAAAAAA", b.pith_number),
        ("pith_short_12", "AAAAAAAABBBB", a.pith_number),
        ("pith_short_12", "AAAAAAAABBBB", b.pith_number),
    }
    short8 = registry.resolve(store, "pith:AAAAAAAA")
    assert short8.kind == "pith_short_8"
    assert short8.candidates == sorted([a.pith_number, b.pith_number])
    assert short8.unique is None
    assert registry.resolve(store, "pith:AAAAAAAABBBBCCCC").unique == a.pith_number
    assert registry.resolve(store, "pith:AAAAAAA2").unique == c.pith_number


def test_collisions_are_counted_by_the_pipeline(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory.force_code_prefix(monkeypatch, "COLLIDE7")
    summary, _ = _issue(store, factory.snapshot(tmp_path / "in.json", range(1, 4)))
    assert summary.issued == 3
    assert summary.collisions == 3
    assert len(registry.resolve(store, "pith:COLLIDE7").candidates) == 3


def test_events_chain_and_a_stale_head_cannot_fork_the_chain(store: Store, tmp_path: Path) -> None:
    _issue(store, factory.snapshot(tmp_path / "in.json", range(1, 2)))
    [number] = store.current_arxiv("2401.00001")
    key = factory.signer()
    first = registry.add_event(store, number, "author_attestation", {"n": 1}, key, now=factory.T0)
    second = registry.add_event(store, number, "author_attestation", {"n": 2}, key, now=factory.T0)
    assert first["prev_event"] is None and second["prev_event"] == first["event_id"]
    assert store.chain_head(number, "author") == second["event_id"]
    fork = build_event(
        "author_attestation", number, {"n": 3}, key, factory.T0, prev_event=first["event_id"]
    )
    with pytest.raises(StoreError, match="chain head moved"):
        store.append_event(fork)
    state = registry.show(store, number)["state"]
    assert state["equivocation_count"] == 0 and state["valid_event_count"] == 3


def test_unknown_records_and_bad_numbers_are_clear_errors(store: Store) -> None:
    with pytest.raises(StoreError, match="no record"):
        registry.show(store, "pith:2024:AAAAAAAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(Exception, match="pith"):
        registry.show(store, "not-a-number")


def test_a_registry_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot open registry"):
        open_store(tmp_path / "file" / "registry.sqlite3")


def test_a_record_that_cannot_be_canonicalized_is_refused_and_the_run_goes_on(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = CanonicalRecord.from_source

    def failing(meta: SourceMetadata) -> CanonicalRecord:
        if meta.arxiv_id == "2401.00002":
            raise FormatError("cannot canonicalize this one")
        return real(meta)

    monkeypatch.setattr(CanonicalRecord, "from_source", staticmethod(failing))
    path = factory.snapshot(tmp_path / "in.json", range(1, 4))
    summary, rejects = _issue(store, path)
    assert (summary.issued, summary.refused, summary.exit_code) == (2, 1, EXIT_REFUSED)
    assert [(r.location, r.record_id) for r in rejects] == [(f"{path}:2", "2401.00002")]


def _v1_registry(url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """A registry as the previous release wrote it (schema 1), holding three records.

    Built from migration 1 (the previous release's whole schema, unchanged) and
    filled with the rows of a registry issued today, minus what schema 2 added.
    """
    with open_store(tmp_path / "today.sqlite3") as today:
        _issue(today, factory.snapshot(tmp_path / "in.json", range(1, 4)))
        numbers = [i.pith_number for i in today.records()]
    old_registry(url, 1, tmp_path / "today.sqlite3", monkeypatch)
    return numbers


def test_a_registry_of_the_previous_schema_is_migrated_and_publishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    numbers = _v1_registry(registry_url, monkeypatch, tmp_path)
    with open_store(registry_url) as store:
        assert [i.pith_number for i in store.records()] == numbers
        assert all(i.title is None for i in store.records())  # not kept before schema 2
        summary = publish(
            store, tmp_path / "site", factory.signer(), base_url="https://x.example", now=factory.T0
        )
        assert (summary.written, summary.refused) == (3, 0)
        assert rows(store, "SELECT COUNT(*) FROM published")[0][0] == 3
        assert store.log_size() == 6  # migration 3 logged the records and their events
    assert schema_state(registry_url)[0] == SCHEMA_VERSION == 5


def test_a_migration_that_fails_midway_leaves_the_previous_schema_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    numbers = _v1_registry(registry_url, monkeypatch, tmp_path)
    with monkeypatch.context() as m:
        # The last statement fails, after the others ran: as if killed inside the migration.
        m.setitem(_schema.MIGRATIONS, 2, _schema.MIGRATIONS[2] + "; SELECT no_such_function()")
        with pytest.raises(StoreError, match="cannot open registry"):
            open_store(registry_url)
    version, tables, columns = schema_state(registry_url)
    assert version == 1
    assert "published" not in tables and "publish_trees" not in tables
    assert "records" in tables and "title" not in columns
    with open_store(registry_url) as store:  # the real migration then runs from the start
        assert [i.pith_number for i in store.records()] == numbers


def test_an_issuer_that_waited_for_another_issuers_migration_does_not_migrate_again(
    pg_url: str,
) -> None:
    """Two issuers open a new PostgreSQL registry at once: the second waits, then finds it made.

    Its write transaction began before the first one's migration committed;
    PostgreSQL's catalog cache of that transaction must not hide the new tables.
    """
    first = PostgresDb(pg_url, "first")
    first.begin_write()  # the first issuer holds the write lock, about to migrate
    opened: list[Store | StoreError] = []

    def second() -> None:
        try:
            opened.append(open_store(pg_url))
        except StoreError as e:  # handed to the test thread
            opened.append(e)

    waiting = threading.Thread(target=second)
    waiting.start()
    with psycopg.connect(pg_url, autocommit=True) as watch:
        while not opened and watch.execute(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype='advisory' AND NOT granted "
            "AND database=(SELECT oid FROM pg_database WHERE datname=current_database())"
        ).fetchone() != (1,):
            time.sleep(0.01)  # until the second issuer waits for the lock (observed)
    for step in range(1, SCHEMA_VERSION + 1):  # what SqlStore._migrate_to does, as the first
        for statement in _schema.MIGRATIONS[step].split(";"):
            if statement.strip():
                first.execute(first.ddl(statement))
        first.set_schema_version(step)
    first.commit()
    first.close()
    waiting.join()
    [store] = opened
    assert not isinstance(store, StoreError), store
    with store:
        assert store.count() == 0
    assert schema_state(pg_url)[0] == SCHEMA_VERSION


def test_the_title_as_issued_is_kept(store: Store, tmp_path: Path) -> None:
    path = factory.snapshot(tmp_path / "in.json", range(1, 2))
    [signed] = sign_records(_metas(path), factory.signer(), factory.T0)
    assert isinstance(signed, NewRecord)
    titled = NewRecord(**{**{f: getattr(signed, f) for f in NewRecord.__slots__}, "title": "T"})
    store.write_records([titled])
    [issued] = store.records()
    assert issued.title == "T"


@pytest.mark.parametrize(
    "alias",
    [
        "10.48550/arXiv.math.GT/0309136",
        "10.48550/arxiv.math.gt/0309136",
        "10.48550/ARXIV.MATH.GT/0309136",
        "https://doi.org/10.48550/arXiv.math.GT/0309136",
        "doi:10.48550/arXiv.math.GT/0309136",
    ],
)
def test_dois_resolve_case_insensitively_for_old_style_ids(
    store: Store, tmp_path: Path, alias: str
) -> None:
    line = json.loads(factory.snapshot_line(1))
    line["id"] = "math.GT/0309136"
    line["categories"] = "math.GT"
    path = tmp_path / "old.json"
    path.write_text(json.dumps(line) + "\n")
    summary, rejects = _issue(store, path)
    assert (summary.issued, rejects) == (1, [])
    [number] = store.current_arxiv("math.GT/0309136")
    found = registry.resolve(store, alias)
    assert (found.kind, found.unique) == ("doi", number)
    assert registry.resolve(store, "10.48550/ARXIV.2401.00001").candidates == []


def test_an_interrupt_after_commit_stays_an_interrupt(registry_url: str) -> None:
    """Ctrl-C landing just after COMMIT must not turn into "no transaction is active"."""
    with open_store(registry_url) as store:
        db = db_of(store)
        with pytest.raises(KeyboardInterrupt), Transaction(db):
            db.execute("COMMIT")  # the interrupt lands right after this ran
            raise KeyboardInterrupt
        with pytest.raises(KeyboardInterrupt), Transaction(db):
            raise KeyboardInterrupt  # and mid-transaction, it rolls back as before
        assert isinstance(db, SqliteDb | PostgresDb)
        assert not db.in_transaction
