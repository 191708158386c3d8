"""Refusals of the receipt, events and state steps, each with its step, reason and message.

Each bundle here breaks exactly one rule and is checked through
:func:`verify_bundle` (the parsed-dict path, which hashes strictly); what a
user reads is the message, so that is pinned too.
"""

from __future__ import annotations

from typing import Any

import pytest

from issuer import cjson
from issuer._time import parse_seconds
from issuer.bundles import MAX_EVENTS, sign_bundle
from issuer.errors import FormatError, VerificationError
from issuer.events import sign_event
from issuer.keys.keyset import KeySet, parse_key_document
from issuer.record import CanonicalRecord
from issuer.verify import VerifiedBundle, verify_bundle
from tests import factory

KEY = factory.signer(1)
KEYS = KeySet([KEY.public_key])
Json = dict[str, Any]


def _bundle() -> Json:
    """A fresh bundle sharing no object between its parts (as one read from a file)."""
    bundle: Json = cjson.loads(cjson.dumps(factory.bundle()))
    return bundle


def _record_created(bundle: Json) -> Json:
    return next(e for e in bundle["events"] if e["event_type"] == "record_created")


def _refusal(bundle: Json) -> tuple[str | None, str, str]:
    with pytest.raises(VerificationError) as caught:
        verify_bundle(bundle, KEYS)
    return caught.value.step, str(caught.value.reason), caught.value.message


def _rehashed(state: Json) -> Json:
    unhashed = {k: v for k, v in state.items() if k != "state_sha256"}
    return {**unhashed, "state_sha256": cjson.sha256_hex(unhashed)}


def test_a_bundle_without_a_record_created_event_fails_the_receipt_step() -> None:
    bundle = _bundle()
    bundle["events"] = [e for e in bundle["events"] if e["event_type"] != "record_created"]
    assert _refusal(bundle) == ("receipt", "missing_record_created", "no record_created event")


@pytest.mark.parametrize("payload", ["x", [1], None], ids=["a string", "a list", "null"])
def test_a_record_created_payload_that_is_not_an_object_has_no_receipt(payload: object) -> None:
    bundle = _bundle()
    _record_created(bundle)["payload"] = payload
    assert _refusal(bundle) == ("receipt", "malformed_receipt", "receipt: expected an object")


def test_a_signed_payload_whose_state_would_nest_too_deeply_fails_the_events_step() -> None:
    """The event is within the depth limit; the state it merges into is one level over."""
    bundle = _bundle()
    snapshot = next(e for e in bundle["events"] if e["event_type"] == "graph_snapshot")
    deep: Json = {}
    for _ in range(cjson.MAX_DEPTH - 5):  # bundle, events, event, payload, graph_snapshot
        deep = {"a": deep}
    snapshot["payload"]["graph_snapshot"] = deep
    at = factory.T0
    bundle["events"] = [sign_event(e, KEY, at) for e in bundle["events"]]
    step, reason, message = _refusal(sign_bundle(bundle, KEY, at))
    assert (step, reason) == ("events", "malformed")
    assert message.startswith("cannot write canonical JSON: ")
    assert message.endswith(f"nested more than {cjson.MAX_DEPTH} levels deep")


def test_a_state_with_a_field_the_merge_does_not_make_names_it() -> None:
    bundle = _bundle()
    bundle["state"] = _rehashed({**bundle["state"], "extra": 1})
    assert _refusal(bundle) == (
        "state",
        "state_mismatch",
        "the state does not follow from the events (differs in extra, state_sha256)",
    )


def test_a_state_without_a_field_the_merge_makes_names_it() -> None:
    bundle = _bundle()
    bundle["state"] = _rehashed({k: v for k, v in bundle["state"].items() if k != "event_count"})
    assert _refusal(bundle) == (
        "state",
        "state_mismatch",
        "the state does not follow from the events (differs in event_count, state_sha256)",
    )


