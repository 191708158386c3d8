"""Canonical JSON (spec §1): RFC 8785 test data, refusals, and the orjson fast path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer import cjson
from issuer.cjson import CanonicalJSONError
from tests.conftest import VECTORS

JCS = VECTORS / "jcs"


def _deep(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


JCS_CASES = sorted(p.stem for p in (JCS / "input").glob("*.json"))
# Cases whose input holds non-integer numbers: outside the registry's domain.
JCS_NEED_FLOATS = {"structures", "values"}


def test_every_jcs_case_is_classified() -> None:
    assert JCS_CASES, "no JCS test data found"
    assert set(JCS_CASES) >= JCS_NEED_FLOATS


@pytest.mark.parametrize("case", sorted(set(JCS_CASES) - JCS_NEED_FLOATS))
def test_jcs_in_domain_cases_match_byte_for_byte(case: str) -> None:
    value = cjson.loads((JCS / "input" / f"{case}.json").read_bytes())
    expected = (JCS / "output" / f"{case}.json").read_bytes()
    assert cjson.dumps(value) == expected
    outhex = (JCS / "outhex" / f"{case}.txt").read_text().split()
    assert cjson.dumps(value) == bytes(int(h, 16) for h in outhex)


@pytest.mark.parametrize("case", sorted(JCS_NEED_FLOATS))
def test_jcs_cases_needing_floats_are_refused(case: str) -> None:
    raw = (JCS / "input" / f"{case}.json").read_bytes()
    with pytest.raises(CanonicalJSONError, match="not an integer"):
        cjson.loads(raw)
    # Writing the same values (parsed leniently) is refused too.
    with pytest.raises(CanonicalJSONError, match="float"):
        cjson.dumps(json.loads(raw))


def test_weird_case_needs_utf16_order() -> None:
    """weird.json is the case where UTF-16 and code-point order differ: the fallback runs."""
    value = cjson.loads((JCS / "input" / "weird.json").read_bytes())
    assert cjson._validate(value) is True
    keys = list(json.loads(cjson.dumps(value)))
    assert keys.index("\U0001f602") < keys.index("\ufb33")
    assert sorted(keys) != keys  # code-point order would put U+FB33 first


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "float"),
        (float("nan"), "float"),
        (float("inf"), "float"),
        (2**53, "outside"),
        (-(2**53), "outside"),
        ("\ud800", "lone surrogate"),
        ({1: "x"}, "not a string"),
        ({"a": {"b": [1, 2.0]}}, r"\$\.a\.b\[1\]: float"),
        (b"bytes", "bytes is not a JSON value"),
        ({"k": {1, 2}}, "set is not a JSON value"),
        (_deep(100_000), "nested more than 128 levels deep"),
        (_deep(300), "nested more than 128 levels deep"),
        ([0] * 100_001, "100001 items in one container"),
    ],
)
def test_dumps_refuses_values_outside_the_domain(value: Any, message: str) -> None:
    with pytest.raises(CanonicalJSONError, match=message):
        cjson.dumps(value)


def test_dumps_refuses_an_integer_too_long_to_print() -> None:
    # str() of a 5000-digit int raises ValueError in CPython: the message must not try.
    with pytest.raises(CanonicalJSONError, match=r"\$\[0\]: integer <huge> is outside"):
        cjson.dumps([10**5000])


def test_boundary_integers_are_accepted() -> None:
    assert cjson.dumps([2**53 - 1, -(2**53 - 1)]) == b"[9007199254740991,-9007199254740991]"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b'{"a":1,"a":2}', "duplicate object key 'a'"),
        (b'{"a":{"b":1,"b":1}}', "duplicate"),
        (b"[1.0]", "not an integer"),
        (b"[1e3]", "not an integer"),
        (b"[NaN]", "NaN is not allowed"),
        (b"[Infinity]", "Infinity is not allowed"),
        (b"[9007199254740992]", "outside"),
        (b'["\\ud800"]', "lone surrogate"),
        (b'{"\\udfff":1}', "lone surrogate"),
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        (b'["\xff"]', "not UTF-8"),
        (b"[1,]", "line 1 column 4"),
        (b"[" * 100_000 + b"]" * 100_000, "nested more than 128 levels deep"),
        (b"[" * 300 + b"]" * 300, "nested more than 128 levels deep"),
        (b'{"a":' * 300 + b"1" + b"}" * 300, "nested more than 128 levels deep"),
        (b"[" + b"9" * 5000 + b"]", "a 5000-digit integer is outside"),
        (b"[-" + b"1" * 17 + b"]", "a 17-digit integer is outside"),
        (b"[" + b"0," * 100_000 + b"0]", "100001 items in one container"),
        (b"{" + b",".join(b'"%d":0' % i for i in range(100_001)) + b"}", "100001 items"),
    ],
)
def test_loads_refuses_what_verification_must_not_accept(doc: bytes, message: str) -> None:
    with pytest.raises(CanonicalJSONError, match=message):
        cjson.loads(doc)


def test_limits_are_inclusive() -> None:
    """Exactly MAX_DEPTH levels and MAX_CONTAINER_ITEMS items still read and write."""
    deepest = b"[" * cjson.MAX_DEPTH + b"]" * cjson.MAX_DEPTH
    assert cjson.dumps(cjson.loads(deepest)) == deepest
    widest = b"[" + b",".join([b"1"] * cjson.MAX_CONTAINER_ITEMS) + b"]"
    assert cjson.dumps(cjson.loads(widest)) == widest
    assert cjson.loads(b"[-9007199254740991]") == [-(2**53 - 1)]


def test_loads_refuses_an_oversized_document_before_parsing() -> None:
    # Valid JSON, but over the limit: refused by size, whatever it holds.
    doc = b'"' + b"a" * cjson.MAX_DOCUMENT_BYTES + b'"'
    with pytest.raises(CanonicalJSONError, match="over the 16777216-byte limit"):
        cjson.loads(doc)
    with pytest.raises(CanonicalJSONError, match="over the 16777216-byte limit"):
        cjson.loads(doc.decode())


def test_refusals_quote_values_briefly() -> None:
    """A refusal names the offending key or value, not all of a megabyte of it."""
    key = "k" * 1_000_000
    with pytest.raises(CanonicalJSONError) as caught:
        cjson.loads(b'{"%s":1,"%s":2}' % (key.encode(), key.encode()))
    assert len(str(caught.value)) < 200
    with pytest.raises(CanonicalJSONError) as caught:
        cjson.dumps({key: 1.5})
    assert len(str(caught.value)) < 200


def test_escapes_follow_jcs() -> None:
    s = "".join(chr(i) for i in range(0x20)) + '"\\/\x7f\u2028é😀'
    out = cjson.dumps(s)
    assert out.startswith(b'"\\u0000\\u0001')
    assert b"\\b\\t\\n\\u000b\\f\\r" in out
    assert out.endswith('\\"\\\\/\x7f\u2028é😀"'.encode())


def test_hash_helpers_agree() -> None:
    value = {"b": [1, True, None], "a": "x"}
    assert cjson.sha256_bytes(value).hex() == cjson.sha256_hex(value)


json_keys = st.text(alphabet=st.characters(codec="utf-8"), max_size=6)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-cjson.MAX_SAFE_INTEGER, cjson.MAX_SAFE_INTEGER)
    | st.text(alphabet=st.characters(codec="utf-8")),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_fast_path_equals_reference_encoder(value: Any) -> None:
    assert cjson.dumps(value) == cjson._encode_py(value).encode("utf-8")


@given(json_values)
def test_round_trip_is_identity_and_idempotent(value: Any) -> None:
    once = cjson.dumps(value)
    assert cjson.loads(once) == value
    assert cjson.dumps(cjson.loads(once)) == once


@given(
    st.dictionaries(
        st.sampled_from(["\U0001f602", "\ufb33", "\ue000", "a", "\uffff", "😀x"]), st.integers(0, 3)
    )
)
def test_keys_sort_by_utf16_code_units(value: dict[str, int]) -> None:
    keys = list(json.loads(cjson.dumps(value)))
    assert keys == sorted(value, key=lambda k: k.encode("utf-16-be"))
