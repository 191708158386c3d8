"""Building an event: its content is serialized and hashed once, trusted or not, same bytes."""

from __future__ import annotations

from typing import Any

import pytest

from issuer import cjson, events
from issuer._issuance import record_created_payload
from issuer.cjson import CanonicalJSONError
from issuer.events import build_event, check_event, content_digest
from issuer.identifiers import PithNumber
from issuer.keys.keyset import KeySet
from issuer.receipts import sign_receipt
from tests import factory
from tests.factory import T0


def _record_created() -> tuple[str, dict[str, Any]]:
    record = factory.record(7)
    number = str(PithNumber.for_record(record))
    receipt = sign_receipt(record.canonical_sha256, factory.signer(), T0)
    return number, record_created_payload(record, receipt)


def _counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"dumps": 0, "dumps_parsed": 0}
    real_dumps, real_parsed = cjson.dumps, cjson.dumps_parsed

    def dumps(value: Any) -> bytes:
        calls["dumps"] += 1
        return real_dumps(value)

    def dumps_parsed(value: Any) -> bytes:
        calls["dumps_parsed"] += 1
        return real_parsed(value)

    monkeypatch.setattr(cjson, "dumps", dumps)
    monkeypatch.setattr(cjson, "dumps_parsed", dumps_parsed)
    return calls


@pytest.mark.parametrize(("trusted", "used"), [(False, "dumps"), (True, "dumps_parsed")])
def test_content_is_serialized_once(
    monkeypatch: pytest.MonkeyPatch, trusted: bool, used: str
) -> None:
    number, payload = _record_created()
    calls = _counting(monkeypatch)
    build_event("record_created", number, payload, factory.signer(), T0, trusted=trusted)
    assert calls == {"dumps": 0, "dumps_parsed": 0, used: 1}


def test_trusted_and_untrusted_build_the_same_event() -> None:
    number, payload = _record_created()
    signer = factory.signer()
    plain = build_event("record_created", number, payload, signer, T0)
    trusted = build_event("record_created", number, payload, signer, T0, trusted=True)
    assert cjson.dumps(plain) == cjson.dumps(trusted)
    assert plain["event_id"] == "sha256:" + content_digest(plain).hex()
    check_event(trusted, number, KeySet([signer.public_key]))


def test_an_untrusted_payload_is_still_validated() -> None:
    number, payload = _record_created()
    with pytest.raises(CanonicalJSONError, match="float"):
        build_event("record_created", number, {**payload, "x": 1.5}, factory.signer(), T0)


def test_the_signature_covers_the_content_digest() -> None:
    number, payload = _record_created()
    signer = factory.signer()
    event = build_event("record_created", number, payload, signer, T0, trusted=True)
    resigned = events.sign_event(event, signer, T0)
    assert resigned["signature"] == event["signature"]
