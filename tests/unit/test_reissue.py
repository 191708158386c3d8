"""Re-issuance through the library: what changes, what never does, and resuming after a crash."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer import cjson
from issuer.errors import StoreError
from issuer.events import content_digest
from issuer.keys import verify
from issuer.pipeline import Issuer
from issuer.receipts import reissue_receipt
from issuer.reissue import ReissueSummary, reissue
from issuer.store import Store, open_store
from tests import factory
from tests.registry_sql import execute

OLD, NEW = factory.signer(1), factory.signer(2)
LATER = factory.T0 + timedelta(days=40)
RECORDS = 7


@pytest.fixture
def store(tmp_path: Path, registry_url: str) -> Iterator[Store]:
    (tmp_path / "in.jsonl").write_bytes(b"".join(factory.snapshot_line(n) for n in range(RECORDS)))
    with open_store(registry_url) as opened:
        Issuer(opened, OLD, lambda: factory.T0, workers=1).run([str(tmp_path / "in.jsonl")])
        yield opened


def _snapshot(store: Store) -> dict[str, Any]:
    return {
        r.pith_number: {
            "canonical_sha256": r.record.canonical_sha256,
            "receipt": store.receipt(r.pith_number),
            "events": store.events(r.pith_number),
        }
        for r in store.records()
    }


def test_reissue_moves_signatures_and_nothing_else(store: Store) -> None:
    before = _snapshot(store)
    summary = reissue(store, NEW, now=LATER)
    assert summary.to_dict() == {
        "key_id": NEW.key_id,
        "records": RECORDS,
        "resigned": {"receipts": RECORDS, "events": RECORDS, "bundles": 0},
        "already_current": {"receipts": 0, "events": 0},
    }
    after = _snapshot(store)
    assert after.keys() == before.keys()  # Pith numbers unchanged
    for number, old in before.items():
        new = after[number]
        assert new["canonical_sha256"] == old["canonical_sha256"]
        receipt = new["receipt"]
        assert receipt["key_id"] == NEW.key_id
        assert receipt["first_computed_at"] == old["receipt"]["first_computed_at"]
        assert receipt["last_reissued_at"] == receipt["signed_at"] == "2026-06-26T23:59:22.000000Z"
        assert receipt["canonical_sha256"] == old["canonical_sha256"]
        digest = bytes.fromhex(receipt["canonical_sha256"])
        assert verify(NEW.public_key.raw, digest, _sig(receipt))
        for was, now in zip(old["events"], new["events"], strict=True):
            assert now["event_id"] == was["event_id"]
            assert {k: v for k, v in now.items() if k != "signature"} == {
                k: v for k, v in was.items() if k != "signature"
            }
            assert now["signature"]["key_id"] == NEW.key_id
            assert verify(NEW.public_key.raw, content_digest(now), _sig(now["signature"]))


def _sig(obj: dict[str, Any]) -> bytes:
    return base64.b64decode(obj["signature_b64"])


def test_worker_processes_resign_exactly_as_one_process_does(store: Store) -> None:
    before = _snapshot(store)
    summary = reissue(store, NEW, now=LATER, batch=2, workers=2)  # four batches, two workers
    assert (summary.records, summary.receipts, summary.events) == (RECORDS, RECORDS, RECORDS)
    after = _snapshot(store)
    for number, old in before.items():
        assert [e["event_id"] for e in after[number]["events"]] == [
            e["event_id"] for e in old["events"]
        ]
        assert after[number]["receipt"] == reissue_receipt(old["receipt"], NEW, LATER)
        for event in after[number]["events"]:
            assert verify(NEW.public_key.raw, content_digest(event), _sig(event["signature"]))


def test_a_second_run_has_nothing_left_to_do(store: Store) -> None:
    reissue(store, NEW, now=LATER)
    again = reissue(store, NEW, now=LATER + timedelta(days=1))
    assert (again.receipts, again.events) == (0, 0)
    assert (again.receipts_current, again.events_current) == (RECORDS, RECORDS)


def test_a_crash_between_batches_is_resumed_by_running_again(store: Store) -> None:
    class CrashError(Exception):
        pass

    def crash_after_first(summary: ReissueSummary) -> None:
        raise CrashError

    with pytest.raises(CrashError):
        reissue(store, NEW, now=LATER, batch=3, on_batch=crash_after_first)
    resumed = reissue(store, NEW, now=LATER, batch=3)
    assert (resumed.receipts, resumed.receipts_current) == (RECORDS - 3, 3)
    assert (resumed.events, resumed.events_current) == (RECORDS - 3, 3)
    assert all(store.receipt(r.pith_number)["key_id"] == NEW.key_id for r in store.records())


def test_an_altered_event_stops_reissue_and_its_batch_is_not_written(
    store: Store,
) -> None:
    victim = next(iter(store.records())).pith_number
    [event] = store.events(victim)
    event["created_at"] = "2020-01-01T00:00:00Z"  # content changed, id kept
    execute(
        store,
        "UPDATE events SET event_json=? WHERE event_id=?",  # kept whole, as a fallback row is
        (cjson.dumps(event), event["event_id"]),
    )
    with pytest.raises(StoreError, match="does not hash to its id"):
        reissue(store, NEW, now=LATER)
    assert all(store.receipt(r.pith_number)["key_id"] == OLD.key_id for r in store.records())


# -- stored objects that are not what a registry writes ------------------------------


def _first(store: Store) -> str:
    return str(next(iter(store.records())).pith_number)


def _set_event_json(store: Store, value: bytes) -> None:
    [event] = store.events(_first(store))
    execute(store, "UPDATE events SET event_json=? WHERE event_id=?", (value, event["event_id"]))


def _set_receipt_json(store: Store, value: bytes) -> None:
    """The first record's receipt, kept whole as ``value``."""
    execute(
        store, "UPDATE records SET receipt_json=? WHERE id=(SELECT MIN(id) FROM records)", (value,)
    )


ALTERED = {
    "an event that is a list": (lambda s: _set_event_json(s, b"[1]"), "is not a JSON object"),
    "an event that is a string": (lambda s: _set_event_json(s, b'"x"'), "is not a JSON object"),
    "an event whose signature is a list": (
        lambda s: _set_event_json(s, cjson.dumps({**s.events(_first(s))[0], "signature": []})),
        "is not a JSON object",
    ),
    "a receipt that is a list": (lambda s: _set_receipt_json(s, b"[1]"), "is not a JSON object"),
    "a receipt that is a number": (lambda s: _set_receipt_json(s, b"7"), "is not a JSON object"),
}


@pytest.mark.parametrize(("alter", "words"), ALTERED.values(), ids=ALTERED.keys())
def test_a_stored_object_of_the_wrong_shape_stops_reissue_with_the_registry_named(
    store: Store, alter: Any, words: str
) -> None:
    """The toolkit's own error, naming the row, never an AttributeError; nothing written."""
    alter(store)
    with pytest.raises(StoreError, match=words) as caught:
        reissue(store, NEW, now=LATER)
    assert "registry was altered" in caught.value.message
    assert caught.value.hint is not None and "backup" in caught.value.hint
    others = [r.pith_number for r in store.records()][1:]
    assert all(store.receipt(n)["key_id"] == OLD.key_id for n in others)
