"""Merge (spec §8) behaviour that mutation testing found unpinned (docs/mutation.md).

The verifier reports the error the merge kept for an invalid event: its step,
reason and message are what a user reads.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from issuer.events import build_event, sign_event
from issuer.identifiers import PithNumber
from issuer.keys.keyset import KeySet
from issuer.merge import merge, merge_explained
from tests import factory

DAY = timedelta(days=1)
KEY = factory.signer(1)
KEYS = KeySet([KEY.public_key])
REC = factory.record()
SUBJECT = str(PithNumber.for_record(REC))


def _explained(events: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    return merge_explained(SUBJECT, events, factory.aliases(REC), KEYS)


def test_a_payload_refusal_names_the_merge_step_and_says_why() -> None:
    bad = factory.event(REC, KEY, payload={"graph_snapshot": {"n": 1}})  # no verdict_id
    state, problems = _explained([factory.record_created(REC, KEY), bad])
    error = problems[bad["event_id"]]
    assert (error.step, str(error.reason)) == ("merge", "invalid_payload")
    assert error.message == "graph_snapshot needs graph_snapshot and verdict_id"
    assert state["invalid_events"] == [{"event_id": bad["event_id"], "reason": "invalid_payload"}]


@pytest.mark.parametrize(
    "payload",
    [
        {"alias_kind": "journal_doi", "alias_value": "10.1/x", "note": "extra"},
        {"alias_kind": "journal_doi", "alias_value": ""},
        {"alias_kind": "journal_doi", "alias_value": 5},
        {"alias_kind": "journal_doi"},
    ],
    ids=["extra field", "empty value", "not a string", "no value"],
)
def test_a_source_alias_needs_exactly_two_non_empty_strings(payload: dict[str, Any]) -> None:
    alias = factory.event(REC, KEY, "source_alias", payload=payload)
    state = merge(SUBJECT, [factory.record_created(REC, KEY), alias], factory.aliases(REC), KEYS)
    assert state["invalid_events"] == [{"event_id": alias["event_id"], "reason": "invalid_payload"}]
    assert state["current"]["source_aliases"] == factory.aliases(REC)


def _record_created(
    change: dict[str, Any] | None = None,
    *,
    drop: str = "",
    prev: str | None = None,
    supersedes: tuple[str, ...] = (),
    subject: str = SUBJECT,
) -> dict[str, Any]:
    """The record_created event of REC with its payload changed, signed again by KEY."""
    payload = {**factory.record_created(REC, KEY)["payload"], **(change or {})}
    payload.pop(drop, None)
    return build_event(
        "record_created",
        subject,
        payload,
        KEY,
        factory.T0,
        prev_event=prev,
        supersedes=supersedes,
    )


OTHER_ID = factory.event(REC, KEY)["event_id"]
OTHER_REC = factory.record(2)

RECORD_CREATED: dict[str, tuple[dict[str, Any], str, str]] = {
    "an extra payload field": (
        _record_created({"note": "x"}),
        "invalid_payload",
        "record_created payload fields differ",
    ),
    "a missing payload field": (
        _record_created(drop="attestation_state"),
        "invalid_payload",
        "record_created payload fields differ",
    ),
    "a prev_event": (
        _record_created(prev=OTHER_ID),
        "invalid_payload",
        "record_created starts its chain",
    ),
    "a superseded event": (
        _record_created(supersedes=(OTHER_ID,)),
        "invalid_payload",
        "record_created starts its chain",
    ),
    "a malformed canonical record": (
        _record_created({"canonical_record": {"source": {}}}),
        "invalid_payload",
        "",
    ),
    "a wrong canonical_sha256": (
        _record_created({"canonical_sha256": "00" * 32}),
        "canonical_sha256_mismatch",
        "payload canonical_sha256 is wrong",
    ),
    "another paper's record": (
        _record_created(
            {
                "canonical_record": OTHER_REC.to_dict(),
                "canonical_sha256": OTHER_REC.canonical_sha256,
                "source_id": OTHER_REC.source_id,
            }
        ),
        "pith_number_mismatch",
        "record does not derive the subject",
    ),
    "a wrong source_id": (
        _record_created({"source_id": "2401.99999"}),
        "invalid_payload",
        f"payload source_id is not {REC.source_id!r}",
    ),
    "a wrong attestation_state": (
        _record_created({"attestation_state": "claimed"}),
        "invalid_payload",
        "payload attestation_state is not 'computed'",
    ),
}


@pytest.mark.parametrize(
    ("event", "reason", "message"), RECORD_CREATED.values(), ids=RECORD_CREATED.keys()
)
def test_a_bad_record_created_is_invalid_with_its_reason(
    event: dict[str, Any], reason: str, message: str
) -> None:
    state, problems = _explained([event])
    assert state["invalid_events"] == [{"event_id": event["event_id"], "reason": reason}]
    assert state["current"]["record_created"] is None
    error = problems[event["event_id"]]
    assert (error.step, str(error.reason)) == ("merge", reason)
    if message:
        assert error.message == message
    else:
        assert error.message


def test_of_two_copies_failing_alike_the_same_error_is_reported_in_any_order() -> None:
    event = factory.event(REC, KEY)
    by_two = sign_event(event, factory.signer(2), factory.T0)
    by_three = sign_event(event, factory.signer(3), factory.T0)
    messages = set()
    for order in ([by_two, by_three], [by_three, by_two]):
        state, problems = _explained([factory.record_created(REC, KEY), *order])
        assert state["invalid_events"] == [{"event_id": event["event_id"], "reason": "unknown_key"}]
        messages.add(problems[event["event_id"]].message)
    assert len(messages) == 1


def test_a_bad_source_alias_says_what_it_needs() -> None:
    alias = factory.event(REC, KEY, "source_alias", payload={"alias_kind": "journal_doi"})
    _, problems = _explained([factory.record_created(REC, KEY), alias])
    assert problems[alias["event_id"]].message == "source_alias needs alias_kind and alias_value"


@pytest.mark.parametrize("trust_two", [False, True])
def test_of_two_copies_failing_differently_the_first_reason_by_name_is_reported(
    trust_two: bool,
) -> None:
    event = factory.event(REC, KEY)
    two = factory.signer(2)
    keys = KeySet([KEY.public_key, two.public_key]) if trust_two else KEYS
    by_two = sign_event(event, two, factory.T0)
    # by key 2: unknown_key, or bad_signature once key 2 is trusted
    by_two["signature"]["signature_b64"] = event["signature"]["signature_b64"]
    by_one = copy.deepcopy(event)  # by key 1: bad_signature, or fingerprint_mismatch
    if trust_two:
        by_one["signature"]["public_key_fingerprint"] = "00" * 16
    else:
        other = factory.record_created(REC, KEY)["signature"]["signature_b64"]
        by_one["signature"]["signature_b64"] = other
    for order in ([by_two, by_one], [by_one, by_two]):
        state, problems = merge_explained(
            SUBJECT, [factory.record_created(REC, KEY), *order], factory.aliases(REC), keys
        )
        assert state["invalid_events"] == [
            {"event_id": event["event_id"], "reason": "bad_signature"}
        ]
        assert str(problems[event["event_id"]].reason) == "bad_signature"


def test_an_event_outside_the_canonical_domain_is_malformed() -> None:
    event = factory.event(REC, KEY)
    event["payload"] = {"graph_snapshot": {"score": 0.5}, "verdict_id": None}
    state = merge(SUBJECT, [factory.record_created(REC, KEY), event], factory.aliases(REC), KEYS)
    assert state["invalid_events"] == [{"event_id": event["event_id"], "reason": "malformed"}]


def test_a_broken_link_invalidates_the_whole_chain_after_it() -> None:
    missing = factory.event(factory.record(3), KEY)["event_id"]
    chain = [factory.event(REC, KEY, prev=missing)]
    for n in range(1, 6):
        chain.append(
            factory.event(
                REC, KEY, at=factory.T0 + timedelta(minutes=n), prev=chain[-1]["event_id"]
            )
        )
    state = merge(SUBJECT, [factory.record_created(REC, KEY), *chain], factory.aliases(REC), KEYS)
    assert sorted(e["event_id"] for e in state["invalid_events"]) == sorted(
        e["event_id"] for e in chain
    )
    assert {e["reason"] for e in state["invalid_events"]} == {"missing_prev_event"}
    assert state["current"]["graph_snapshots"] == []


def test_every_equivocation_is_left_unapplied_not_only_the_last() -> None:
    created = factory.record_created(REC, KEY)
    forks = [
        factory.event(REC, KEY, kind, payload=payload, at=factory.T0 + timedelta(minutes=n))
        for kind, payload in (
            ("graph_snapshot", {"graph_snapshot": {"n": 1}, "verdict_id": None}),
            ("author_attestation", {"author": "a"}),
        )
        for n in (1, 2)
    ]
    state = merge(SUBJECT, [created, *forks], factory.aliases(REC), KEYS)
    assert state["equivocation_count"] == 2
    assert state["applied_event_ids"] == [created["event_id"]]
    assert state["current"]["graph_snapshots"] == []
    assert state["current"]["author_attestations"] == []


def test_an_alias_listed_twice_keeps_its_earliest_time() -> None:
    base = factory.aliases(REC)
    arxiv = next(a for a in base if a["alias_kind"] == "arxiv")
    payload = {"alias_kind": "arxiv", "alias_value": arxiv["alias_value"]}
    later = factory.event(REC, KEY, "source_alias", payload=payload, at=factory.T0 + DAY)
    earlier = factory.event(REC, KEY, "source_alias", payload=payload, at=factory.T0 - DAY)
    created = factory.record_created(REC, KEY)
    state = merge(SUBJECT, [created, later], base, KEYS)
    assert state["current"]["source_aliases"] == base
    state = merge(SUBJECT, [created, earlier], base, KEYS)
    expected = [{**a, "created_at": earlier["created_at"]} if a == arxiv else a for a in base]
    assert state["current"]["source_aliases"] == expected


def test_a_new_alias_joins_the_list_with_its_event_time() -> None:
    payload = {"alias_kind": "journal_doi", "alias_value": "10.1/x"}
    alias = factory.event(REC, KEY, "source_alias", payload=payload, at=factory.T0 + DAY)
    state = merge(SUBJECT, [factory.record_created(REC, KEY), alias], factory.aliases(REC), KEYS)
    assert {**payload, "created_at": alias["created_at"]} in state["current"]["source_aliases"]


def test_nothing_built_on_an_equivocation_is_applied_however_long_the_chain() -> None:
    created = factory.record_created(REC, KEY)
    fork_a = factory.event(REC, KEY, at=factory.T0 + timedelta(minutes=1))
    fork_b = factory.event(REC, KEY, at=factory.T0 + timedelta(minutes=2))
    chain = [fork_a]
    for n in range(3, 9):
        chain.append(
            factory.event(
                REC, KEY, at=factory.T0 + timedelta(minutes=n), prev=chain[-1]["event_id"]
            )
        )
    state = merge(SUBJECT, [created, fork_b, *chain], factory.aliases(REC), KEYS)
    assert state["applied_event_ids"] == [created["event_id"]]
    assert sorted(e["event_id"] for e in state["invalid_events"]) == sorted(
        e["event_id"] for e in chain[1:]
    )
    assert {e["reason"] for e in state["invalid_events"]} == {"prev_event_not_applied"}
