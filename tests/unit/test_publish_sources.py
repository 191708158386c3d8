"""The batched read publishing builds from, against reading each record as before.

``Store.publish_sources`` reads a batch of records with their events, newest
event row and log leaves in one statement per range of row ids, and builds a
compact ``record_created`` event as an object instead of rebuilding its JSON
and parsing it. With ``_sql_publish._FAST`` off it reads each record through
``record``, ``events_mark``, ``events`` and ``log_leaves_of``, as publishing
did before. Both must give the same objects (with the same key order), the
same refusals, and publish byte-identical trees (the second also with each
bundle serialized whole, as before), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from issuer import cjson, registry
from issuer import publish as publishing
from issuer.bundles import BuiltBundle, build_bundle
from issuer.errors import FormatError
from issuer.publish import publish
from issuer.store import PublishSource, Store, _sql_publish, open_store
from tests import factory
from tests.registry_sql import db_of, execute, issue, record_row_id, rows

A = "https://a.example"


@pytest.fixture
def store(tmp_path: Path, registry_url: str) -> Iterator[Store]:
    """Fifty records, some with events of other kinds and rows kept whole, one broken."""
    with open_store(registry_url) as opened:
        issue(opened, tmp_path, range(1, 51))
        _vary(opened)
        yield opened


def _number(store: Store, source_id: str) -> str:
    [number] = store.current_arxiv(source_id)
    return number


def _vary(store: Store) -> None:
    signer = factory.signer()
    # Events of other kinds (their payloads are kept with the event row).
    for n in (2, 5, 7):
        number = _number(store, f"2401.{n:05d}")
        registry.add_event(store, number, "author_attestation", {"n": n}, signer, now=factory.T0)
    registry.add_event(
        store,
        _number(store, "2401.00005"),
        "graph_snapshot",
        {"graph_snapshot": {"paper": {"title": "T", "authors_text": "A"}}, "verdict_id": None},
        signer,
        now=factory.T0,
    )
    # A re-stored receipt (the record_created payload is then kept with its event).
    row_id = record_row_id(store, _number(store, "2401.00009"))
    [signed] = [s for s in store.signed_batch(0, 50) if s.row_id == row_id]
    store.write_signatures([(signed.row_id, signer.key_id, signed.receipt)], [])
    # Rows kept whole: a record, a receipt, an event (what a migration may leave).
    number = _number(store, "2401.00011")
    issued = store.record(number)
    assert issued is not None
    execute(
        store,
        "UPDATE records SET record_json=? WHERE id=?",
        (issued.record.canonical_json, record_row_id(store, number)),
    )
    number = _number(store, "2401.00012")
    execute(
        store,
        "UPDATE records SET receipt_json=? WHERE id=?",
        (cjson.dumps(store.receipt(number)), record_row_id(store, number)),
    )
    number = _number(store, "2401.00013")
    [event] = store.events(number)
    execute(
        store,
        "UPDATE events SET event_json=? WHERE record_id=?",
        (cjson.dumps(event), record_row_id(store, number)),
    )
    # A record that no longer passes (refused, the others read all the same).
    number = _number(store, "2401.00003")
    issued = store.record(number)
    assert issued is not None
    broken = issued.record.to_dict()
    broken["metadata"]["primary_cat"] = "Not A Category!"
    execute(
        store,
        "UPDATE records SET record_json=? WHERE code=?",
        (cjson.dumps(broken), issued.number.code),
    )


def _both(store: Store, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    todo = store.publish_rows("no-tree", 0, 100)
    fast = store.publish_sources(todo)
    monkeypatch.setattr(_sql_publish, "_FAST", False)
    strict = store.publish_sources(todo)
    monkeypatch.setattr(_sql_publish, "_FAST", True)
    return fast, strict


def _shown(source: PublishSource | FormatError) -> Any:
    """Everything a source holds, key order included (json.dumps keeps dict order)."""
    if isinstance(source, FormatError):
        return ("refused", source.message)
    return (
        source.row_id,
        source.issued,
        json.dumps(source.events),
        source.events_mark,
        source.leaves,
    )


def test_the_batched_read_gives_what_reading_each_record_gives(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, strict = _both(store, monkeypatch)
    assert len(fast) == len(strict) == 50
    assert {k: _shown(v) for k, v in fast.items()} == {k: _shown(v) for k, v in strict.items()}
    refused = [v for v in fast.values() if isinstance(v, FormatError)]
    assert len(refused) == 1 and "primary_cat" in refused[0].message
    # The built events are the ones parsing their bytes gives, and serialize to those bytes.
    for source in fast.values():
        if isinstance(source, PublishSource):
            number = str(source.issued.number)
            assert source.events == store.events(number)
            assert cjson.dumps_parsed(source.events) == cjson.dumps(store.events(number))
            assert source.events_mark == store.events_mark(source.row_id)
            assert source.leaves == store.log_leaves_of(number)
    counts = [len(v.events) for v in fast.values() if isinstance(v, PublishSource)]
    assert max(counts) == 3 and min(counts) == 1  # the varied records are there


def test_a_batch_is_read_in_one_statement_per_range(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    todo = store.publish_rows("no-tree", 0, 100)
    store.publish_sources(todo[:1])  # the keys are read once, before counting
    db = db_of(store)
    real = db.execute
    statements: list[str] = []

    def counting(sql: str, params: Any = ()) -> Any:
        statements.append(sql)
        return real(sql, params)

    monkeypatch.setattr(db, "execute", counting)
    found = store.publish_sources(todo)
    assert len(found) == 50
    assert len(statements) == 1


def test_an_event_appended_after_the_read_is_beyond_its_mark(store: Store) -> None:
    number = _number(store, "2401.00020")
    row_id = record_row_id(store, number)
    [row] = [r for r in store.publish_rows("no-tree", 0, 100) if r.row_id == row_id]
    before = store.publish_sources([row])[row_id]
    assert isinstance(before, PublishSource)
    registry.add_event(
        store, number, "author_attestation", {"n": 1}, factory.signer(), now=factory.T0
    )
    newest = rows(store, "SELECT MAX(id) FROM events WHERE record_id=?", (row_id,))[0][0]
    assert before.events_mark < newest
    after = store.publish_sources([row])[row_id]
    assert isinstance(after, PublishSource) and after.events_mark == newest


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in {".pith-publish.json", ".pith-publish.lock"}
    }


def _whole_bundle(*args: Any, **kw: Any) -> BuiltBundle:
    """The bundle and its bytes as publishing made them before: whole serializations."""
    bundle = build_bundle(*args, **kw)
    return BuiltBundle(bundle, cjson.dumps_parsed(bundle), cjson.dumps_parsed(bundle["state"]))


def test_the_tree_published_is_byte_identical_to_the_one_read_record_by_record(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = factory.signer()
    fast = publish(store, tmp_path / "fast", signer, base_url=A, now=factory.T0, batch=7)
    monkeypatch.setattr(_sql_publish, "_FAST", False)
    monkeypatch.setattr(publishing, "build_bundle_bytes", _whole_bundle)
    strict = publish(store, tmp_path / "strict", signer, base_url=A, now=factory.T0, batch=7)
    assert fast.to_dict() == strict.to_dict()
    assert (fast.written, fast.refused) == (49, 1)
    got, want = _tree(tmp_path / "fast"), _tree(tmp_path / "strict")
    assert len(got) > 4 * 49
    assert got == want
