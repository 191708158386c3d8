"""``canon_text``'s Latin-1 paths, the source grammar checked once per record, version labels (#14).

``canon_text`` skips the NFC normalizer for ASCII and Latin-1 text, and
lowers Latin-1 by a byte table; it must equal the
full normalization (NFC, lower case, whitespace runs to one space, trimmed)
on every text. ``CanonicalRecord.from_source`` skips the grammar for a
``SourceMetadata`` that a reader's ``checked`` passed, and only for that one.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.errors import FormatError
from issuer.record import CanonicalRecord, canon_text
from issuer.sources import SourceMetadata, _model
from issuer.sources._model import RefuseRecordError, checked, parse_version_label


def _full(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


# Every character str.split() splits on in ASCII (the \x1c-\x1f separators too), and others.
_ASCII_TEXT = st.text(
    st.sampled_from([*" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f", "a", "Z", "$", "\\", "{", "0", "\x00"]),
    max_size=40,
)
_NON_ASCII = "\u00a0\u0085\u2028\u3000\u00c5\u212b\u0130\u1e9e\u0041\u030a\u03a3\ufb03"


@given(_ASCII_TEXT)
def test_ascii_text(text: str) -> None:
    assert canon_text(text) == _full(text)


@given(st.text(st.sampled_from([*_NON_ASCII, " ", "a", "\n", "A"]), max_size=30))
def test_non_ascii_text(text: str) -> None:
    assert canon_text(text) == _full(text)


@given(st.text(st.characters(max_codepoint=0xFF), max_size=40))
def test_latin1_text(text: str) -> None:
    assert canon_text(text) == _full(text)


def test_every_latin1_character() -> None:
    for code in range(256):
        text = f"Ab{chr(code)}\u00c9 {chr(code)}x"
        assert canon_text(text) == _full(text), hex(code)
        assert len(chr(code).lower()) == 1
        assert unicodedata.is_normalized("NFC", chr(code))


@given(st.text())
def test_any_text(text: str) -> None:
    assert canon_text(text) == _full(text)


def test_examples() -> None:
    assert canon_text("  Quantum\n  FIELD\ttheory\x1c ") == "quantum field theory"
    assert canon_text("A\u030a\u00a0B") == "\u00e5 b"  # NFC composes, NBSP splits
    mixed = "\u00dcBER\u0085na\u00cfve\u00a0\u00df\u00b5"
    assert canon_text(mixed) == "\u00fcber na\u00efve \u00df\u00b5"


def _meta(**changes: object) -> SourceMetadata:
    meta = SourceMetadata(
        arxiv_id="0704.0001",
        version=2,
        title="A title",
        abstract="An abstract",
        categories=("hep-ph", "hep-th"),
        license=None,
        submitted_at=datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC),
        dois=(),
        source_format="snapshot",
        location="x:1",
    )
    return dataclasses.replace(meta, **changes)  # type: ignore[arg-type]


def test_checked_meta_is_marked() -> None:
    meta = _meta()
    assert not meta.is_checked
    marked = checked(meta)
    assert marked is meta
    assert marked.is_checked
    assert CanonicalRecord.from_source(marked) == CanonicalRecord.from_source(_meta())
    assert not dataclasses.replace(marked).is_checked


@pytest.mark.parametrize(
    "changes",
    [
        {"categories": ("not a category",)},
        {"categories": ()},
        {"arxiv_id": "0704.1"},
        {"version": 0},
        {"license": ""},
        {"title": "\ud800"},
    ],
    ids=repr,
)
def test_unchecked_or_copied_meta_is_checked_again(changes: dict[str, object]) -> None:
    """A copy of a checked record is not marked: from_source checks its grammar again."""
    marked = checked(_meta())
    bad = dataclasses.replace(marked, **changes)  # type: ignore[arg-type]
    assert not bad.is_checked
    with pytest.raises(FormatError):
        CanonicalRecord.from_source(bad)


def test_common_version_labels_are_parsed_labels() -> None:
    assert len(_model._COMMON_LABELS) == 99
    saved = _model._COMMON_LABELS
    _model._COMMON_LABELS = {}
    try:
        parsed = {label: parse_version_label(label) for label in saved}
    finally:
        _model._COMMON_LABELS = saved
    assert parsed == saved
    assert {label: parse_version_label(label) for label in saved} == saved
    for label in ("v0", "v01", "V1", "v1 ", "1", "v"):
        with pytest.raises(RefuseRecordError):
            parse_version_label(label)
