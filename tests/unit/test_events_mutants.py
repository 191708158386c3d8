"""Events (spec §7) behaviour that mutation testing found unpinned (docs/mutation.md).

The verifier reports an event's refusal with its step and message; signing
refuses content outside the canonical domain rather than hashing it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from issuer import cjson
from issuer.cjson import CanonicalJSONError
from issuer.errors import VerificationError
from issuer.events import (
    EVENT_TYPES,
    build_event,
    check_event,
    claimed_id,
    content_digest,
    sign_event,
)
from issuer.identifiers import PithNumber
from issuer.keys.keyset import KeySet
from issuer.merge import merge
from tests import factory

KEY = factory.signer(1)
KEYS = KeySet([KEY.public_key])
REC = factory.record()
SUBJECT = str(PithNumber.for_record(REC))


def test_a_refused_event_names_the_events_step_and_says_why() -> None:
    with pytest.raises(VerificationError) as e:
        check_event(["not", "an", "event"], SUBJECT, KEYS)
    assert (e.value.step, str(e.value.reason), e.value.message) == (
        "events",
        "malformed",
        "event is not an object",
    )
    other = factory.event(factory.record(2), KEY)
    with pytest.raises(VerificationError) as wrong:
        check_event(other, SUBJECT, KEYS)
    assert (wrong.value.step, str(wrong.value.reason)) == ("events", "wrong_subject")
    assert wrong.value.message == f"event is about {other['subject_pith_number']}, not {SUBJECT}"


def test_building_an_event_refuses_what_no_verifier_would_accept() -> None:
    with pytest.raises(ValueError) as kind:
        build_event("rumour", SUBJECT, {}, KEY, factory.T0)
    assert str(kind.value) == f"unknown event type 'rumour'; known: {', '.join(EVENT_TYPES)}"
    with pytest.raises(ValueError) as ref:
        build_event("graph_snapshot", SUBJECT, {}, KEY, factory.T0, prev_event="sha256:00")
    assert str(ref.value) == "not an event id: 'sha256:00'"


def test_signing_refuses_content_outside_the_canonical_domain() -> None:
    event: dict[str, Any] = factory.event(REC, KEY)
    event["payload"] = {"score": 0.5}
    with pytest.raises(CanonicalJSONError, match=r"float 0\.5 is not allowed"):
        sign_event(event, KEY, factory.T0)


def _changed(path: str, value: Any) -> dict[str, Any]:
    return factory.set_path(copy.deepcopy(factory.event(REC, KEY)), path, value)


_DELETE = factory.DELETE
ID_A, ID_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
SIGNER = "signer_id, signer_type, key_id, public_key_fingerprint"
SIGNATURE = (
    "signature_status, algorithm, key_id, public_key_fingerprint, signature_b64, "
    "signed_at, signed_message"
)

MALFORMED: dict[str, tuple[dict[str, Any], str]] = {
    "a missing field": (
        _changed("prev_event", _DELETE),
        "event fields: missing ['prev_event'], unexpected []",
    ),
    "another schema": (_changed("schema_version", "2.0"), "schema_version '2.0'"),
    "a type that is not a string": (_changed("event_type", 5), "event_type must be a string"),
    "a creation time that is not a time": (_changed("created_at", "soon"), "created_at: "),
    "a payload that is not an object": (_changed("payload", []), "payload must be an object"),
    "a prev_event that is not an id": (
        _changed("prev_event", "sha256:00"),
        "prev_event must be an event id or null",
    ),
    "a prev_event that is not a string": (
        _changed("prev_event", 5),
        "prev_event must be an event id or null",
    ),
    "supersedes out of order": (
        _changed("supersedes", [ID_B, ID_A]),
        "supersedes must be a sorted list of distinct event ids",
    ),
    "supersedes twice the same": (
        _changed("supersedes", [ID_A, ID_A]),
        "supersedes must be a sorted list of distinct event ids",
    ),
    "supersedes that is not a list": (
        _changed("supersedes", ID_A),
        "supersedes must be a sorted list of distinct event ids",
    ),
    "supersedes holding a number": (
        _changed("supersedes", [5]),
        "supersedes must be a sorted list of distinct event ids",
    ),
    "a signer missing a field": (
        _changed("signer.signer_type", _DELETE),
        f"signer must hold exactly {SIGNER}",
    ),
    "a signer field that is not a string": (
        _changed("signer.signer_id", 5),
        "signer fields must be strings",
    ),
    "a signature missing a field": (
        _changed("signature.signed_at", _DELETE),
        f"signature must hold exactly {SIGNATURE}",
    ),
    "another algorithm": (
        _changed("signature.algorithm", "rsa"),
        "signature.algorithm is 'rsa', expected 'ed25519'",
    ),
    "a signing time that is not a time": (
        _changed("signature.signed_at", "2026-05-17T23:59:22Z"),
        "signature.signed_at: ",
    ),
}


@pytest.mark.parametrize(("event", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_event_is_refused_saying_what_is_wrong(
    event: dict[str, Any], message: str
) -> None:
    with pytest.raises(VerificationError) as e:
        check_event(event, SUBJECT, KEYS)
    assert (e.value.step, str(e.value.reason)) == ("events", "malformed")
    assert e.value.message.startswith(message)
    if not message.endswith(": "):
        assert e.value.message == message


def test_content_outside_the_canonical_domain_is_malformed_not_a_hash_mismatch() -> None:
    event = _changed("payload", {"graph_snapshot": {"score": 0.5}, "verdict_id": None})
    with pytest.raises(VerificationError) as e:
        check_event(event, SUBJECT, KEYS)
    assert (e.value.step, str(e.value.reason)) == ("events", "malformed")
    assert "float 0.5 is not allowed" in e.value.message


def test_type_and_target_refusals_name_both_sides() -> None:
    with pytest.raises(VerificationError) as kind:
        check_event(_changed("event_type", "rumour"), SUBJECT, KEYS)
    assert (str(kind.value.reason), kind.value.message) == (
        "unknown_type",
        "unknown event type 'rumour'",
    )
    with pytest.raises(VerificationError) as target:
        check_event(_changed("target", "record"), SUBJECT, KEYS)
    assert (str(target.value.reason), target.value.message) == (
        "wrong_target",
        "graph_snapshot events target 'graph', not 'record'",
    )


def test_an_event_too_malformed_to_claim_an_id_is_listed_by_its_content_hash() -> None:
    junk: list[Any] = ["not", "an", "event"]
    state = merge(SUBJECT, [factory.record_created(REC, KEY), junk], factory.aliases(REC), KEYS)
    assert state["invalid_events"] == [
        {"event_id": "sha256:" + cjson.sha256_hex(junk), "reason": "malformed"}
    ]
    assert claimed_id({"event_id": 5}) == "sha256:" + cjson.sha256_hex({"event_id": 5})
    assert claimed_id({"event_id": ID_A}) == ID_A


def _refusal(event: Any, keys: KeySet = KEYS) -> tuple[str | None, str, str]:
    with pytest.raises(VerificationError) as e:
        check_event(event, SUBJECT, keys)
    return e.value.step, str(e.value.reason), e.value.message


def _resigned(path: str, value: Any) -> dict[str, Any]:
    """The event with ``path`` changed, hashed and signed again by the trusted key."""
    return sign_event(_changed(path, value), KEY, factory.T0)


OTHER = factory.signer(2)

REFUSED: dict[str, tuple[dict[str, Any], KeySet, tuple[str, str, str]]] = {
    "a content hash that is not the content's": (
        _changed("content_sha256", "0" * 64),
        KEYS,
        ("events", "content_hash_mismatch", "content_sha256 is not the hash of the content"),
    ),
    "an id that is not the content hash": (
        _changed("event_id", ID_A),
        KEYS,
        ("events", "event_id_mismatch", "event_id is not sha256:<content_sha256>"),
    ),
    "a signature that is not base64": (
        _changed("signature.signature_b64", "not base64!"),
        KEYS,
        ("events", "malformed", "event signature: signature_b64 is not base64"),
    ),
    "a signature by an untrusted key": (
        factory.event(REC, OTHER),
        KEYS,
        (
            "events",
            "unknown_key",
            f"signed by key {OTHER.public_key.key_id!r}, which is not in the trusted key set",
        ),
    ),
    "a signer naming an untrusted key": (
        _resigned("signer.key_id", "someone-else"),
        KEYS,
        ("events", "unknown_key", "signer names key 'someone-else', not trusted"),
    ),
    "a signer naming the wrong fingerprint": (
        _resigned("signer.public_key_fingerprint", "00" * 16),
        KEYS,
        ("events", "fingerprint_mismatch", "signer fingerprint does not match its key"),
    ),
}


@pytest.mark.parametrize(("event", "keys", "expected"), REFUSED.values(), ids=REFUSED.keys())
def test_an_event_that_does_not_check_is_refused_with_its_reason_and_message(
    event: dict[str, Any], keys: KeySet, expected: tuple[str, str, str]
) -> None:
    assert _refusal(event, keys) == expected


def test_hashing_an_event_checks_its_content_unless_told_it_was_parsed() -> None:
    event = _changed("payload", {"graph_snapshot": {"score": 0.5}, "verdict_id": None})
    with pytest.raises(CanonicalJSONError, match=r"float 0\.5 is not allowed"):
        content_digest(event)


def test_an_event_outside_the_canonical_domain_claims_the_all_zero_id() -> None:
    assert claimed_id({"score": 0.5}) == "sha256:" + "0" * 64
