"""The fast path of ``cjson.loads`` against the full strict parser: same value or same error.

``cjson._FAST`` switches the fast path off. Every input here is parsed both
ways; a value must be the same (``repr``: types and key order too) and a
refusal the same :class:`CanonicalJSONError` message. The verifier's verdict
on every conformance bundle and every tampered copy of the real bundle must
not depend on the switch either. A few inputs also pin the fast path's own
decision (``_loads_fast`` hands them to the full parser), so that a deleted
fallback check fails here even where the values happen to agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer import cjson
from issuer.errors import VerificationError
from issuer.verify import verify_bundle_report
from tests.conformance.test_conformance import CASES, case_keys
from tests.conftest import BUNDLE_PATH, VECTORS
from tests.unit.verify import test_tamper as tamper

ROOT = Path(__file__).resolve().parents[1]
CORPUS_FILES = sorted(
    p
    for p in [
        *(ROOT / "fuzz" / "corpus").rglob("*"),
        *(VECTORS / "jcs").rglob("*"),
        BUNDLE_PATH,
        *(c / "bundle.json" for c in CASES),
    ]
    if p.is_file()
)


def _parse(data: bytes | str, *, fast: bool) -> tuple[str, str]:
    saved = cjson._FAST
    cjson._FAST = fast
    try:
        return ("value", repr(cjson.loads(data)))
    except cjson.CanonicalJSONError as e:
        return ("error", e.message)
    finally:
        cjson._FAST = saved


def assert_same(data: bytes) -> tuple[str, str]:
    """Parse ``data`` both ways; they must agree. Returns the outcome."""
    full = _parse(data, fast=False)
    assert _parse(data, fast=True) == full, data[:200]
    return full


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _nested_objects(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


EDGES: dict[str, bytes] = {
    "float": b"[1.5]",
    "float in an object": b'{"a":1.0}',
    "float at the top": b"1.0",
    "float in a string": b'["1.5","1e5","2026-01-01T00:00:00.000000Z"]',
    "exponent": b"[1e5]",
    "exponent that writes back": b"[1e16]",
    "exponent, capital": b"[1E16]",
    "negative float": b'{"a":-0.5}',
    "float after a comma": b"[1,2.5]",
    "float after a string": b'["a",1.5]',
    "float after a key with a colon": b'{"a:":1.5}',
    "float after a number": b'{"a":1,"b":2e-7}',
    "commas and brackets in a string, then a float": b'["[1,2]",1.5]',
    "float-like text in a string": b'["x,1.5","[2.5"]',
    "minus zero": b"[-0]",
    "2^53 - 1": b"[9007199254740991]",
    "-(2^53 - 1)": b"[-9007199254740991]",
    "2^53": b"[9007199254740992]",
    "-2^53": b"[-9007199254740992]",
    "2^53 + 1": b'{"n":9007199254740993}',
    "2^64": b"[18446744073709551616]",
    "huge integer": b"[" + b"9" * 5000 + b"]",
    "depth 127": _nested(127),
    "depth 128": _nested(128),
    "depth 129": _nested(129),
    "object depth 128": _nested_objects(128),
    "object depth 129": _nested_objects(129),
    "100,001 numbers": b"[" + b",".join([b"0"] * 100_001) + b"]",
    "depth 129 beside many containers": b"[" + b"[]," * 200 + _nested(128) + b"]",
    "depth 128 beside many containers": b"[" + b"[]," * 200 + _nested(127) + b"]",
    "100,000 items": b"[" + b",".join([b"null"] * 100_000) + b"]",
    "100,001 items": b"[" + b",".join([b"null"] * 100_001) + b"]",
    "100,001 members": b"{" + b",".join(b'"k%06d":null' % i for i in range(100_001)) + b"}",
    "duplicate key": b'{"a":1,"a":1}',
    "duplicate key, last differs": b'{"a":1,"a":2}',
    "escaped slash": b'["a\\/b"]',
    "unicode escape": b'["\\u0041"]',
    "control escape": b'["\\u0001"]',
    "escaped quote": b'{"a\\"b":"c\\"d","e":[1.5]}',
    "escaped quote, then a float": b'["\\"",1.5]',
    "escaped quotes around depth 129": b'["\\"",' + _nested(129) + b',"\\""]',
    "escaped quote, no float": b'{"a\\"b":"c\\\\"}',
    "lone surrogate escape": b'["\\ud800"]',
    "lone low surrogate escape": b'["\\udc00"]',
    "surrogate pair escape": b'["\\ud83d\\ude00"]',
    "surrogate in UTF-8": b'["\xed\xa0\x80"]',
    "invalid UTF-8": b'["\xff"]',
    "astral and private-use keys": '{"\U0001f600":1,"\ue000":2}'.encode(),
    "private-use keys, UTF-16 order": '{"\ue000":2,"\U0001f600":1}'.encode(),
    "BOM": b"\xef\xbb\xbf{}",
    "trailing newline": b'{"a":1}\n',
    "two trailing newlines": b'{"a":1}\n\n',
    "trailing space": b'{"a":1} ',
    "leading space": b' {"a":1}',
    "NaN": b"[NaN]",
    "Infinity": b"[Infinity]",
    "empty": b"",
    "only a newline": b"\n",
    "unsorted keys": b'{"b":1,"a":2}',
    "spaces": b'{"a": 1}',
    "true false null": b'[true,false,null,{"e":true}]',
    "string at the top": b'"x"',
    "integer at the top": b"7",
    "negative integer at the top": b"-7",
}


@pytest.mark.parametrize("name", list(EDGES))
def test_edge_case_same_both_ways(name: str) -> None:
    assert_same(EDGES[name])


@pytest.mark.parametrize(
    "name",
    [
        "float",
        "float in an object",
        "float at the top",
        "exponent that writes back",
        "escaped quote, then a float",
        "escaped quotes around depth 129",
        "negative float",
        "float after a comma",
        "float after a string",
        "float after a key with a colon",
        "float after a number",
        "commas and brackets in a string, then a float",
        "depth 129",
        "object depth 129",
        "depth 129 beside many containers",
        "100,001 items",
        "100,001 members",
        "astral and private-use keys",
        "private-use keys, UTF-16 order",
        "2^53",
        "-2^53",
        "2^53 + 1",
        "duplicate key",
        "lone surrogate escape",
        "BOM",
        "unsorted keys",
        "two trailing newlines",
    ],
)
def test_fast_path_hands_over(name: str) -> None:
    """Each hazard equality does not rule out goes to the full parser."""
    assert cjson._loads_fast(EDGES[name]) is cjson._DOUBT


@pytest.mark.parametrize(
    "name",
    [
        "float in a string",
        "float-like text in a string",
        "depth 128",
        "depth 128 beside many containers",
        "100,000 items",
        "trailing newline",
        "true false null",
        "escaped quote, no float",
        "2^53 - 1",
        "-(2^53 - 1)",
        "negative integer at the top",
    ],
)
def test_fast_path_takes_canonical_documents(name: str) -> None:
    assert cjson._loads_fast(EDGES[name]) is not cjson._DOUBT


def test_too_many_containers_to_peel_goes_to_the_full_parser() -> None:
    assert cjson._too_deep(b"[" + b"[]," * cjson._MAX_PEELED + b"[]]") is None
    assert cjson._too_deep(b"[" + b"[]," * (cjson._MAX_PEELED - 2) + b"[]]") is False


def test_brackets_in_strings_do_not_count_as_depth() -> None:
    text = b'"' + b"[" * 200 + b'"'
    assert cjson._too_deep(b"[" + text + b"]") is False
    assert cjson._too_deep(_nested(128)) is False
    assert cjson._too_deep(_nested(129)) is True


def test_the_registry_bundle_takes_the_fast_path() -> None:
    data = _canonical(json.loads(BUNDLE_PATH.read_bytes())) + b"\n"
    assert cjson._loads_fast(data) == json.loads(data)


def test_str_input_same_both_ways() -> None:
    assert _parse('{"a":[1]}', fast=True) == _parse('{"a":[1]}', fast=False)


def test_the_size_limit_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cjson, "MAX_DOCUMENT_BYTES", 8)
    outcome = assert_same(b'{"a":"bc"}')
    assert outcome == ("error", "invalid JSON: 10 bytes is over the 8-byte limit")


@pytest.mark.parametrize(
    "path", CORPUS_FILES, ids=[str(p.relative_to(ROOT.parent)) for p in CORPUS_FILES]
)
def test_corpus_file_same_both_ways(path: Path) -> None:
    data = path.read_bytes()
    assert_same(data)
    try:
        value = json.loads(data)
    except ValueError:
        return
    assert_same(_canonical(value))
    assert_same(_canonical(value) + b"\n")


def _verdict(data: bytes, keys: Any, *, fast: bool) -> tuple[Any, ...]:
    saved = cjson._FAST
    cjson._FAST = fast
    try:
        r = verify_bundle_report(data, keys, "x")
    finally:
        cjson._FAST = saved
    return (r.ok, r.passed, r.failed_step, r.reason, r.message, r.pith_number)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_conformance_verdict_same_both_ways(case: Path) -> None:
    try:
        keys = case_keys(case)
    except VerificationError:  # the key set is the verdict: no bundle bytes are read
        return
    data = (case / "bundle.json").read_bytes()
    for variant in _variants(data):
        assert _verdict(variant, keys, fast=True) == _verdict(variant, keys, fast=False)


def _variants(data: bytes) -> Iterator[bytes]:
    yield data
    try:
        value = json.loads(data)
    except ValueError:
        return
    yield _canonical(value) + b"\n"


TAMPERED = list(tamper._mutations())


@pytest.mark.parametrize(("path", "how"), TAMPERED)
def test_tampered_verdict_same_both_ways(path: tuple[Any, ...], how: str) -> None:
    data = _canonical(tamper._apply(path, how)) + b"\n"
    assert cjson._loads_fast(data) is not cjson._DOUBT
    keys = tamper.KEYS
    assert _verdict(data, keys, fast=True) == _verdict(data, keys, fast=False)


_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.sampled_from([0, 2**53 - 1, 2**53, -(2**53) + 1, -(2**53), 10**15, 10**16])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["\ue000", "\U0001f600", '"', "\\", "1.5", "\n"])
)
_values = st.recursive(
    _leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=4) | st.sampled_from(["\ue000", "\U0001f600"]), inner, max_size=4
        )
    ),
    max_leaves=20,
)


@given(_values)
def test_generated_values_same_both_ways(value: Any) -> None:
    try:
        canonical = _canonical(value)
    except TypeError:  # beyond 64 bits: orjson does not write it
        canonical = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8", "surrogatepass")
    assert_same(canonical)
    assert_same(canonical + b"\n")
    assert_same(json.dumps(value).encode("utf-8", "surrogatepass"))
    assert_same(json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8", "surrogatepass"))


def test_keys_with_every_lead_byte_above_u_e000_are_written_in_utf16_order() -> None:
    # One key per UTF-8 lead byte from U+E000 up (0xEE ... 0xF4): code-point order and
    # UTF-16 order differ, so dumps_parsed must notice and write JCS's order, as dumps does.
    keys = [
        "\ue000",
        "\uf000",
        "\U00010000",
        "\U00040000",
        "\U00080000",
        "\U000c0000",
        "\U00100000",
    ]
    value = {key: i for i, key in enumerate(keys)}
    assert {bytes([b]) for b in cjson.dumps_parsed(value)} >= {
        bytes([b]) for b in range(0xEE, 0xF5)
    }
    assert cjson.dumps_parsed(value) == cjson.dumps(value)
    assert cjson.dumps(value).index("\U00010000".encode()) < cjson.dumps(value).index(
        "\ue000".encode()
    )
