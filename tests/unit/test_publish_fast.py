"""Publishing's shortcuts give what the full path gives (#14): same states, pages and key records.

- The merge gets the record the store parsed and derived (``publish._checked``):
  each ``record_created`` below, well-formed or not, merges to the same state
  as without it, and its receipt is still verified.
- Pages escape only values holding a character HTML escapes: the same page as
  escaping every value.
- A key's ``public_keys`` entry is made once: equal to ``to_dict()``, and fresh.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest

from issuer import _pages, cjson
from issuer.bundles import key_record
from issuer.events import build_event
from issuer.identifiers import PithNumber
from issuer.keys import PublicKey
from issuer.keys.keyset import KeySet
from issuer.merge import merge, merge_explained
from issuer.publish import _checked
from issuer.record import CanonicalRecord
from tests import factory

KEY = factory.signer()
KEYS = KeySet([KEY.public_key])
REC = factory.record(7)
SUBJECT = str(PithNumber.for_record(REC))


def _created(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """REC's record_created event with ``change`` applied to its payload, validly signed."""
    payload = dict(factory.record_created(REC, KEY)["payload"])
    change(payload)
    return build_event("record_created", SUBJECT, payload, KEY, factory.T0)


def _other_record(payload: dict[str, Any]) -> None:
    payload["canonical_record"] = factory.record(8).to_dict()


def _other_digest(payload: dict[str, Any]) -> None:
    payload["canonical_sha256"] = "0" * 64


def _bad_receipt_signature(payload: dict[str, Any]) -> None:
    other = factory.record_created(factory.record(8), KEY)["payload"]["receipt"]
    payload["receipt"] = {**payload["receipt"], "signature_b64": other["signature_b64"]}


def _extra_field(payload: dict[str, Any]) -> None:
    payload["canonical_record"] = {**payload["canonical_record"], "extra": 1}


def _wrong_version(payload: dict[str, Any]) -> None:
    payload["source_version"] = 2


def _unchanged(_payload: dict[str, Any]) -> None:
    pass


CASES = {
    "as issued": _unchanged,
    "another record in the payload": _other_record,
    "a wrong canonical_sha256": _other_digest,
    "a receipt that does not verify": _bad_receipt_signature,
    "a record with a field too many": _extra_field,
    "a wrong source_version": _wrong_version,
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_the_merge_with_the_stores_record_gives_the_same_state(case: str) -> None:
    events = [_created(CASES[case]), factory.event(REC, KEY)]
    aliases = factory.aliases(REC)
    expected = merge(SUBJECT, cjson.loads(cjson.dumps(events)), aliases, KEYS, parsed=True)
    parsed = cjson.loads(cjson.dumps(events))
    got = merge_explained(
        SUBJECT, parsed, aliases, KEYS, parsed=True, checked=_checked(REC, SUBJECT)
    )[0]
    assert got == expected
    assert (case == "as issued") == (expected["invalid_event_count"] == 0)


def test_the_stores_record_is_its_canonical_bytes() -> None:
    checked = _checked(REC, SUBJECT)
    assert CanonicalRecord.from_dict(cjson.loads(checked.record_bytes)) == REC
    assert checked.receipts == ()  # the merge verifies the receipt itself


SPECIAL = ["&", "<", ">", '"', "'", "plain", "a & b < c > d \" e ' f", "é ✓"]


@pytest.mark.parametrize("text", SPECIAL)
def test_a_page_escapes_as_html_escape_does(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = factory.bundle(REC, KEY)
    bundle["canonical_record"]["metadata"]["license"] = text
    bundle["events"][0]["target"] = text
    paper = _pages.Paper(f"title {text}", f"authors {text}")
    page = _pages.resolver_page(bundle, paper)
    monkeypatch.setattr(_pages, "_escape", html.escape)
    assert page == _pages.resolver_page(bundle, paper)
    assert _pages._escape(text) == html.escape(text)


def test_a_key_record_is_the_keys_dict_and_a_fresh_one() -> None:
    key = KEY.public_key
    first = key_record(key)
    assert first == key.to_dict()
    first["notes"] = "changed"
    assert key_record(key) == key.to_dict()
    odd = PublicKey.from_dict({**key.to_dict(), "x-extra": "kept"})
    assert odd.unrecognized_fields
    assert key_record(odd) == odd.to_dict()
    assert key_record(key) == key.to_dict()  # not the other key's entry
