"""Re-issuance through the library: what changes, what never does, and resuming after a crash."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer import cjson, registry
from issuer.errors import StoreError, VerificationError
from issuer.events import content_digest
from issuer.keys import verify
from issuer.keys._statements import parse_statement, sign_revocation
from issuer.keys.keyset import KeySet, Material
from issuer.pipeline import Issuer
from issuer.receipts import reissue_receipt
from issuer.reissue import ReissueSummary, reissue
from issuer.store import Store, open_store
from issuer.verify import verify_bundle
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
        "refused": 0,
        "refusals": [],
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


# -- stored signatures that do not verify: refused, never re-signed ------------------
#
# Someone who can write the database but holds no signing key can change an event's
# content and recompute its hash and id: its old signature no longer verifies, so
# `bundle` and `publish` refuse it. Re-signing it would launder it under the current key.


def _attested(store: Store) -> tuple[str, dict[str, Any]]:
    """The first record's number, and a genuine author_attestation on it (signed by OLD)."""
    number = _first(store)
    event = registry.add_event(
        store, number, "author_attestation", {"orcid": "0000-0001-0000-0001"}, OLD, now=factory.T0
    )
    return number, event


def _forge(store: Store, event: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """``event`` with ``payload``, its hash and id recomputed, its old signature kept.

    Written as the registry writes an event (compact columns), as a database-only
    attacker would.
    """
    forged = {**event, "payload": payload}
    digest = content_digest(forged)
    forged["content_sha256"] = digest.hex()
    forged["event_id"] = "sha256:" + digest.hex()
    execute(
        store,
        "UPDATE events SET event_id=?, payload=? WHERE event_id=?",
        (forged["event_id"], cjson.dumps(payload), event["event_id"]),
    )
    assert store.events(_first(store))[1] == forged  # the columns rebuild the forgery
    return forged


def _refused_bundle(store: Store, number: str, event_id: str) -> None:
    with pytest.raises(VerificationError, match="does not verify") as caught:
        registry.bundle(store, number, NEW, LATER, factory.BASE_URL)
    assert event_id in caught.value.message


def test_a_forged_event_is_refused_not_laundered_under_the_new_key(store: Store) -> None:
    number, genuine = _attested(store)
    forged = _forge(store, genuine, {"orcid": "0000-0002-6666-6666"})
    _refused_bundle(store, number, forged["event_id"])  # what bundle and publish say before

    summary = reissue(store, NEW, now=LATER)

    # The forgery keeps its old, invalid signature: its bundle is still refused.
    assert store.events(number)[1] == forged
    _refused_bundle(store, number, forged["event_id"])
    [refusal] = summary.refusals
    assert (refusal.pith_number, refusal.event_id) == (number, forged["event_id"])
    assert f"does not verify under key {OLD.key_id}" in refusal.reason
    assert refusal.hint is not None
    assert "backup" in refusal.hint and "issue the record again" in refusal.hint
    assert (summary.refused, summary.exit_code) == (1, 1)
    assert summary.to_dict()["refusals"] == [refusal.to_dict()]
    assert (summary.receipts, summary.events) == (RECORDS, RECORDS)  # everything else
    # A second run refuses it again, and has nothing else left to do.
    again = reissue(store, NEW, now=LATER + timedelta(days=1))
    assert [(r.pith_number, r.event_id) for r in again.refusals] == [(number, forged["event_id"])]
    assert (again.receipts, again.events, again.events_current) == (0, 0, RECORDS)


def test_worker_processes_refuse_as_one_process_does(store: Store) -> None:
    number, genuine = _attested(store)
    forged = _forge(store, genuine, {"orcid": "0000-0002-6666-6666"})
    summary = reissue(store, NEW, now=LATER, batch=2, workers=2)  # four batches, two workers
    assert [(r.pith_number, r.event_id) for r in summary.refusals] == [(number, forged["event_id"])]
    assert (summary.receipts, summary.events) == (RECORDS, RECORDS)
    assert store.events(number)[1] == forged


def _signature_column(store: Store, event: dict[str, Any], value: bytes) -> None:
    execute(store, "UPDATE events SET signature=? WHERE event_id=?", (value, event["event_id"]))


def _whole(store: Store, event: dict[str, Any], **signature: str) -> None:
    """``event`` stored whole (as a fallback row is), its signature object changed."""
    changed = {**event, "signature": {**event["signature"], **signature}}
    execute(
        store,
        "UPDATE events SET event_json=? WHERE event_id=?",
        (cjson.dumps(changed), event["event_id"]),
    )


def _garbage_receipt(store: Store, _event: dict[str, Any]) -> None:
    """The first record's receipt signature replaced, its record_created event kept whole.

    (An event that rebuilds its payload from the receipt would no longer hash to its id.)
    """
    created = store.events(_first(store))[0]
    execute(
        store,
        "UPDATE events SET event_json=? WHERE event_id=?",
        (cjson.dumps(created), created["event_id"]),
    )
    execute(
        store,
        "UPDATE records SET receipt_signature=? WHERE id=(SELECT MIN(id) FROM records)",
        (bytes(range(64)),),
    )


GARBAGE = base64.b64encode(bytes(64)).decode()
UNVERIFIED = {
    "an event's signature replaced by garbage, content genuine": (
        lambda s, e: _signature_column(s, e, bytes(range(64))),
        "event",
        f"does not verify under key {OLD.key_id}",
    ),
    "an event signature that is not 64 bytes": (
        lambda s, e: _whole(s, e, signature_b64="AAAA"),
        "event",
        "not a canonical 64-byte signature",
    ),
    "an event signature that is not base64": (
        lambda s, e: _whole(s, e, signature_b64="!" * 88),
        "event",
        "not base64",
    ),
    "an event signed by a key the registry does not know": (
        lambda s, e: _whole(s, e, key_id="someone-else"),
        "event",
        "'someone-else', which is not in the registry's key set",
    ),
    "an event signature naming another key's fingerprint": (
        lambda s, e: _whole(s, e, public_key_fingerprint=NEW.public_key.fingerprint),
        "event",
        f"is not the fingerprint of key {OLD.key_id}",
    ),
    "a receipt's signature replaced by garbage": (
        _garbage_receipt,
        "receipt",
        f"does not verify under key {OLD.key_id}",
    ),
}


@pytest.mark.parametrize(("alter", "what", "words"), UNVERIFIED.values(), ids=UNVERIFIED.keys())
def test_a_stored_signature_that_does_not_verify_is_refused_and_the_rest_resigned(
    store: Store, alter: Any, what: str, words: str
) -> None:
    number, event = _attested(store)
    alter(store, event)
    before = store.receipt(number) if what == "receipt" else store.events(number)[1]

    summary = reissue(store, NEW, now=LATER)

    [refusal] = summary.refusals
    assert refusal.pith_number == number
    assert refusal.event_id == (None if what == "receipt" else event["event_id"])
    assert words in refusal.reason
    assert summary.exit_code == 1
    after = store.receipt(number) if what == "receipt" else store.events(number)[1]
    assert after == before  # left as it was
    receipts = RECORDS - (what == "receipt")
    events = RECORDS + (what == "receipt")  # the attestation, unless it is the one refused
    assert (summary.receipts, summary.events) == (receipts, events)


def _revoked(store: Store) -> KeySet:
    """The operator's key set after OLD leaked: revoked (by NEW) since before it signed."""
    envelope = sign_revocation(
        OLD.public_key, NEW, compromised_since=factory.T0 - timedelta(days=1),
        reason="key file leaked", issued_at=LATER,
    )  # fmt: skip
    return KeySet.trusting(Material([OLD.public_key, NEW.public_key], [parse_statement(envelope)]))


def _rotated_before_it_signed(store: Store) -> KeySet:
    """The operator's key set, OLD's window closed before it signed (which the CLI refuses)."""
    return KeySet([OLD.public_key.with_rotation(factory.T0 - timedelta(days=1)), NEW.public_key])


# (operator's keys, whether the bundles verify after: a verifier still holds the receipt
# that a re-signed record_created event carries to its key's window, not to a revocation)
SINCE_DISTRUSTED = {
    "revoked as compromised": (_revoked, True),
    "rotated before it signed": (_rotated_before_it_signed, False),
}


@pytest.mark.parametrize(
    ("operator_keys", "bundles_verify"), SINCE_DISTRUSTED.values(), ids=SINCE_DISTRUSTED.keys()
)
def test_what_a_since_distrusted_key_signed_is_still_resigned(
    store: Store, operator_keys: Any, bundles_verify: bool
) -> None:
    """Re-signing what a revoked (even compromised) key signed is what reissue is for."""
    extra = operator_keys(store)
    number, _ = _attested(store)
    with pytest.raises(VerificationError):  # the registry no longer vouches for it as it is
        registry.bundle(store, number, NEW, LATER, factory.BASE_URL, extra=extra)

    summary = reissue(store, NEW, now=LATER, extra=extra)

    assert (summary.refused, summary.exit_code) == (0, 0)
    assert (summary.receipts, summary.events) == (RECORDS, RECORDS + 1)
    keys = KeySet([NEW.public_key]).merged(extra)
    for issued in store.records() if bundles_verify else ():
        built = registry.bundle(
            store, issued.pith_number, NEW, LATER, factory.BASE_URL, extra=extra
        )
        verify_bundle(built, keys)
