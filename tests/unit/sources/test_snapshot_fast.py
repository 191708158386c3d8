"""The snapshot line parse's fast path (orjson) against the strict parser: same value or refusal.

``_snapshot._FAST`` switches the fast path off. Every line here is read both
ways: a value must be the same (``repr``: types and key order too), a refusal
the same message. A few lines also pin the fast path's own decision
(``_loads_fast`` hands them to the strict parser), so that a deleted check
fails here even where a later check would happen to catch the line.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.sources import _snapshot
from issuer.sources._model import RefuseRecordError
from tests.conftest import ROOT, SAMPLES

LINE_FILES = sorted(
    p
    for p in [
        *SAMPLES.rglob("*.json"),
        *(ROOT / "examples").glob("*.jsonl"),
        *(ROOT / "tests" / "fuzz" / "corpus").rglob("*.json*"),
    ]
    if p.is_file() and p.suffix != ".gz"
)


def _parse(line: bytes, *, fast: bool) -> tuple[str, str]:
    saved = _snapshot._FAST
    _snapshot._FAST = fast
    try:
        return ("value", repr(_snapshot.loads_line(line)))
    except RefuseRecordError as e:
        return ("refused", str(e))
    finally:
        _snapshot._FAST = saved


def assert_same(line: bytes) -> tuple[str, str]:
    """Read ``line`` both ways; they must agree. Returns the outcome."""
    strict = _parse(line, fast=False)
    assert _parse(line, fast=True) == strict, line[:200]
    return strict


def _doubted(line: bytes) -> bool:
    return _snapshot._loads_fast(line) is _snapshot._DOUBT


@pytest.mark.parametrize("path", LINE_FILES, ids=lambda p: p.name)
def test_every_sample_line(path: Path) -> None:
    for line in path.read_bytes().splitlines(keepends=True):
        if line.strip():
            assert_same(line)


def test_sample_lines_take_the_fast_path() -> None:
    """The real lines are what the fast path is for: none of them is doubted."""
    lines = (ROOT / "examples" / "snapshot-sample.jsonl").read_bytes().splitlines()
    assert [line for line in lines if line.strip() and _doubted(line)] == []


def test_read_is_the_same_both_ways() -> None:
    for path in LINE_FILES:
        data = path.read_bytes()
        both = []
        for fast in (True, False):
            saved = _snapshot._FAST
            _snapshot._FAST = fast
            try:
                both.append(list(_snapshot.read(io.BytesIO(data), path.name)))
            finally:
                _snapshot._FAST = saved
        assert both[0] == both[1], path


_LINE = (
    b'{"id":"0704.0001","title":"a: b","abstract":"x","categories":"hep-ph",'
    b'"license":null,"versions":[{"version":"v1","created":"Mon, 2 Apr 2007 19:18:42 GMT"}]}\n'
)

# name: (line, whether the fast path must hand it to the strict parser)
EDGES: dict[str, tuple[bytes, bool]] = {
    "a real-shaped line": (_LINE, False),
    "spaces around colons and commas": (b'{ "a" : "b:c" , "d" : [ null , true ] }\n', False),
    "escapes that are not colons": (b'{"a":"\\u00fc\\"\\\\\\/\\n","b":"\\ud83d\\ude00"}', False),
    "duplicate key": (b'{"a":"x","a":"x"}', True),
    "duplicate key, last differs": (b'{"id":"0704.0001","id":"0704.0002"}', True),
    "duplicate key in versions": (
        b'{"versions":[{"version":"v1","version":"v2","created":"x"}]}',
        True,
    ),
    "duplicate key whose dropped value holds colons": (b'{"a":"1:2:3","a":"x"}', True),
    "duplicate key, a kept colon escaped to make up the count": (
        b'{"a":"x","a":"y","b":"\\u003a"}',
        True,
    ),
    "escaped colon, capital": (b'{"b":"\\u003A"}', True),
    "escaped backslash then u003a (not an escape)": (b'{"b":"\\\\u003a"}', True),
    "duplicate key nested in a dropped value": (b'{"a":{"b":1,"b":2},"a":"x"}', True),
    "integer": (b'{"a":5}', True),
    "negative zero": (b'{"a":-0}', True),
    "2^53": (b'{"a":9007199254740992}', True),
    "2^64": (b'{"a":18446744073709551616}', True),
    "huge integer": (b'{"a":' + b"9" * 5000 + b"}", True),
    "float": (b'{"a":[1.5]}', True),
    "float too large": (b'{"a":1e400}', True),
    "number in a nested list": (b'{"a":[["x",[1]]]}', True),
    "number at the top": (b"7", True),
    "NaN": (b'{"a":NaN}', True),
    "Infinity": (b'{"a":-Infinity}', True),
    "lone surrogate escape": (b'{"title":"\\ud800"}', True),
    "surrogate in UTF-8": (b'{"title":"\xed\xa0\x80"}', True),
    "invalid UTF-8": (b'{"title":"\xff"}', True),
    "byte-order mark": (b'\xef\xbb\xbf{"a":"b"}', True),
    "control character in a string": (b'{"a":"x\ty"}', True),
    "trailing data": (b'{"a":"b"} x', True),
    "trailing comma": (b'{"a":"b",}', True),
    "not JSON": (b"id: 0704.0001", True),
    "depth 128": (b"[" * 128 + b"]" * 128, False),
    "depth 129": (b"[" * 129 + b"]" * 129, True),
    "depth 5000": (b"[" * 5000 + b"]" * 5000, True),
    "many containers": (b'{"authors_parsed":[' + b",".join([b'["a","b",""]'] * 200) + b"]}", True),
    "top-level array": (b'["a","b"]', False),
    "top-level string with a colon": (b'"a:b"', False),
    "empty object": (b"{}", False),
}


@pytest.mark.parametrize("name", EDGES)
def test_edges(name: str) -> None:
    line, doubted = EDGES[name]
    assert_same(line)
    assert _doubted(line) is doubted


def test_refusals_keep_their_words() -> None:
    assert assert_same(b'{"a":"x","a":"y"}') == ("refused", "invalid JSON: duplicate key 'a'")
    assert assert_same(b'{"a":9007199254740992}')[0] == "refused"


_KEYS = st.sampled_from(["id", "title", "a", "b:c", "versions", "\u00fc", "\U0001f600", ":"])
_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=20),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


@given(
    st.dictionaries(_KEYS, _VALUES, max_size=6),
    st.booleans(),
    st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]),
    st.integers(0, 5),
)
def test_generated_lines(
    obj: dict[str, Any], ascii_only: bool, separators: tuple[str, str], dup: int
) -> None:
    line = json.dumps(obj, ensure_ascii=ascii_only, separators=separators)
    assert_same(line.encode("utf-8", "surrogatepass") + b"\n")
    if obj:  # the same with one member written twice: refused both ways
        key = list(obj)[dup % len(obj)]
        member = json.dumps({key: obj[key]}, ensure_ascii=ascii_only, separators=separators)
        doubled = "{" + member[1:-1] + separators[0] + line[1:]
        assert assert_same(doubled.encode("utf-8", "surrogatepass"))[0] == "refused"


@given(st.binary(max_size=80))
def test_generated_bytes(data: bytes) -> None:
    assert_same(data)


@given(st.binary(max_size=8), st.integers(0, len(_LINE)))
def test_mutated_real_line(insert: bytes, at: int) -> None:
    assert_same(_LINE[:at] + insert + _LINE[at:])
