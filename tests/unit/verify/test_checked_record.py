"""What the verifier hands the merge, and what it parses once.

The merge compares a ``record_created`` payload with the record and receipts
the verifier has already checked (:class:`issuer.merge.CheckedRecord`) instead
of checking them again; anything that is not byte for byte that record, or
not one of those receipt objects, is still checked in full. Key hints and
wire times are parsed once per process; a refusal is never remembered as a
success.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from issuer import _time, cjson
from issuer.errors import FormatError
from issuer.events import build_event
from issuer.identifiers import PithNumber
from issuer.keys.keyset import KeySet
from issuer.merge import CheckedRecord, merge_explained
from issuer.receipts import sign_receipt
from issuer.verify import verify_bundle_report
from tests import factory

KEY = factory.signer(1)
OTHER = factory.signer(2)  # not trusted
KEYS = KeySet([KEY.public_key])
REC = factory.record()
SUBJECT = str(PithNumber.for_record(REC))


def _created(record: dict[str, Any], receipt: dict[str, Any]) -> dict[str, Any]:
    payload = {
        "canonical_record": record,
        "canonical_sha256": REC.canonical_sha256,
        "receipt": receipt,
        "source_kind": REC.source_kind,
        "source_id": REC.source_id,
        "source_version": REC.version,
        "attestation_state": "computed",
    }
    return build_event("record_created", SUBJECT, payload, KEY, factory.T0)


def _checked(*receipts: Any) -> CheckedRecord:
    return CheckedRecord(cjson.dumps(REC.to_dict()), REC, SUBJECT, receipts)


def _invalid(event: dict[str, Any], checked: CheckedRecord | None) -> list[dict[str, Any]]:
    state, _ = merge_explained(SUBJECT, [event], factory.aliases(REC), KEYS, checked=checked)
    return list(state["invalid_events"])


def test_a_receipt_the_verifier_checked_is_not_verified_again() -> None:
    # Signed by an untrusted key: only skipping its check lets the event through.
    receipt = sign_receipt(REC.canonical_sha256, OTHER, factory.T0)
    event = _created(REC.to_dict(), receipt)
    assert _invalid(event, None) == [{"event_id": event["event_id"], "reason": "unknown_key"}]
    assert _invalid(event, _checked()) == _invalid(event, None)
    assert _invalid(event, _checked(copy.deepcopy(receipt))) == _invalid(event, None)
    assert _invalid(event, _checked(event["payload"]["receipt"])) == []


def test_a_record_that_is_not_byte_for_byte_the_checked_one_is_checked_in_full() -> None:
    receipt = sign_receipt(REC.canonical_sha256, KEY, factory.T0)
    # Equal as Python values (True == 1), not as JSON: the merge must not take it as known.
    record = REC.to_dict()
    record["source"]["version"] = True
    event = _created(record, receipt)
    event_receipt = event["payload"]["receipt"]
    full = _invalid(event, None)
    assert [e["reason"] for e in full] == ["invalid_payload"]
    assert _invalid(event, _checked(event_receipt)) == full


def test_a_record_of_another_subject_is_checked_in_full() -> None:
    other = factory.record(2)
    receipt = sign_receipt(REC.canonical_sha256, KEY, factory.T0)
    event = _created(other.to_dict(), receipt)
    full = _invalid(event, None)
    assert [e["reason"] for e in full] == ["canonical_sha256_mismatch"]
    assert _invalid(event, _checked(event["payload"]["receipt"])) == full


def test_checked_for_another_subject_is_not_used() -> None:
    receipt = sign_receipt(REC.canonical_sha256, OTHER, factory.T0)
    event = _created(REC.to_dict(), receipt)
    elsewhere = CheckedRecord(
        cjson.dumps(REC.to_dict()), REC, "pith:other", (event["payload"]["receipt"],)
    )
    assert _invalid(event, elsewhere) == _invalid(event, None) != []


def _bundle_bytes(public_keys: Any) -> bytes:
    bundle = factory.bundle(REC, KEY)
    return cjson.dumps({**bundle, "public_keys": public_keys}) + b"\n"


def test_malformed_key_hints_are_refused_every_time() -> None:
    data = _bundle_bytes([{"key_id": "x"}])
    first = verify_bundle_report(data, KEYS)
    again = verify_bundle_report(data, KEYS)
    assert (first.failed_step, first.reason) == ("key_hints", "malformed")
    assert (again.failed_step, again.reason, again.message) == (
        first.failed_step,
        first.reason,
        first.message,
    )


def test_remembered_key_hints_are_still_checked_against_each_trusted_set() -> None:
    data = cjson.dumps(factory.bundle(REC, KEY))
    assert verify_bundle_report(data, KEYS).ok  # its hints are now parsed and remembered
    impostor = dataclasses.replace(KEY.public_key, raw=OTHER.public_key.raw)
    report = verify_bundle_report(data, KeySet([impostor]))
    assert (report.failed_step, report.reason) == ("key_hints", "conflicting_key_hint")


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (_time.parse_seconds, "2026-13-01T00:00:00Z"),
        (_time.parse_seconds, "2026-01-01T00:00:00.000000Z"),
        (_time.parse_micros, "2026-01-01T00:00:00Z"),
        (_time.parse_micros, "2026-02-30T00:00:00.000000Z"),
    ],
)
def test_a_refused_time_is_refused_every_time(parse: Any, text: str) -> None:
    for _ in range(2):
        with pytest.raises(FormatError):
            parse(text)


def test_a_parsed_time_is_the_same_every_time() -> None:
    text = "2026-05-17T23:59:22.045226Z"
    assert _time.parse_micros(text) == _time.parse_micros(text)
    assert _time.parse_micros(text).microsecond == 45226
    with pytest.raises(FormatError):
        _time.parse_seconds(["2026-05-17T23:59:22Z"])
