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
import re
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


EVIL = "javascript:alert(1)//\"><script>x</script>'"
_FIELDS: dict[str, Callable[[dict[str, Any]], None]] = {
    "license": lambda b: b["canonical_record"]["metadata"].__setitem__("license", EVIL),
    "primary category": lambda b: b["canonical_record"]["metadata"].__setitem__(
        "primary_cat", EVIL
    ),
    "other category": lambda b: b["canonical_record"]["metadata"].__setitem__(
        "cross_cats_sorted", [EVIL]
    ),
    "source id": lambda b: b["canonical_record"]["source"].__setitem__("id", EVIL),
    "alias kind": lambda b: b["source_aliases"][0].__setitem__("alias_kind", EVIL),
    "alias value": lambda b: b["source_aliases"][2].__setitem__("alias_value", EVIL),
    "event type": lambda b: b["events"][0].__setitem__("event_type", EVIL),
    "event target": lambda b: b["events"][0].__setitem__("target", EVIL),
    "event created": lambda b: b["events"][0].__setitem__("created_at", EVIL),
    "event key": lambda b: b["events"][0]["signature"].__setitem__("key_id", EVIL),
    "pith number": lambda b: b.__setitem__("pith_number", f"pith:{EVIL}:CODE"),
    "base url": lambda b: b["mirror_hints"][0].__setitem__("base_url", EVIL),
}


def _links(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]*)"', page)


@pytest.mark.parametrize("where", sorted(_FIELDS))
def test_no_value_of_a_record_reaches_a_page_as_markup_or_as_a_link(where: str) -> None:
    # The signed bundle is evidence, not trusted input to HTML: every value is text,
    # and every link is the page's own (relative) or arXiv's, whatever a value holds.
    bundle = factory.bundle(REC, KEY)
    _FIELDS[where](bundle)
    page = _pages.resolver_page(bundle, _pages.Paper(EVIL, EVIL))
    assert "<script>" not in page
    assert html.escape(EVIL) in page
    for link in _links(page):
        assert link.startswith(("../../", "https://arxiv.org/abs/")) or "/" not in link, link


def test_no_value_listed_on_a_year_page_is_markup_or_a_link_elsewhere() -> None:
    listed = [_pages.Listed(f"pith:{EVIL}", EVIL, EVIL, EVIL)]
    page = _pages.year_page(2024, 1, 1, listed)
    assert "<script>" not in page
    assert page.count(html.escape(EVIL)) == 4
    assert all(link.startswith("../../") for link in _links(page))