@pytest.mark.parametrize(
    "edit",
    [
        lambda aliases: aliases[::-1],
        lambda aliases: [*aliases, {**aliases[0], "alias_kind": "other_id"}],
    ],
    ids=["reordered", "one more than the state's"],
)
def test_source_aliases_that_differ_from_the_state_fail_the_state_step(edit: Any) -> None:
    bundle = _bundle()
    bundle["source_aliases"] = edit(bundle["source_aliases"])
    assert _refusal(bundle) == (
        "state",
        "alias_mismatch",
        "source_aliases differ from the state's",
    )


def test_a_state_that_cannot_be_written_as_canonical_json_is_malformed() -> None:
    """Only a parsed dict can hold a float; its hash is refused with cjson's own message."""
    bundle = _bundle()
    bundle["state"]["x"] = 1.5
    unhashed = {k: v for k, v in bundle["state"].items() if k != "state_sha256"}
    with pytest.raises(FormatError) as expected:
        cjson.dumps(unhashed)
    assert _refusal(bundle) == ("structure", "malformed", expected.value.message)


# -- steps (2)-(5): what the record implies, and the key hints ---------------------------


def _set(path: str, value: object) -> Json:
    bundle = _bundle()
    factory.set_path(bundle, path, value)
    return bundle


def _format_error(call: Any) -> str:
    with pytest.raises(FormatError) as caught:
        call()
    return caught.value.message


GOOD = _bundle()
NUMBER = GOOD["pith_number"]
OTHER_KEY = factory.signer(2).public_key.to_dict()
BAD_RECORD = {**GOOD["canonical_record"], "version": "1"}
BAD_ALIAS = {"alias_kind": "doi", "alias_value": 5, "created_at": "x"}
ALIASES = GOOD["source_aliases"]
BAD_HINTS = [{"key_id": "k"}]

# name: (bundle, step, reason, message)
REFUSED: dict[str, tuple[Json, str, str, str]] = {
    "a canonical record that is not one": (
        _set("canonical_record", BAD_RECORD),
        "canonical_record",
        "malformed",
        _format_error(lambda: CanonicalRecord.from_dict(BAD_RECORD)),
    ),
    "a canonical_sha256 the record does not hash to": (
        _set("canonical_sha256", "ab" * 40),
        "canonical_record",
        "canonical_sha256_mismatch",
        f"canonical_sha256 is {'ab' * 40!r:.80}; the record hashes to {GOOD['canonical_sha256']}",
    ),
    "another Pith number": (
        _set("pith_number", NUMBER[:-1] + ("A" if NUMBER[-1] != "A" else "B")),
        "pith_number",
        "pith_number_mismatch",
        f"the record derives {NUMBER}",
    ),
    "another short form": (
        _set("short_pith_number", "pith:AAAAAAAA"),
        "pith_number",
        "short_pith_number_mismatch",
        f"short form is {GOOD['short_pith_number']}",
    ),
    "another source": (
        _set("source", {**GOOD["source"], "version": 2}),
        "pith_number",
        "source_mismatch",
        "source differs from the record",
    ),
    "an alias that is not an alias object": (
        _set("source_aliases", [*ALIASES, BAD_ALIAS]),
        "aliases",
        "malformed",
        f"malformed alias {BAD_ALIAS!r:.80}",
    ),
    "an alias with a malformed time": (
        _set("source_aliases", [*ALIASES, {**ALIASES[0], "created_at": "yesterday"}]),
        "aliases",
        "malformed",
        "alias created_at: " + _format_error(lambda: parse_seconds("yesterday")),
    ),
    "one alias value the record does not imply": (
        _set("source_aliases", [{**ALIASES[0], "alias_value": "2401.99999"}, *ALIASES[1:]]),
        "aliases",
        "alias_mismatch",
        "aliases arxiv do not match the record",
    ),
    "two alias values the record does not imply": (
        _set(
            "source_aliases",
            [*ALIASES[:2], *({**a, "alias_value": "x"} for a in ALIASES[2:4]), *ALIASES[4:]],
        ),
        "aliases",
        "alias_mismatch",
        "aliases doi, pith_short_12 do not match the record",
    ),
    "an alias given twice": (
        _set("source_aliases", [*ALIASES, ALIASES[2]]),
        "aliases",
        "alias_mismatch",
        "aliases duplicated do not match the record",
    ),
    "key hints that are not key records": (
        _set("public_keys", BAD_HINTS),
        "key_hints",
        "malformed",
        _format_error(lambda: parse_key_document(BAD_HINTS, "public_keys")),
    ),
    "a key hint naming a trusted id with another key": (
        _set("public_keys", [{**OTHER_KEY, "key_id": KEY.key_id}]),
        "key_hints",
        "conflicting_key_hint",
        f"public_keys lists a different key under the trusted id {KEY.key_id}",
    ),
}


