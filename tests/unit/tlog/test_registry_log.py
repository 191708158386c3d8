"""The registry's log (issue 16 §1–2): leaves sequenced at issuance, backfill, checkpoints."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from issuer import cjson, registry
from issuer.errors import FormatError
from issuer.pipeline import Issuer
from issuer.reissue import reissue
from issuer.store import Store, _schema, open_store
from issuer.store._db import Db
from issuer.store._sql import SqlStore
from issuer.tlog import (
    CheckpointPolicy,
    MemoryTree,
    decode_state,
    encode_state,
    event_entry,
    leaf_hash,
    make_checkpoint,
    note_key,
    origin_of,
    parse_entry,
    record_entry,
    verify_checkpoint,
)
from issuer.tlog._log import EVENT, RECORD
from tests import factory
from tests.unit._old_registries import old_registry, schema_state

ORIGIN = "registry.example/log"
NOW = "2026-05-18T00:00:00Z"


def _issue(store: Store, tmp_path: Path, numbers: range) -> None:
    data = factory.snapshot(tmp_path / f"in{numbers.start}.json", numbers)
    Issuer(store, factory.signer(), lambda: factory.T0, workers=1).run([str(data)])


@pytest.fixture
def store(registry_url: str) -> Iterator[Store]:
    with open_store(registry_url) as opened:
        yield opened


def _entries(store: Store) -> list[bytes]:
    return list(store.log_entries(0, store.log_size()))


def test_each_record_and_event_is_a_leaf_in_issuance_order(store: Store, tmp_path: Path) -> None:
    _issue(store, tmp_path, range(1, 4))
    records = list(store.records())
    entries = [parse_entry(e) for e in _entries(store)]
    assert [e.kind for e in entries] == [RECORD, EVENT] * 3
    for k, issued in enumerate(records):
        record, created = entries[2 * k], entries[2 * k + 1]
        assert record.pith_number == created.pith_number == issued.pith_number
        assert record.subject == record.signed_digest == issued.record.canonical_sha256
        [event] = store.events(issued.pith_number)
        assert created.subject == event["event_id"]
        assert created.signed_digest == event["content_sha256"]
    # An event appended later is the next leaf, and the record's leaves can be listed.
    number = records[0].pith_number
    added = registry.add_event(
        store, number, "author_attestation", {"n": 1}, factory.signer(), now=factory.T0
    )
    assert store.log_size() == 7
    assert _entries(store)[6] == event_entry(number, added["event_id"])
    assert [i for i, _ in store.log_leaves_of(number)] == [0, 1, 6]


def test_entries_are_canonical_and_strict() -> None:
    entry = record_entry("pith:2024:AAAA", "ab" * 32)
    assert cjson.dumps(cjson.loads(entry)) == entry
    assert parse_entry(entry).to_bytes() == entry
    bad = [
        b'{"kind":"signature"}',
        cjson.dumps({**cjson.loads(entry), "key_id": "k"}),
        entry.replace(b",", b", "),  # not canonical
        cjson.dumps({**cjson.loads(entry), "entry_version": 2}),
        cjson.dumps({**cjson.loads(entry), "signed_digest": "cd" * 32}),
        cjson.dumps({**cjson.loads(event_entry("p", "sha256:" + "ab" * 32)), "event_id": "x"}),
    ]
    for data in bad:
        with pytest.raises(FormatError):
            parse_entry(data)


@pytest.mark.parametrize("where", ["_move_arxiv_aliases", "_record_collisions"])
def test_a_fault_between_statements_leaves_no_record_without_its_leaf_nor_leaf_without_record(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    _issue(store, tmp_path, range(1, 3))

    def crash(*_args: object) -> None:
        raise sqlite3.OperationalError("injected fault")

    with monkeypatch.context() as m:
        m.setattr(SqlStore, where, crash)
        with pytest.raises(sqlite3.OperationalError, match="injected"):
            _issue(store, tmp_path, range(3, 5))
        # append_event sequences its leaf (log_size) into the event's own row
        m.setattr(SqlStore, "log_size", crash)
        number = next(iter(store.records())).pith_number
        with pytest.raises(sqlite3.OperationalError, match="injected"):
            registry.add_event(
                store, number, "author_attestation", {"n": 1}, factory.signer(), now=factory.T0
            )
    assert store.count() == 2
    assert store.log_size() == 4
    assert sum(len(store.events(r.pith_number)) for r in store.records()) == 2
    _issue(store, tmp_path, range(3, 5))  # the next run issues them, with their leaves
    assert store.log_size() == 8
    assert [parse_entry(e).kind for e in _entries(store)] == [RECORD, EVENT] * 4


def test_migration_backfills_the_same_leaves_issuance_would_have_sequenced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    today = tmp_path / "today.sqlite3"
    with open_store(today) as live:
        _issue(live, tmp_path, range(1, 4))
        number = next(iter(live.records())).pith_number
        registry.add_event(
            live, number, "author_attestation", {"n": 1}, factory.signer(), now=factory.T0
        )
        _issue(live, tmp_path, range(4, 6))
        expected = _entries(live)
    assert len(expected) == 11
    old_registry(registry_url, 2, today, monkeypatch)
    with open_store(registry_url) as migrated:
        assert _entries(migrated) == expected


def test_a_crash_during_the_backfill_leaves_the_previous_schema_and_no_leaf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    today = tmp_path / "today.sqlite3"
    with open_store(today) as live:
        _issue(live, tmp_path, range(1, 4))
    old_registry(registry_url, 2, today, monkeypatch)
    real = _schema.BACKFILLS[3]

    def crash(db: Db) -> None:
        real(db)  # every leaf is inserted, then the process dies before the commit
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setitem(_schema.BACKFILLS, 3, crash)
        with pytest.raises(KeyboardInterrupt):
            open_store(registry_url)
    version, tables, _ = schema_state(registry_url)
    assert version == 2 and "log_leaves" not in tables
    with open_store(registry_url) as migrated:
        assert migrated.log_size() == 6


def test_reissue_adds_no_leaf_and_changes_none(store: Store, tmp_path: Path) -> None:
    _issue(store, tmp_path, range(1, 4))
    before = _entries(store)
    summary = reissue(store, factory.signer(2), now=factory.T0 + timedelta(days=40))
    assert summary.to_dict()["resigned"]["receipts"] == 3
    assert _entries(store) == before


def test_checkpoints_sign_the_root_and_resume_from_the_stored_state(
    store: Store, tmp_path: Path
) -> None:
    key = factory.signer()
    policy = CheckpointPolicy(note_key(ORIGIN, key.public_key.raw))
    _issue(store, tmp_path, range(1, 4))
    first = make_checkpoint(store, key, ORIGIN, NOW)
    assert first.id and first.tree_size == 6
    assert make_checkpoint(store, key, ORIGIN, NOW) == first  # nothing new: the same one
    _issue(store, tmp_path, range(4, 301))  # crosses a full tile (256 leaves)
    second = make_checkpoint(store, key, ORIGIN, NOW)
    tree = MemoryTree(leaf_hash(e) for e in _entries(store))
    verified = verify_checkpoint(second.note, policy)
    assert verified.checkpoint.size == second.tree_size == 600
    assert verified.checkpoint.root_hash == tree.root() == second.root_hash
    assert encode_state(decode_state(second.state)) == second.state
    # Another origin, or another key: a new checkpoint of the same tree.
    other = make_checkpoint(store, factory.signer(2), ORIGIN, NOW)
    assert other.id != second.id and other.root_hash == second.root_hash
    assert [c.id for c in store.checkpoints()] == [first.id, second.id, other.id]
    assert store.checkpoints(latest=True) == [other]


def test_origin_is_host_and_path_of_the_base_url() -> None:
    assert origin_of("https://pith.science/log/") == "pith.science/log"
    assert origin_of("http://127.0.0.1:8080") == "127.0.0.1:8080"
    for bad in ("file:///x", "https://a.example/with space"):
        with pytest.raises(ValueError, match=r"host|origin"):
            origin_of(bad)
