"""Verifier behaviour that mutation testing found unpinned (docs/mutation.md).

The ``--json`` report is what scripts read: its shape for a pass and for a
failure, and the step, reason and message of a bundle that is not even JSON.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from issuer import cjson
from issuer.errors import NetworkError, VerificationError
from issuer.fetch import Fetched, mirror_bundle_url
from issuer.identifiers import PithNumber
from issuer.keys.keyset import KeySet
from issuer.verify import _mirrors, compare_mirrors
from issuer.verify._verifier import (
    STEPS,
    VerificationReport,
    verify_bundle,
    verify_bundle_bytes,
    verify_bundle_report,
)
from tests import factory

KEY = factory.signer(1)
KEYS = KeySet([KEY.public_key])


def test_a_passing_report_lists_every_step_and_the_hashes() -> None:
    bundle = factory.bundle()
    report = verify_bundle_report(cjson.dumps(bundle), KEYS, "b.json")
    assert report.to_dict() == {
        "source": "b.json",
        "ok": True,
        "pith_number": bundle["pith_number"],
        "checks": [{"step": step, "ok": True} for step in report.passed],
        "reason": None,
        "message": None,
        "state_sha256": bundle["state"]["state_sha256"],
        "bundle_sha256": bundle["bundle_signature"]["bundle_sha256"],
    }
    assert report.passed == [s for s in STEPS if s in report.passed]
    assert report.passed[0] == "structure"


def test_a_failing_report_ends_with_the_failed_step_and_says_why() -> None:
    bundle = factory.bundle()
    report = verify_bundle_report(cjson.dumps(bundle), KeySet(), "b.json")
    data = report.to_dict()
    assert data["ok"] is False
    assert data["checks"][-1] == {
        "step": report.failed_step,
        "ok": False,
        "reason": report.reason,
        "message": report.message,
    }
    assert [c["step"] for c in data["checks"][:-1]] == report.passed
    assert all(c["ok"] for c in data["checks"][:-1])
    assert (data["reason"], data["message"]) == (report.reason, report.message)
    assert data["reason"] == "unknown_key"
    assert data["message"]
    assert (data["state_sha256"], data["bundle_sha256"]) == (None, None)


@pytest.mark.parametrize("data", [b"{", b'{"a": 1.5}', b'{"a": 1, "a": 2}'])
def test_a_bundle_that_is_not_strict_json_fails_the_structure_step(data: bytes) -> None:
    with pytest.raises(VerificationError) as e:
        verify_bundle_bytes(data, KEYS)
    assert (e.value.step, str(e.value.reason)) == ("structure", "malformed")
    assert e.value.message.startswith("invalid JSON: ")
    report = verify_bundle_report(data, KEYS, "x")
    assert (report.failed_step, report.reason, report.message) == (
        "structure",
        "malformed",
        e.value.message,
    )


A, B, DOWN = "https://a.example", "https://b.example", "https://down.example"


def _serve(monkeypatch: pytest.MonkeyPatch, code: str, mirrors: dict[str, bytes]) -> None:
    """A fake ``fetch``: the bundle each mirror serves for ``code``; others are unreachable."""
    served = {mirror_bundle_url(base, code): data for base, data in mirrors.items()}

    def fake_fetch(url: str, **_: object) -> Fetched:
        if url not in served:
            raise NetworkError(f"cannot reach {url}")
        return Fetched(url, served[url], code)

    monkeypatch.setattr(_mirrors, "fetch", fake_fetch)


def test_mirrors_are_each_reported_and_their_differences_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rec = factory.record()
    number = str(PithNumber.for_record(rec))
    code = PithNumber.for_record(rec).code
    old = factory.bundle(rec, KEY)
    new = factory.bundle(rec, KEY, [factory.event(rec, KEY, at=factory.T0 + timedelta(days=1))])
    _serve(monkeypatch, code, {A: cjson.dumps(old), B: cjson.dumps(new)})
    comparison = compare_mirrors(number, [DOWN, A, B], KEYS)
    down, a, b = comparison.reports
    assert (down.source, down.ok, down.passed, down.failed_step) == (
        mirror_bundle_url(DOWN, code),
        False,
        [],
        "fetch",
    )
    assert (down.reason, down.message) == ("unreadable", f"cannot reach {down.source}")
    assert a.ok and b.ok
    assert comparison.disagreements == [
        {
            "field": "state_sha256",
            "values": {
                a.source: old["state"]["state_sha256"],
                b.source: new["state"]["state_sha256"],
            },
        }
    ]
    assert comparison.to_dict() == {
        "pith_number": number,
        "ok": False,
        "agree": False,
        "reason": "mirrors_disagree",
        "disagreements": comparison.disagreements,
        "mirrors": [r.to_dict() for r in comparison.reports],
    }


def test_a_mirror_serving_another_records_bundle_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wanted = PithNumber.for_record(factory.record(2))
    _serve(monkeypatch, wanted.code, {A: cjson.dumps(factory.bundle())})
    (report,) = compare_mirrors(str(wanted), [A], KEYS).reports
    assert (report.ok, report.reason) == (False, "wrong_record")


def test_only_valid_mirrors_are_compared() -> None:
    good = verify_bundle_report(cjson.dumps(factory.bundle()), KEYS, "a")
    assert good.result is not None
    other = dataclasses.replace(good.result, state_sha256="0" * 64)
    refused = VerificationReport("b", False, [], "fetch", "unreadable", "x", result=other)
    assert _mirrors._disagreements([good, refused]) == []


def _tampered(path: str, value: object) -> dict[str, Any]:
    return factory.set_path(copy.deepcopy(factory.bundle()), path, value)


_DELETE = factory.DELETE
OTHER_SIGNATURE = factory.bundle(factory.record(5))["bundle_signature"]["signature_b64"]
TAMPERED: dict[str, tuple[dict[str, Any], str, str, str]] = {
    "a signature field missing": (
        _tampered("bundle_signature.signed_at", _DELETE),
        "bundle_signature",
        "malformed",
        "bundle_signature fields differ",
    ),
    "another algorithm": (
        _tampered("bundle_signature.algorithm", "rsa"),
        "bundle_signature",
        "malformed",
        "algorithm is 'rsa', expected 'ed25519'",
    ),
    "a signature that is not base64": (
        _tampered("bundle_signature.signature_b64", "!!"),
        "bundle_signature",
        "malformed",
        "bundle_signature: signature_b64 is not base64",
    ),
    "a wrong bundle_sha256": (
        _tampered("bundle_signature.bundle_sha256", "00" * 32),
        "bundle_signature",
        "bundle_sha256_mismatch",
        "bundle_sha256 is not the hash of the bundle",
    ),
    "an unknown key": (
        _tampered("bundle_signature.key_id", "nobody"),
        "bundle_signature",
        "unknown_key",
        "signed by key 'nobody', which is not in the trusted key set",
    ),
    "another bundle's signature": (
        _tampered("bundle_signature.signature_b64", OTHER_SIGNATURE),
        "bundle_signature",
        "bad_bundle_signature",
        f"bundle signature does not verify under key {KEY.key_id}",
    ),
}


@pytest.mark.parametrize(
    ("bundle", "step", "reason", "message"), TAMPERED.values(), ids=TAMPERED.keys()
)
def test_a_tampered_bundle_fails_at_its_step_saying_why(
    bundle: dict[str, Any], step: str, reason: str, message: str
) -> None:
    for parsed in (False, True):
        with pytest.raises(VerificationError) as e:
            if parsed:
                verify_bundle_bytes(cjson.dumps(bundle), KEYS)
            else:
                verify_bundle(bundle, KEYS)
        assert (e.value.step, str(e.value.reason), e.value.message) == (step, reason, message)


def test_an_invalid_event_is_named_by_its_index_and_its_own_error() -> None:
    bundle = factory.bundle()
    events = bundle["events"]
    events[1]["signature"]["signature_b64"] = events[0]["signature"]["signature_b64"]
    with pytest.raises(VerificationError) as e:
        verify_bundle(bundle, KEYS)
    assert (e.value.step, str(e.value.reason), e.value.message) == (
        "events",
        "bad_signature",
        f"events[1]: signature does not verify under key {KEY.key_id}",
    )


def test_an_event_invalid_only_by_its_chain_is_named_with_its_reason() -> None:
    rec = factory.record()
    missing = factory.event(factory.record(3), KEY)["event_id"]
    orphan = factory.event(rec, KEY, at=factory.T0 + timedelta(days=1), prev=missing)
    bundle = factory.bundle(rec, KEY, [orphan])
    index = [e["event_id"] for e in bundle["events"]].index(orphan["event_id"])
    with pytest.raises(VerificationError) as e:
        verify_bundle(bundle, KEYS)
    assert (e.value.step, str(e.value.reason), e.value.message) == (
        "events",
        "missing_prev_event",
        f"events[{index}]: not applicable: missing_prev_event",
    )


def test_a_report_records_what_was_established_before_the_failure() -> None:
    bundle = factory.bundle()
    number = bundle["pith_number"]
    data = cjson.dumps(bundle)
    assert verify_bundle_report(data, KEYS).source == ""
    junk = verify_bundle_report(b"[", KEYS, "j")
    assert (junk.source, junk.ok, junk.passed, junk.pith_number) == ("j", False, [], None)
    refused = verify_bundle_report(data, KeySet(), "r")
    assert (refused.source, refused.ok, refused.pith_number) == ("r", False, number)
    assert refused.passed
    assert refused.passed == list(STEPS[: len(refused.passed)])
    not_a_bundle = verify_bundle_report(b"[1]", KEYS, "l")
    assert (not_a_bundle.ok, not_a_bundle.pith_number, not_a_bundle.failed_step) == (
        False,
        None,
        "structure",
    )
    unnamed = verify_bundle_report(cjson.dumps({**bundle, "pith_number": 5}), KEYS, "n")
    assert (unnamed.ok, unnamed.pith_number) == (False, None)


def test_a_report_for_another_record_says_which_was_asked_for() -> None:
    bundle = factory.bundle()
    number = bundle["pith_number"]
    data = cjson.dumps(bundle)
    other = str(PithNumber.for_record(factory.record(2)))
    for asked in (other, other.rsplit(":", 1)[1]):
        report = verify_bundle_report(data, KEYS, "w", expected=asked)
        assert (report.ok, report.failed_step, report.reason, report.pith_number) == (
            False,
            "record",
            "wrong_record",
            number,
        )
        assert report.message == f"asked for {asked}, got a bundle of {number}"
        assert report.passed
        assert report.source == "w"
    suffix = number.rsplit(":", 1)[1][1:]  # the end of the right code is not the code
    assert verify_bundle_report(data, KEYS, "w", expected=suffix).reason == "wrong_record"
    for asked in (number, number.rsplit(":", 1)[1]):
        assert verify_bundle_report(data, KEYS, "w", expected=asked).ok


def _with_state(change: dict[str, Any], *, rehash: bool = True) -> dict[str, Any]:
    bundle: dict[str, Any] = copy.deepcopy(factory.bundle())
    state = {**bundle["state"], **change}
    if rehash:
        unhashed = {k: v for k, v in state.items() if k != "state_sha256"}
        state["state_sha256"] = cjson.sha256_hex(unhashed)
    bundle["state"] = state
    return bundle


def test_a_state_that_does_not_follow_fails_the_state_step_saying_where() -> None:
    cases = [
        (
            _with_state({"state_sha256": "00" * 32}, rehash=False),
            "state_sha256_mismatch",
            "state_sha256 is not the hash of the state",
        ),
        (
            _with_state({"event_count": 7, "equivocations": [{"x": 1}]}),
            "state_mismatch",
            "the state does not follow from the events "
            "(differs in equivocations, event_count, state_sha256)",
        ),
    ]
    for bundle, reason, message in cases:
        with pytest.raises(VerificationError) as e:
            verify_bundle(bundle, KEYS)
        assert (e.value.step, str(e.value.reason), e.value.message) == ("state", reason, message)
