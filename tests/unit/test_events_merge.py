"""Events (spec §7) and the merge (spec §8): the real state, invalid events, equivocation, order."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer.events import EVENT_TYPES, build_event, check_event, content_digest, sign_event
from issuer.identifiers import PithNumber
from issuer.keys.keyset import KeySet
from issuer.merge import merge
from tests import factory
from tests.factory import T0

KEY = factory.signer(1)
OTHER = factory.signer(2)
KEYS = KeySet([KEY.public_key])
REC = factory.record()
SUBJECT = str(PithNumber.for_record(REC))


def test_real_state_is_reproduced_exactly(real_bundle: dict[str, Any]) -> None:
    state = merge(
        real_bundle["pith_number"],
        real_bundle["events"],
        real_bundle["source_aliases"],
        KeySet.shipped(),
    )
    assert state == real_bundle["state"]
    assert (
        state["state_sha256"] == "3ee013dd50c4cf270909ffe87ec9bc584ce786cca864d26d756ec8bbc4003a6b"
    )


def test_real_events_reproduce_their_hashes(real_bundle: dict[str, Any]) -> None:
    for event in real_bundle["events"]:
        assert content_digest(event).hex() == event["content_sha256"]
        assert event["event_id"] == "sha256:" + event["content_sha256"]
        check_event(event, real_bundle["pith_number"], KeySet.shipped())


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_type_builds_and_checks(event_type: str) -> None:
    if event_type == "record_created":
        event = factory.record_created(REC, KEY)
    else:
        payload = (
            {"alias_kind": "journal_doi", "alias_value": "10.1/x"}
            if event_type == "source_alias"
            else None
        )
        event = factory.event(REC, KEY, event_type, payload=payload)
    assert event["target"] == EVENT_TYPES[event_type].target
    check_event(event, SUBJECT, KEYS)


def test_resigning_keeps_the_event_id() -> None:
    event = factory.event(REC, KEY)
    resigned = sign_event(event, OTHER, T0 + timedelta(days=5))
    assert resigned["event_id"] == event["event_id"]
    assert resigned["signature"]["key_id"] == "test-registry-2"
    assert resigned["signature"] != event["signature"]
    check_event(resigned, SUBJECT, KeySet([KEY.public_key, OTHER.public_key]))


def _state(events: list[dict[str, Any]], keys: KeySet = KEYS) -> dict[str, Any]:
    return merge(SUBJECT, events, factory.aliases(REC), keys)


def _invalid(state: dict[str, Any]) -> dict[str, str]:
    return {e["event_id"]: e["reason"] for e in state["invalid_events"]}


def _tampered(event: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(event)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


GOOD = factory.event(REC, KEY)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (_tampered(GOOD, ["payload", "verdict_id"], "x"), "content_hash_mismatch"),
        (
            _tampered(
                GOOD,
                ["signature", "signature_b64"],
                sign_event(factory.event(REC, KEY, at=T0 + timedelta(1)), KEY, T0)["signature"][
                    "signature_b64"
                ],
            ),
            "bad_signature",
        ),
        (factory.event(REC, OTHER), "unknown_key"),
        (
            build_event(
                "graph_snapshot",
                "pith:2024:" + "A" * 26,
                {"graph_snapshot": {}, "verdict_id": None},
                KEY,
                T0,
            ),
            "wrong_subject",
        ),
        (_tampered(GOOD, ["event_type"], "rumour"), "unknown_type"),
        (_tampered(GOOD, ["signature", "algorithm"], "rsa"), "malformed"),
        (_tampered(GOOD, ["event_id"], "sha256:" + "0" * 64), "event_id_mismatch"),
        (factory.event(REC, KEY, prev="sha256:" + "1" * 64), "missing_prev_event"),
        (factory.event(REC, KEY, supersedes=("sha256:" + "2" * 64,)), "unknown_superseded_event"),
        (factory.event(REC, KEY, payload={"nope": 1}), "invalid_payload"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_invalid_events_are_listed_and_not_applied(event: dict[str, Any], reason: str) -> None:
    created = factory.record_created(REC, KEY)
    state = _state([created, event])
    assert _invalid(state) == {event["event_id"]: reason}
    assert event["event_id"] not in state["applied_event_ids"]
    assert state["applied_event_ids"] == [created["event_id"]]
    assert state["invalid_event_count"] == 1 and state["valid_event_count"] == 1


def test_key_not_valid_at_signing_time() -> None:
    rotated = KeySet([KEY.public_key.with_rotation(T0 - timedelta(days=1))])
    state = _state([factory.event(REC, KEY)], rotated)
    assert list(_invalid(state).values()) == ["key_not_valid_at_signing_time"]


def test_equivocation_is_detected_and_neither_side_applied() -> None:
    created = factory.record_created(REC, KEY)
    a = factory.event(REC, KEY, payload={"graph_snapshot": {"v": "a"}, "verdict_id": None})
    b = factory.event(REC, KEY, payload={"graph_snapshot": {"v": "b"}, "verdict_id": None})
    child = factory.event(REC, KEY, prev=a["event_id"], at=T0 + timedelta(1))
    state = _state([created, a, b, child])
    assert state["equivocation_count"] == 1
    assert state["equivocations"] == [
        {
            "signer_id": "pith.science",
            "target": "graph",
            "prev_event": None,
            "event_ids": sorted([a["event_id"], b["event_id"]]),
        }
    ]
    assert state["applied_event_ids"] == [created["event_id"]]
    assert _invalid(state) == {child["event_id"]: "prev_event_not_applied"}
    assert state["current"]["graph_snapshots"] == []


def test_superseding_is_not_equivocation_and_removes_from_current() -> None:
    created = factory.record_created(REC, KEY)
    a = factory.event(REC, KEY, payload={"graph_snapshot": {"v": "a"}, "verdict_id": None})
    b = factory.event(
        REC,
        KEY,
        payload={"graph_snapshot": {"v": "b"}, "verdict_id": None},
        supersedes=(a["event_id"],),
        at=T0 + timedelta(1),
    )
    state = _state([b, created, a])
    assert state["equivocation_count"] == 0
    assert [e["event_id"] for e in state["current"]["graph_snapshots"]] == [b["event_id"]]
    assert set(state["applied_event_ids"]) == {created["event_id"], a["event_id"], b["event_id"]}


def test_chain_orders_prev_before_child_even_if_created_later() -> None:
    created = factory.record_created(REC, KEY)
    first = factory.event(REC, KEY, at=T0 + timedelta(days=2))
    second = factory.event(
        REC,
        KEY,
        prev=first["event_id"],
        at=T0 + timedelta(days=1),
        payload={"graph_snapshot": {"v": 2}, "verdict_id": None},
    )
    state = _state([second, first, created])
    order = state["applied_event_ids"]
    assert order.index(first["event_id"]) < order.index(second["event_id"])


def test_source_alias_event_adds_an_alias() -> None:
    alias = factory.event(
        REC,
        KEY,
        "source_alias",
        payload={"alias_kind": "journal_doi", "alias_value": "10.1000/xyz"},
    )
    state = _state([factory.record_created(REC, KEY), alias])
    kinds = [a["alias_kind"] for a in state["current"]["source_aliases"]]
    assert kinds == sorted(kinds) and "journal_doi" in kinds and len(kinds) == 7


MANY = [
    factory.record_created(REC, KEY),
    GOOD,
    factory.event(REC, KEY, "author_attestation", payload={"orcid": "0000"}),
    factory.event(REC, KEY, "correction", payload={"note": "x"}, prev=None, at=T0 + timedelta(3)),
    factory.event(
        REC, KEY, payload={"graph_snapshot": {"v": 9}, "verdict_id": None}
    ),  # equivocates with GOOD
    factory.event(REC, OTHER),  # invalid: unknown key
    factory.event(
        REC,
        KEY,
        prev=GOOD["event_id"],
        at=T0 + timedelta(1),
        payload={"graph_snapshot": {"v": 3}, "verdict_id": None},
    ),
    factory.event(REC, KEY, "mirror_hint", payload={"url": "https://m.example"}, supersedes=()),
]


@settings(max_examples=60)
@given(st.permutations(MANY), st.lists(st.sampled_from(MANY), max_size=4))
def test_state_depends_only_on_the_set_of_events(
    order: list[dict[str, Any]], duplicates: list[dict[str, Any]]
) -> None:
    reference = _state(MANY)
    assert _state([*order, *duplicates]) == reference
    assert reference["event_count"] == len(MANY)
