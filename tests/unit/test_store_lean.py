"""Schema 4: records, receipts and events kept compact, and every read gives back the bytes written.

Each case writes objects to the registry and reads them back through every
path (records, receipts, events, re-issuance batches, log entries): the bytes
must be the very ones given, whether the row was stored compact or, for an
object the compact form does not cover, whole in its fallback column.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from issuer import cjson, registry
from issuer.errors import FormatError, StoreError
from issuer.events import build_event
from issuer.identifiers import PithNumber
from issuer.keys import SeedSigner
from issuer.pipeline import Issuer
from issuer.receipts import sign_receipt
from issuer.record import CanonicalRecord
from issuer.reissue import reissue
from issuer.store import NewRecord, Store, _schema, open_store
from issuer.store._db import Db
from issuer.tlog import event_entry, record_entry
from tests import factory
from tests.registry_sql import record_row_id, rows
from tests.unit._old_registries import schema_state, v3_registry

KEY = factory.signer()
OTHER = factory.signer(2)
ISSUED_AT = "2026-05-17T23:59:22Z"


@pytest.fixture
def store(registry_url: str) -> Iterator[Store]:
    with open_store(registry_url) as opened:
        opened.add_key(KEY.public_key)
        yield opened


def _new(
    rec: CanonicalRecord | None = None,
    *,
    key: SeedSigner = KEY,
    receipt: Callable[[dict[str, Any]], dict[str, Any]] = lambda r: r,
) -> NewRecord:
    """A record as issuance builds it; ``receipt`` may alter the receipt stored with it."""
    rec = rec or factory.record()
    event = factory.record_created(rec, key)
    return NewRecord.build(
        rec,
        PithNumber.for_record(rec),
        receipt=receipt(event["payload"]["receipt"]),
        event=event,
        issued_at=ISSUED_AT,
        title="A title",
    )


def _read_back(store: Store, number: str) -> tuple[bytes, bytes, list[bytes], list[bytes]]:
    """(record, receipt, events, log entries) of a record, as every read path gives them."""
    row_id = record_row_id(store, number)
    [signed] = store.signed_batch(row_id - 1, 1)
    events = [body for _, body in signed.events]
    try:
        issued = store.record(number)
        assert issued is not None
        record = cjson.dumps(issued.record.to_dict())
    except FormatError:  # one this release refuses: its record_created event still carries it
        record = cjson.dumps(cjson.loads(events[0])["payload"]["canonical_record"])
    assert cjson.dumps(store.receipt(number)) == signed.receipt
    assert sorted(cjson.dumps(e) for e in store.events(number)) == sorted(events)
    entries = [e for _, e in store.log_leaves_of(number)]
    return record, signed.receipt, events, entries


def _fallbacks(store: Store) -> tuple[int, int, int, int]:
    """How many records, receipts, event payloads and events are stored other than compact."""
    [(records, receipts)] = rows(
        store, "SELECT COUNT(record_json), COUNT(receipt_json) FROM records"
    )
    [(payloads, events)] = rows(store, "SELECT COUNT(payload), COUNT(event_json) FROM events")
    return records, receipts, payloads, events


def test_an_issued_record_is_stored_compact_and_read_back_byte_for_byte(store: Store) -> None:
    new = _new()
    store.write_records([new])
    assert _read_back(store, new.pith_number) == (
        new.record_json,
        new.receipt_json,
        [new.event_json],
        [
            record_entry(new.pith_number, new.canonical_sha256),
            event_entry(new.pith_number, new.event_row[0]),
        ],
    )
    assert _fallbacks(store) == (0, 0, 0, 0)
    assert list(store.log_entries(0, 2)) == _read_back(store, new.pith_number)[3]


def _first_computed_earlier(receipt: dict[str, Any]) -> dict[str, Any]:
    earlier = sign_receipt(
        receipt["canonical_sha256"],
        KEY,
        factory.T0,
        first_computed_at=factory.T0 - timedelta(days=3),
    )
    return earlier


#: name → (record to write, what is expected outside the compact form: records, receipts,
#: event payloads, events).
ODD_RECORDS: dict[str, tuple[Callable[[], NewRecord], tuple[int, int, int, int]]] = {
    "compact: a receipt first computed before it was signed": (
        lambda: _new(receipt=_first_computed_earlier),
        (0, 0, 0, 1),  # the event's payload holds the receipt as first signed
    ),
    "compact: a record without a licence or cross-listing": (
        lambda: _new(replace(factory.record(), license=None, cross_cats_sorted=())),
        (0, 0, 0, 0),
    ),
    "whole: a receipt with a field the compact form does not have": (
        lambda: _new(receipt=lambda r: {**r, "note": "hand-written"}),
        (0, 1, 0, 1),
    ),
    "whole: a receipt and event signed by a key keys_used does not hold": (
        lambda: _new(key=OTHER),
        (0, 1, 0, 1),
    ),
    "whole: a category list the compact form cannot tell from an empty one": (
        lambda: _new(replace(factory.record(), cross_cats_sorted=("",))),
        (1, 0, 0, 0),
    ),
}


@pytest.mark.parametrize("case", list(ODD_RECORDS), ids=list(ODD_RECORDS))
def test_what_the_compact_form_does_not_cover_is_kept_whole_and_read_back_byte_for_byte(
    store: Store, case: str
) -> None:
    make, expected = ODD_RECORDS[case]
    new = make()
    store.write_records([new])
    record, receipt, events, _ = _read_back(store, new.pith_number)
    assert (record, receipt, events) == (new.record_json, new.receipt_json, [new.event_json])
    assert _fallbacks(store) == expected


def test_an_event_the_compact_form_does_not_cover_is_kept_whole(store: Store) -> None:
    new = _new()
    store.write_records([new])
    number = new.pith_number
    plain = registry.add_event(
        store, number, "author_attestation", {"orcid": "x"}, KEY, now=factory.T0
    )
    # A superseding event: its supersedes list is not in the compact form.
    odd = build_event(
        "author_attestation",
        number,
        {"orcid": "y"},
        KEY,
        factory.T0 + timedelta(seconds=1),
        prev_event=plain["event_id"],
        supersedes=(plain["event_id"],),
    )
    store.append_event(odd)
    _, _, events, entries = _read_back(store, number)
    assert events == [new.event_json, cjson.dumps(plain), cjson.dumps(odd)]
    assert entries[2:] == [
        event_entry(number, plain["event_id"]),
        event_entry(number, odd["event_id"]),
    ]
    assert _fallbacks(store) == (0, 0, 1, 1)  # the plain one keeps its payload, the odd one all


def test_a_resigned_receipt_leaves_the_issued_one_in_its_record_created_event(store: Store) -> None:
    first = _new(factory.record(2))
    store.write_records([first])
    registry.add_event(
        store, first.pith_number, "author_attestation", {"orcid": "x"}, KEY, now=factory.T0
    )
    new = _new()  # its row ids differ: record 2, record_created event 3
    store.write_records([new])
    row_id = record_row_id(store, new.pith_number)
    store.add_key(OTHER.public_key)
    resigned = sign_receipt(new.canonical_sha256, OTHER, factory.T0 + timedelta(days=40))
    store.write_signatures([(row_id, OTHER.key_id, cjson.dumps(resigned))], [])
    _, receipt, events, _ = _read_back(store, new.pith_number)
    assert (receipt, events) == (cjson.dumps(resigned), [new.event_json])
    assert _fallbacks(store) == (0, 0, 2, 0)  # compact, its payload kept with the event


def test_reissue_reads_and_writes_compact_rows(store: Store, tmp_path: Path) -> None:
    data = factory.snapshot(tmp_path / "in.json", range(1, 6))
    Issuer(store, KEY, lambda: factory.T0).run([str(data)])
    first = next(iter(store.records())).pith_number
    registry.add_event(store, first, "author_attestation", {"orcid": "x"}, KEY, now=factory.T0)
    issued = {
        r.pith_number: [cjson.dumps(e["payload"]) for e in store.events(r.pith_number)]
        for r in store.records()
    }
    summary = reissue(store, OTHER, now=factory.T0 + timedelta(days=40))
    assert (summary.receipts, summary.events) == (5, 6)
    for number, payloads in issued.items():
        assert store.receipt(number)["key_id"] == OTHER.key_id
        events = store.events(number)
        assert {e["signature"]["key_id"] for e in events} == {OTHER.key_id}
        assert [cjson.dumps(e["payload"]) for e in events] == payloads
    assert _fallbacks(store) == (0, 0, 6, 0)


# -- migration 3 -> 4 ---------------------------------------------------------


def _everything(store: Store) -> list[Any]:
    """Every object a registry gives back, as bytes, in a stable order."""
    out: list[Any] = [list(store.log_entries(0, store.log_size()))]
    for issued in store.records():
        number = issued.pith_number
        out.append((number, issued.title, issued.issued_at, _read_back(store, number)))
    out.append([(a["pith_number"], a["alias_value"]) for a in store.short_collisions()])
    out.append(store.signed_batch(0, 1 << 30))
    return out


def _v3_fixture(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """A schema 3 registry at ``url`` holding compact and odd rows; what it gives back."""
    today = tmp_path / "today.sqlite3"
    with open_store(today) as live:
        data = factory.snapshot(tmp_path / "in.json", range(1, 6))
        Issuer(live, KEY, lambda: factory.T0).run([str(data)])
        number = next(iter(live.records())).pith_number
        plain = registry.add_event(
            live, number, "author_attestation", {"orcid": "x"}, KEY, now=factory.T0
        )
        registry.add_event(
            live,
            number,
            "author_attestation",
            {"orcid": "y"},
            KEY,
            now=factory.T0,
            supersedes=(plain["event_id"],),
        )
        live.write_records(
            [_new(factory.record(99), receipt=lambda r: {**r, "note": "hand-written"})]
        )
        expected = _everything(live)
    v3_registry(url, today, monkeypatch)
    return expected


def test_a_schema_3_registry_migrates_to_compact_rows_and_gives_back_every_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    expected = _v3_fixture(tmp_path, registry_url, monkeypatch)
    version, _, columns = schema_state(registry_url)
    assert version == 3 and {"receipt", "canonical_record"} <= columns
    monkeypatch.setattr(_schema, "_SLICE", 2)  # many slices: the paging is exercised
    with open_store(registry_url) as migrated:
        assert _everything(migrated) == expected
        # Only the odd ones are whole: the hand-written receipt, the superseding event. The
        # hand-written receipt's record_created event and the attestation keep their payload.
        assert _fallbacks(migrated) == (0, 1, 2, 1)
    version, _, columns = schema_state(registry_url)
    assert version == _schema.SCHEMA_VERSION and not {"receipt", "canonical_record"} & columns


def test_a_crash_during_migration_4_leaves_schema_3_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    expected = _v3_fixture(tmp_path, registry_url, monkeypatch)
    real = _schema.BACKFILLS[4]

    def crash(db: Db) -> None:
        real(db)  # every row is compacted and the old columns dropped, then the process dies
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setitem(_schema.BACKFILLS, 4, crash)
        with pytest.raises(KeyboardInterrupt):
            open_store(registry_url)
    version, _, columns = schema_state(registry_url)
    assert version == 3 and {"receipt", "canonical_record"} <= columns
    assert "receipt_signature" not in columns
    with open_store(registry_url) as migrated:  # the migration then runs from the start
        assert _everything(migrated) == expected


def test_a_leaf_entry_that_its_row_does_not_rebuild_stops_the_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    _v3_fixture(tmp_path, registry_url, monkeypatch)
    entry = b'{"hand":"written"}'
    if registry_url.startswith("postgresql://"):
        with psycopg.connect(registry_url) as conn:
            conn.execute("UPDATE log_leaves SET entry=%s WHERE leaf_index=1", (entry,))
    else:
        with sqlite3.connect(registry_url) as db:
            db.execute("UPDATE log_leaves SET entry=? WHERE leaf_index=1", (entry,))
        db.close()
    with pytest.raises(StoreError, match="log leaf 1 is not the entry") as refused:
        open_store(registry_url)
    assert "left at schema 3" in refused.value.message
    version, _, columns = schema_state(registry_url)
    assert version == 3 and "receipt" in columns


def test_rows_signed_by_a_key_another_writer_added_since_are_read(
    store: Store, registry_url: str
) -> None:
    new = _new()
    store.write_records([new])
    assert len(store.events(new.pith_number)) == 1  # this store has read keys_used
    with open_store(registry_url) as other:
        other.add_key(OTHER.public_key)
        added = registry.add_event(
            other, new.pith_number, "author_attestation", {"orcid": "x"}, OTHER, now=factory.T0
        )
    assert _fallbacks(store) == (0, 0, 1, 0)  # compact: the other writer knew the key
    assert added in store.events(new.pith_number)
    [signed] = store.signed_batch(0, 1)
    assert signed.events[1][1] == cjson.dumps(added)  # in row order
