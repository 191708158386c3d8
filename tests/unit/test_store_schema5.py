"""Schema 5: leaves in their record's and event's rows, no key that repeats another (both backends).

A record's own leaf index is in its row, an event's in the event's row
(log_leaves goes); the events table keeps its row id, its leaf and the chain
slot ``(record_id, target, prev_event)``; arxiv_alias is keyed by record. A
schema 4 registry migrates whole, or stays at schema 4.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from issuer import registry
from issuer.errors import StoreError
from issuer.events import build_event
from issuer.pipeline import Issuer
from issuer.store import SCHEMA_VERSION, Store, _schema, open_store
from issuer.store._db import Db
from issuer.store._sql_log import _EVENT_LEAVES, _LEAVES_OF, _RECORD_LEAVES
from tests import factory
from tests.registry_sql import db_of, execute, record_row_id, rows
from tests.unit._old_registries import index_columns, schema_state, v4_registry

KEY = factory.signer()

#: The keys of the tables schema 5 changes, at schema 4 and at schema 5.
SCHEMA_4_KEYS = {
    "arxiv_alias": {"UNIQUE source_id, record_id"},
    "events": {"UNIQUE id", "UNIQUE record_id, event_id", "UNIQUE record_id, target, prev_event"},
    "log_leaves": {"UNIQUE leaf_index", "UNIQUE event_row", "record_id", "UNIQUE record_id"},
    "records": {"UNIQUE id", "UNIQUE code", "UNIQUE source_id, version"},
}
SCHEMA_5_KEYS = {
    "arxiv_alias": {"UNIQUE record_id"},
    "events": {"UNIQUE id", "UNIQUE leaf_index", "UNIQUE record_id, target, prev_event"},
    "records": {"UNIQUE id", "UNIQUE code", "UNIQUE source_id, version", "UNIQUE leaf_index"},
}
_NEW_TABLES = {"arxiv_alias_v5", "events_v5"}


def _registry(store: Store, tmp_path: Path) -> None:
    """Five records, then a second version of one; one record with a chain of two more events."""
    data = factory.snapshot(tmp_path / "in.json", range(1, 6))
    Issuer(store, KEY, lambda: factory.T0).run([str(data)])
    data = factory.snapshot(tmp_path / "v2.json", range(1, 2), versions=2)
    Issuer(store, KEY, lambda: factory.T0 + timedelta(days=1)).run([str(data)])
    number = next(iter(store.records())).pith_number
    registry.add_event(store, number, "author_attestation", {"orcid": "x"}, KEY, now=factory.T0)
    registry.add_event(store, number, "author_attestation", {"orcid": "y"}, KEY, now=factory.T0)


def _everything(store: Store) -> list[Any]:
    """Every record's bytes and leaves, the whole log, and the re-issuance batch."""
    out: list[Any] = [list(store.log_entries(0, store.log_size()))]
    for issued in store.records():
        number = issued.pith_number
        out.append(
            (
                number,
                store.receipt(number),
                store.events(number),
                store.log_leaves_of(number),
                store.current_arxiv(issued.record.source_id),
                store.alias_history(issued.record.source_id),
            )
        )
    out.append(store.signed_batch(0, 1 << 30))
    return out


def _keys(url: str) -> dict[str, set[str]]:
    found = index_columns(url)
    return {t: found[t] for t in ("arxiv_alias", "events", "log_leaves", "records") if t in found}


