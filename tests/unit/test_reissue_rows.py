"""Re-issuance's rows are made where they are signed, exactly as the writer used to make them (#14).

The re-signing process (a worker) turns each new receipt and event into the
compact row the writer stores, checked to rebuild the bytes it signed. These
tests run that path and the JSON path (``signed_batch`` → re-sign →
``write_signatures``, where the writer parses and splits) on two registries
issued alike, from the same states (nothing current yet, some receipts or
some events already re-signed, a row kept whole), and require the very same
stored rows, on both backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer import _workers, cjson
from issuer import reissue as reissue_module
from issuer.events import sign_event
from issuer.keys import SeedSigner
from issuer.pipeline import Issuer
from issuer.receipts import reissue_receipt
from issuer.reissue import reissue, resign
from issuer.store import Store, open_store
from tests import factory
from tests.registry_sql import execute, rows

OLD, NEW = factory.signer(1), factory.signer(2)
LATER = factory.T0 + timedelta(days=40)
RECORDS = 9


def _issued(url: str, tmp_path: Path) -> Store:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join(factory.snapshot_line(n) for n in range(RECORDS)))
    store = open_store(url)
    Issuer(store, OLD, lambda: factory.T0, workers=1).run([str(source)])
    return store


@pytest.fixture
def pair(
    request: pytest.FixtureRequest, registry_url: str, tmp_path: Path
) -> Iterator[tuple[Store, Store]]:
    """Two registries issued alike on the same backend."""
    other = (
        str(tmp_path / "other.sqlite3")
        if registry_url.endswith(".sqlite3")
        else request.getfixturevalue("pg_cluster").create_database()
    )
    with _issued(registry_url, tmp_path) as a, _issued(other, tmp_path) as b:
        yield a, b


def _json_path(
    store: Store,
    receipts_of: set[int] | None = None,
    events_of: set[int] | None = None,
    now: Any = LATER,
) -> None:
    """Re-sign as the writer-side split did: JSON out of the store, JSON back in."""
    store.add_key(NEW.public_key)
    receipts: list[tuple[int, str, bytes]] = []
    events: list[tuple[int, bytes]] = []
    for signed in store.signed_batch(0, 1 << 30):
        receipt = cjson.loads(signed.receipt)
        if (receipts_of is None or signed.row_id in receipts_of) and receipt[
            "key_id"
        ] != NEW.key_id:
            new = reissue_receipt(receipt, NEW, now)
            receipts.append((signed.row_id, NEW.key_id, cjson.dumps_parsed(new)))
        for row_id, body in signed.events:
            event = cjson.loads(body)
            if (events_of is None or signed.row_id in events_of) and event["signature"][
                "key_id"
            ] != NEW.key_id:
                events.append(
                    (row_id, cjson.dumps_parsed(sign_event(event, NEW, now, parsed=True)))
                )
    store.write_signatures(receipts, events)


def _stored(store: Store) -> list[list[Any]]:
    return [
        [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows(store, sql)]
        for sql in (
            "SELECT * FROM records ORDER BY id",
            "SELECT * FROM events ORDER BY id",
            "SELECT record_id FROM published ORDER BY record_id",
        )
    ]


def _row_ids(store: Store) -> list[int]:
    return [int(r[0]) for r in rows(store, "SELECT id FROM records ORDER BY id")]


def _same_after_both(a: Store, b: Store) -> None:
    assert _stored(a) == _stored(b)
    _json_path(a)
    summary = reissue(b, NEW, now=LATER, batch=4)
    assert _stored(a) == _stored(b)
    assert summary.records == RECORDS
    assert [b.receipt(r.pith_number) for r in b.records()] == [
        a.receipt(r.pith_number) for r in a.records()
    ]
    assert [b.events(r.pith_number) for r in b.records()] == [
        a.events(r.pith_number) for r in a.records()
    ]


def test_nothing_current_yet(pair: tuple[Store, Store]) -> None:
    _same_after_both(*pair)


def test_some_receipts_already_resigned(pair: tuple[Store, Store]) -> None:
    # Their record_created events rebuild from a receipt that changed: the
    # payload must be kept with the event row, before and after its re-signing.
    a, b = pair
    some = set(_row_ids(a)[::2])
    _json_path(a, receipts_of=some, events_of=set())
    _json_path(b, receipts_of=some, events_of=set())
    _same_after_both(a, b)


def test_some_events_already_resigned(pair: tuple[Store, Store]) -> None:
    a, b = pair
    some = set(_row_ids(a)[1::3])
    _json_path(a, receipts_of=set(), events_of=some)
    _json_path(b, receipts_of=set(), events_of=some)
    _same_after_both(a, b)


def test_a_row_kept_whole(pair: tuple[Store, Store]) -> None:
    # An event stored whole (the fallback for bytes the columns do not rebuild).
    a, b = pair
    for store in pair:
        victim = next(iter(store.records())).pith_number
        [event] = store.events(victim)
        execute(
            store,
            "UPDATE events SET event_json=? WHERE event_id=?",
            (cjson.dumps(event), event["event_id"]),
        )
    _same_after_both(a, b)


def test_the_writer_gets_rows_not_json(pair: tuple[Store, Store]) -> None:
    # What a worker returns is the rows themselves: nothing left to parse or check.
    a, _ = pair
    a.add_key(NEW.public_key)
    batch = a.resign_batch(0, 3)
    assert batch is not None
    done = resign(batch, NEW, LATER, batch.keys)
    assert [r for r, _, _ in done.receipts] == _row_ids(a)[:3]
    for _, key_id, receipt in done.receipts:
        assert key_id == NEW.key_id
        assert receipt[5] is None  # compact: signature, times, builder
        assert isinstance(receipt[0], bytes)
    for _, _, event in done.events:
        assert event[10] is None  # compact
        assert event[7] == NEW.key_id
    assert a.resign_batch(_row_ids(a)[-1], 3) is None


def _pools_started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The worker count of each signing pool re-issuance starts from now on."""
    started: list[int] = []
    real = _workers.signing_pool

    def counting_pool(signer: SeedSigner, workers: int) -> ProcessPoolExecutor:
        started.append(workers)
        return real(signer, workers)

    monkeypatch.setattr(reissue_module, "signing_pool", counting_pool)
    return started


def test_worker_processes_sign_once_there_is_a_second_batch(
    pair: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Until #14 the pool was only started while a batch was in flight, and the
    # single-process path drained every batch before the next: no worker ever ran.
    started = _pools_started(monkeypatch)
    a, b = pair
    reissue(a, NEW, now=LATER, batch=RECORDS, workers=2)  # one batch: no pool
    assert started == []
    reissue(b, NEW, now=LATER, batch=2, workers=2)
    assert started == [2]
    assert _stored(a) == _stored(b)


def test_a_rerun_over_current_rows_starts_no_worker(
    pair: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rows that already name the key are checked in this process: a pool would
    # only add its start-up. The counts are those the workers would give.
    a, b = pair
    reissue(a, NEW, now=LATER, batch=2, workers=1)
    started = _pools_started(monkeypatch)
    again = reissue(a, NEW, now=LATER + timedelta(days=1), batch=2, workers=2)
    assert started == []
    assert (again.receipts, again.events) == (0, 0)
    assert (again.receipts_current, again.events_current) == (RECORDS, RECORDS)
    batch = b.resign_batch(0, RECORDS)
    assert batch is not None
    assert not batch.signed_by(NEW.key_id)
    assert batch.signed_by(OLD.key_id)
