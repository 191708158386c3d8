"""The fast path of ``cjson.loads`` on documents whose non-ASCII characters are em dashes.

Every signed note (a bundle's log proof checkpoint) holds one, so the fast
path scans such a document with its dashes spelt ``\\u2014``. The value and
every refusal must be the full parser's, wherever the dashes stand.
"""

from __future__ import annotations

import pytest

from issuer import cjson
from tests.unit.test_cjson_fast import assert_same

DASH = "\u2014"

TAKEN = {
    "a dash in a string": f'{{"a":"x{DASH} y"}}',
    "dashes in several strings": f'{{"a":"{DASH}","b":["{DASH}{DASH}","\\n{DASH} k"]}}',
    "a dash in a key": f'{{"{DASH}":1}}',
    "a dash after an escaped backslash": f'["\\\\{DASH}"]',
    "a dash, with a trailing newline": f'["{DASH}"]\n',
}
HANDED_OVER = {
    "a dash outside strings": f"[1,{DASH}]",
    "a dash after a lone backslash": f'["\\{DASH}"]',
    "a dash and an unsorted key": f'{{"b":"{DASH}","a":1}}',
    "a dash and a float": f'["{DASH}",1.5]',
    "a dash and a private-use key beside an astral one": f'{{"\U0001f600":"{DASH}","\ue000":1}}',
}
OTHERS = {
    "a dash and an e acute": f'["{DASH}","\u00e9"]',
    "a dash and a right quote (same lead byte)": f'["{DASH}","\u2019"]',
    "an escaped dash": '["\\u2014"]',
}


@pytest.mark.parametrize("doc", TAKEN.values(), ids=TAKEN.keys())
def test_canonical_documents_with_dashes_take_the_fast_path(doc: str) -> None:
    data = doc.encode()
    assert cjson._dashes_escaped(data).isascii()
    assert cjson._loads_fast(data) is not cjson._DOUBT
    assert assert_same(data)[0] == "value"


@pytest.mark.parametrize("doc", HANDED_OVER.values(), ids=HANDED_OVER.keys())
def test_what_the_fast_path_cannot_vouch_for_goes_to_the_full_parser(doc: str) -> None:
    data = doc.encode()
    assert cjson._loads_fast(data) is cjson._DOUBT
    assert_same(data)


@pytest.mark.parametrize("doc", OTHERS.values(), ids=OTHERS.keys())
def test_other_non_ascii_text_is_scanned_as_it_is(doc: str) -> None:
    data = doc.encode()
    assert cjson._dashes_escaped(data) is data
    assert_same(data)


def test_dashes_are_spelt_as_escapes_and_nothing_else_changes() -> None:
    assert cjson._dashes_escaped(f'["a{DASH}b{DASH}"]'.encode()) == b'["a\\u2014b\\u2014"]'


def test_a_dash_in_every_proof_of_a_bundle_is_read_fast() -> None:
    from tests.unit.verify.test_proofs import PROVEN

    data = cjson.dumps(PROVEN)
    assert not data.isascii()
    assert cjson._loads_fast(data) == PROVEN