def _v4_fixture(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    today = tmp_path / "today.sqlite3"
    with open_store(today) as live:
        _registry(live, tmp_path)
        expected = _everything(live)
    v4_registry(url, today, monkeypatch)
    return expected


def test_a_schema_4_registry_migrates_to_5_and_gives_back_every_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    expected = _v4_fixture(tmp_path, registry_url, monkeypatch)
    assert schema_state(registry_url)[0] == 4
    assert _keys(registry_url) == SCHEMA_4_KEYS
    with open_store(registry_url) as migrated:
        assert _everything(migrated) == expected
        # The migrated tables take new rows, under the keys of schema 5.
        number = next(iter(migrated.records())).pith_number
        registry.add_event(
            migrated, number, "author_attestation", {"orcid": "z"}, KEY, now=factory.T0
        )
        assert len(migrated.log_leaves_of(number)) in (3, 5)
    version, tables, _ = schema_state(registry_url)
    assert version == SCHEMA_VERSION == 5
    assert not ({"log_leaves"} | _NEW_TABLES) & tables
    assert _keys(registry_url) == SCHEMA_5_KEYS


def test_a_crash_during_migration_5_leaves_schema_4_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    expected = _v4_fixture(tmp_path, registry_url, monkeypatch)

    real = _schema.BACKFILLS[5]

    def crash(db: Db) -> None:
        real(db)  # every leaf is moved and log_leaves dropped, then the process dies
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setitem(_schema.BACKFILLS, 5, crash)
        with pytest.raises(KeyboardInterrupt):
            open_store(registry_url)
    version, tables, _ = schema_state(registry_url)
    assert version == 4 and "log_leaves" in tables and not _NEW_TABLES & tables
    assert _keys(registry_url) == SCHEMA_4_KEYS
    with open_store(registry_url) as migrated:  # the migration then runs from the start
        assert _everything(migrated) == expected
    assert _keys(registry_url) == SCHEMA_5_KEYS


def test_a_new_registry_has_the_keys_of_schema_5(tmp_path: Path, registry_url: str) -> None:
    with open_store(registry_url) as store:
        _registry(store, tmp_path)
    assert _keys(registry_url) == SCHEMA_5_KEYS


def test_every_leaf_is_found_by_its_record(tmp_path: Path, registry_url: str) -> None:
    with open_store(registry_url) as store:
        _registry(store, tmp_path)
        found = [leaf for r in store.records() for leaf in store.log_leaves_of(r.pith_number)]
        entries = list(store.log_entries(0, store.log_size()))
    assert sorted(found) == list(enumerate(entries))
    assert len(entries) == 6 * 2 + 2


Params = Callable[[int, int], tuple[Any, ...]]
# (statement, parameters as a function of (record row, its record_created event row)).
_COPY_EVENT = (
    "INSERT INTO events(id, record_id, leaf_index, event_id, target, event_type, prev_event, "
    "created_at, event_json) SELECT 100, record_id, 1000, {event_id}, target, event_type, "
    "prev_event, created_at, ? FROM events WHERE id=?"
)
_REFUSED: dict[str, tuple[str, Params]] = {
    "a record's leaf that another record holds": (
        "UPDATE records SET leaf_index=(SELECT MAX(leaf_index) FROM records) WHERE id=?",
        lambda record, event: (record,),
    ),
    "an event's leaf that another event holds": (
        "UPDATE events SET leaf_index=(SELECT MAX(leaf_index) FROM events) WHERE id=?",
        lambda record, event: (event,),
    ),
    "the same event again (its id, hence its chain slot)": (
        _COPY_EVENT.format(event_id="event_id"),
        lambda record, event: (b"{}", event),
    ),
    "another event in a taken chain slot": (
        _COPY_EVENT.format(event_id="'sha256:' || event_id"),
        lambda record, event: (b"{}", event),
    ),
}


@pytest.mark.parametrize("case", list(_REFUSED), ids=list(_REFUSED))
def test_the_keys_of_schema_5_refuse_a_second_row(
    case: str, tmp_path: Path, registry_url: str
) -> None:
    statement, params = _REFUSED[case]
    with open_store(registry_url) as store:
        _registry(store, tmp_path)
        number = next(iter(store.records())).pith_number
        record = record_row_id(store, number)
        [(event,)] = rows(
            store,
            "SELECT id FROM events WHERE record_id=? AND event_type='record_created'",
            (record,),
        )
        with pytest.raises(db_of(store).conflicts):
            execute(store, statement, params(record, event))


def test_the_writer_sequences_every_leaf_once_with_no_gap(
    tmp_path: Path, registry_url: str
) -> None:
    """One leaf index per record and per event, 0..n-1 across both tables (no key spans them)."""
    with open_store(registry_url) as store:
        _registry(store, tmp_path)
        number = next(iter(store.records())).pith_number
        registry.add_event(store, number, "author_attestation", {"n": 3}, KEY, now=factory.T0)
        data = factory.snapshot(tmp_path / "more.json", range(6, 9))
        Issuer(store, KEY, lambda: factory.T0).run([str(data)])
        leaves = [
            i
            for (i,) in rows(
                store,
                "SELECT leaf_index FROM records UNION ALL SELECT leaf_index FROM events",
            )
        ]
        assert sorted(leaves) == list(range(store.log_size()))
        assert store.log_size() == 9 * 2 + 3


_MISSING = {
    "a record's own leaf": "DELETE FROM log_leaves WHERE event_row IS NULL AND record_id=1",
    "an event's leaf": "DELETE FROM log_leaves WHERE event_row=(SELECT MAX(id) FROM events)",
}


@pytest.mark.parametrize("case", list(_MISSING), ids=list(_MISSING))
def test_a_schema_4_log_missing_a_leaf_stops_the_migration(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    _v4_fixture(tmp_path, registry_url, monkeypatch)
    if registry_url.startswith("postgresql://"):
        with psycopg.connect(registry_url) as conn:
            conn.execute(_MISSING[case])
    else:
        with sqlite3.connect(registry_url) as db:
            db.execute(_MISSING[case])
        db.close()
    with pytest.raises(StoreError, match="are not one per record") as refused:
        open_store(registry_url)
    assert "left at schema 4" in refused.value.message
    version, tables, _ = schema_state(registry_url)
    assert version == 4 and "log_leaves" in tables and not _NEW_TABLES & tables
    assert _keys(registry_url) == SCHEMA_4_KEYS


_READS = {
    "of a record": _LEAVES_OF,
    "records in a range": _RECORD_LEAVES,
    "events in a range": _EVENT_LEAVES,
}


@pytest.mark.parametrize("name", list(_READS), ids=list(_READS))
def test_leaves_are_read_through_keys_not_a_scan(name: str, tmp_path: Path) -> None:
    query = _READS[name]
    path = tmp_path / "r.sqlite3"
    with open_store(path) as store:
        _registry(store, tmp_path)
    db = sqlite3.connect(path)
    try:
        plan = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + query, (1, 5))]
    finally:
        db.close()
    assert not [step for step in plan if step.startswith("SCAN")], plan
    if name != "of a record":  # a range of the whole log: streamed in leaf order, no sort
        assert not [step for step in plan if "TEMP B-TREE" in step], plan
        assert any("leaf_index" in step for step in plan), plan