@pytest.mark.parametrize(
    ("bundle", "step", "reason", "message"), REFUSED.values(), ids=REFUSED.keys()
)
def test_a_bundle_that_breaks_one_rule_is_refused_saying_which(
    bundle: Json, step: str, reason: str, message: str
) -> None:
    assert _refusal(bundle) == (step, reason, message)
    assert _refusal(cjson.loads(cjson.dumps(bundle))) == (step, reason, message)


def test_malformed_key_hints_are_named_as_public_keys() -> None:
    assert "public_keys" in _refusal(_set("public_keys", BAD_HINTS))[2]


# -- step (1): structure ---------------------------------------------------------------


def _without(name: str) -> Json:
    return {k: v for k, v in _bundle().items() if k != name}


STRUCTURE: dict[str, tuple[Any, str]] = {
    "not an object": ([GOOD], "a bundle is a JSON object"),
    "a field missing": (_without("links"), "missing ['links'], unexpected []"),
    "a field too many": ({**GOOD, "zz": 1}, "missing [], unexpected ['zz']"),
    "another bundle type": (
        {**GOOD, "bundle_type": "x"},
        f"bundle_type is 'x', not {GOOD['bundle_type']!r}",
    ),
    "links to something else than URLs": (
        {**GOOD, "links": {"html": 5}},
        "links must map names to URLs",
    ),
    "a mirror hint that is not an object": (
        {**GOOD, "mirror_hints": ["https://mirror.example"]},
        "mirror_hints must be objects",
    ),
    "built_at not a time": (
        {**GOOD, "built_at": "soon"},
        "built_at: " + _format_error(lambda: parse_seconds("soon")),
    ),
    f"more than {MAX_EVENTS} events": (
        {**GOOD, "events": [{}] * (MAX_EVENTS + 1)},
        f"{MAX_EVENTS + 1} events; a bundle holds at most {MAX_EVENTS}",
    ),
    **{
        f"{name} not a list": ({**GOOD, name: {}}, f"{name} must be a list")
        for name in ("source_aliases", "events", "timestamp_proofs", "mirror_hints", "public_keys")
    },
    **{
        f"{name} not an object": ({**GOOD, name: []}, f"{name} must be an object")
        for name in ("links", "state", "bundle_signature", "source")
    },
}


@pytest.mark.parametrize(("bundle", "message"), STRUCTURE.values(), ids=STRUCTURE.keys())
def test_a_bundle_not_of_the_bundle_shape_fails_the_structure_step_saying_why(
    bundle: Any, message: str
) -> None:
    assert _refusal(bundle) == ("structure", "malformed", message)


def test_exactly_the_most_events_a_bundle_may_hold_passes_the_structure_step() -> None:
    step, _, _ = _refusal({**GOOD, "events": [{}] * MAX_EVENTS})
    assert step != "structure"


# -- what a verified bundle establishes --------------------------------------------------


def test_a_verified_bundle_carries_its_record_and_hashes() -> None:
    result = verify_bundle(GOOD, KEYS)
    assert result == VerifiedBundle(
        NUMBER,
        GOOD["canonical_sha256"],
        CanonicalRecord.from_dict(GOOD["canonical_record"]),
        GOOD["state"]["state_sha256"],
        GOOD["bundle_signature"]["bundle_sha256"],
        KEY.key_id,
    )
