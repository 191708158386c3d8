"""Records, Pith numbers, derive output and wire times made once from typed fields (#14).

Each fast path is pinned byte for byte against the general one it replaces
(``cjson.dumps``, ``base64.b32encode``, ``strftime``), over generated values,
non-ASCII and astral titles and licenses included.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer import cjson
from issuer._time import format_micros, format_seconds
from issuer.cjson import CanonicalJSONError
from issuer.derive import Derivation, derive
from issuer.identifiers import MAX_VERSION, PithNumber, code_from_bytes, code_from_digest
from issuer.record import _TEMPLATE, CanonicalRecord
from issuer.sources import SourceMetadata

_ARXIV_IDS = st.one_of(
    st.from_regex(r"[0-9]{4}\.[0-9]{4,5}", fullmatch=True),
    st.from_regex(r"[a-z][a-z-]{0,8}(\.[A-Z]{2})?/[0-9]{7}", fullmatch=True),
)
_CATEGORIES = st.from_regex(r"[a-z][a-z-]{0,6}(\.[A-Za-z-]{1,6})?", fullmatch=True)
# Any valid Unicode: non-ASCII, astral, controls and quotes that need escaping; no lone surrogate.
_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)
# A title or abstract is any UTF-8 text but U+0000, which the source grammar refuses.
_SOURCE_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=60)
_TIMES = st.datetimes(
    min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)
_HEX = st.binary(min_size=32, max_size=32).map(bytes.hex)


@st.composite
def _records(draw: st.DrawFn) -> dict[str, Any]:
    primary = draw(_CATEGORIES)
    cross = sorted(set(draw(st.lists(_CATEGORIES, max_size=4))) - {primary})
    return {
        "schema_version": "1.0",
        "source": {
            "kind": "arxiv",
            "id": draw(_ARXIV_IDS),
            "version": draw(st.integers(1, MAX_VERSION)),
        },
        "metadata": {
            "license": draw(st.none() | _TEXT.filter(bool)),
            "primary_cat": primary,
            "cross_cats_sorted": cross,
            "submitted_at": format_seconds(draw(_TIMES)),
            "title_canon_sha256": draw(_HEX),
            "abstract_canon_sha256": draw(_HEX),
        },
    }


@given(_records())
def test_checked_record_bytes_equal_cjson(data: dict[str, Any]) -> None:
    record = CanonicalRecord.from_dict(data)
    assert record.is_checked
    assert record.canonical_json == cjson.dumps(data) == cjson.dumps(record.to_dict())
    assert record.canonical_sha256 == cjson.sha256_hex(data)
    assert record.canonical_digest == cjson.sha256_bytes(data)


@st.composite
def _metas(draw: st.DrawFn) -> SourceMetadata:
    return SourceMetadata(
        arxiv_id=draw(_ARXIV_IDS),
        version=draw(st.integers(1, MAX_VERSION)),
        title=draw(_SOURCE_TEXT),
        abstract=draw(_SOURCE_TEXT),
        categories=tuple(draw(st.lists(_CATEGORIES, min_size=1, max_size=4))),
        license=draw(st.none() | _TEXT.filter(bool)),
        submitted_at=draw(_TIMES),
        dois=(),
        source_format="snapshot",
        location="x:1",
    )


@given(_metas(), _TIMES)
def test_derived_record_and_output_equal_cjson(meta: SourceMetadata, created: datetime) -> None:
    derived = derive(meta, created)
    assert derived.record.is_checked
    assert derived.record.canonical_json == cjson.dumps(derived.record.to_dict())
    assert derived.to_json() == cjson.dumps(derived.to_dict())
    number = PithNumber.for_record(derived.record)
    assert number.code == code_from_digest(cjson.sha256_hex(derived.record.to_dict()))


def test_astral_and_private_use_license() -> None:
    # An astral character and one in U+E000-U+FFFF: the pair that sorts differently
    # in UTF-16, here in a value (never a key), where it cannot change the order.
    data = {
        "schema_version": "1.0",
        "source": {"kind": "arxiv", "id": "1811.06992", "version": 2},
        "metadata": {
            "license": 'lic\U0001f600\ue000"\\\n\x01é',
            "primary_cat": "cs.LG",
            "cross_cats_sorted": ["math.AG", "stat.ML"],
            "submitted_at": "2018-11-16T19:01:40Z",
            "title_canon_sha256": "a" * 64,
            "abstract_canon_sha256": "b" * 64,
        },
    }
    assert CanonicalRecord.from_dict(data).canonical_json == cjson.dumps(data)


def _keys_in_order(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    assert all(k.isascii() for k in keys), keys
    assert keys == sorted(keys), keys  # ASCII: code-point order is UTF-16 order
    return dict(pairs)


def test_template_keys_are_ascii_and_sorted() -> None:
    # The static proof behind the template: filled with placeholders, every
    # object's keys are ASCII and already in canonical order.
    filled = _TEMPLATE % ("h", '"c"', "null", "p", "s", "t", "1.0", "i", "arxiv", 1)
    value = json.loads(filled, object_pairs_hook=_keys_in_order)
    assert set(value) == {"metadata", "schema_version", "source"}
    assert len(value["metadata"]) == 6
    assert len(value["source"]) == 3


def test_a_record_built_directly_is_validated() -> None:
    # Only the checked constructors may skip the validation walk: a record made
    # any other way is serialized by cjson.dumps, which refuses what it must.
    record = CanonicalRecord.from_dict(
        {
            "schema_version": "1.0",
            "source": {"kind": "arxiv", "id": "1811.06992", "version": 1},
            "metadata": {
                "license": None,
                "primary_cat": "cs.LG",
                "cross_cats_sorted": [],
                "submitted_at": "2018-11-16T19:01:40Z",
                "title_canon_sha256": "a" * 64,
                "abstract_canon_sha256": "b" * 64,
            },
        }
    )
    bad = dataclasses.replace(record, version=1.5)  # type: ignore[arg-type]
    assert not bad.is_checked
    with pytest.raises(CanonicalJSONError, match="float"):
        _ = bad.canonical_json
    surrogate = dataclasses.replace(record, license="\ud800")
    with pytest.raises(CanonicalJSONError, match="lone surrogate"):
        _ = surrogate.canonical_sha256
    number = PithNumber(2018, "A" * 26)
    with pytest.raises(CanonicalJSONError, match="float"):
        Derivation(None, bad, number, []).to_json()  # type: ignore[arg-type]


@given(st.binary(min_size=32, max_size=32))
def test_code_from_bytes_is_base32(digest: bytes) -> None:
    assert code_from_bytes(digest) == base64.b32encode(digest).decode("ascii")[:26]
    assert code_from_digest(digest.hex()) == code_from_bytes(digest)


@pytest.mark.parametrize("digest", [bytes(32), b"\xff" * 32, bytes(range(32))])
def test_code_from_bytes_edges(digest: bytes) -> None:
    assert code_from_bytes(digest) == base64.b32encode(digest).decode("ascii")[:26]


@given(
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
    )
)
def test_wire_times_equal_strftime(when: datetime) -> None:
    assert format_seconds(when) == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert format_micros(when) == when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_wire_times_convert_to_utc() -> None:
    east = datetime(2026, 1, 1, 1, 2, 3, 4, tzinfo=UTC).astimezone(timezone(timedelta(hours=5)))
    assert format_seconds(east) == "2026-01-01T01:02:03Z"
    assert format_micros(east) == "2026-01-01T01:02:03.000004Z"