def test_a_range_of_leaves_merges_records_and_events_in_order(
    tmp_path: Path, registry_url: str
) -> None:
    with open_store(registry_url) as store:
        _registry(store, tmp_path)
        size = store.log_size()
        whole = list(store.log_entries(0, size))
        by_record = dict(
            leaf for r in store.records() for leaf in store.log_leaves_of(r.pith_number)
        )
        assert whole == [by_record[i] for i in range(size)]
        assert list(store.log_entries(3, 9)) == whole[3:9]
        assert list(store.log_entries(size, size + 5)) == []


def test_an_event_id_hashes_its_subject_and_prev_event() -> None:
    """Why the chain slot key is enough: one event id, one (record, target, prev_event)."""
    first = build_event("author_attestation", "pith:2024:A", {"a": 1}, KEY, factory.T0)
    again = build_event("author_attestation", "pith:2024:A", {"a": 1}, KEY, factory.T0)
    after = build_event(
        "author_attestation", "pith:2024:A", {"a": 1}, KEY, factory.T0, prev_event=first["event_id"]
    )
    other = build_event("author_attestation", "pith:2024:B", {"a": 1}, KEY, factory.T0)
    assert first["event_id"] == again["event_id"]
    assert len({first["event_id"], after["event_id"], other["event_id"]}) == 3


def _refuse_updates(path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute(
            "CREATE TRIGGER no_update BEFORE UPDATE ON arxiv_alias "
            "BEGIN SELECT RAISE(ABORT, 'arxiv_alias row updated'); END"
        )
        db.commit()
    finally:
        db.close()


def test_versions_issued_in_one_batch_write_each_alias_row_once(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    open_store(path).close()
    _refuse_updates(path)
    lines = [factory.snapshot_line(1, versions=v) for v in (1, 2, 4, 3)]
    data = tmp_path / "in.json"
    data.write_bytes(b"".join(lines))
    with open_store(path) as store:
        Issuer(store, KEY, lambda: factory.T0).run([str(data)])
        history = store.alias_history("2401.00001")
        [current] = store.current_arxiv("2401.00001")
    stamp = "2026-05-17T23:59:22Z"
    assert [(h["version"], h["since"], h["until"]) for h in history] == [
        (1, stamp, stamp),
        (2, stamp, stamp),
        (4, stamp, None),
        (3, stamp, stamp),  # issued after 4: history only
    ]
    assert current == history[2]["pith_number"]
    # A version issued later moves the alias of a row committed before: that one is updated.
    data.write_bytes(factory.snapshot_line(1, versions=5))
    with (
        open_store(path) as store,
        pytest.raises(sqlite3.IntegrityError, match="arxiv_alias row updated"),
    ):
        Issuer(store, KEY, lambda: factory.T0).run([str(data)])
