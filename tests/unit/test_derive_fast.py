"""``pith derive``'s per-line shortcuts, each against the general path it replaces (#14).

- the snapshot line scanned by the decoder's scanner directly, against
  ``JSONDecoder.decode`` (values, and the words of every refusal);
- the snapshot reader's field walk, against the walk it replaced (kept here as
  ``_reference_parse``), over real sample lines and generated objects whose
  fields are of every JSON type;
- ``canon_text`` and the bytes ``text_sha256`` hashes, made by a byte table and
  ``bytes.replace``, against NFC + ``str.lower`` + ``split``/``join``;
- ``is_unicode`` and ``check_categories`` against their plain definitions;
- the output line spliced from a template, and the aliases spelt out, against
  ``cjson.dumps(to_dict())`` and the aliases made kind by kind;
- the checked mark, kept as weak references swept when the map doubles.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import hashlib
import json
import pickle
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer import cjson
from issuer.cjson import CanonicalJSONError
from issuer.derive import Derivation, derive, derive_files
from issuer.errors import FormatError, SourceError
from issuer.identifiers import (
    ALIAS_KINDS,
    ARXIV_ID_RE,
    PithNumber,
    check_categories,
    check_category,
    check_submitted,
    expected_alias_values,
    is_unicode,
    shown,
    source_aliases,
)
from issuer.record import _LATIN1_CANON, CanonicalRecord, canon_text, canon_text_utf8, text_sha256
from issuer.sources import Notice, Refusal, SourceMetadata, _model, _snapshot, read
from issuer.sources._model import RefuseRecordError, checked, parse_arxiv_date, parse_version_label
from tests.conftest import SAMPLES

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 5, 17, 23, 59, 22, tzinfo=UTC)
SNAPSHOT_FILES = [
    ROOT / "examples" / "snapshot-sample.jsonl",
    *sorted((SAMPLES / "kaggle").glob("*.json")),
]


def _sample_lines() -> list[bytes]:
    return [line for path in SNAPSHOT_FILES for line in path.read_bytes().splitlines(True)]


def test_there_are_real_sample_lines() -> None:
    assert len(_sample_lines()) > 400


# --- the line scan ------------------------------------------------------------------------


def _full_loads(line: bytes) -> Any:
    """``loads_line`` as it was: every line through ``JSONDecoder.decode``."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RefuseRecordError(f"invalid JSON: not UTF-8 at byte {e.start}") from e
    return _snapshot._decode(text)


def _outcome(fn: Any, line: bytes) -> tuple[str, Any]:
    try:
        return ("value", fn(line))
    except RefuseRecordError as e:
        return ("refused", str(e))


_JSON_TEXT = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=12,
).map(lambda v: json.dumps(v, allow_nan=True))
_SPACE = st.text(st.sampled_from(" \t\n\r\x0b\x0c\u00a0"), max_size=3)


@given(_SPACE, _JSON_TEXT, _SPACE, st.sampled_from(["", "x", "{}", ",", '{"a": 1, "a": 2}']))
def test_line_scan_equals_decode(before: str, doc: str, after: str, extra: str) -> None:
    for text in (before + doc + after, doc + after + extra, doc.replace(": ", ":" + after)):
        line = text.encode("utf-8", "surrogatepass")
        assert _outcome(_snapshot.loads_line, line) == _outcome(_full_loads, line)


@pytest.mark.parametrize(
    "line",
    [
        b'{"id": "1", "id": "2"}\n',
        b'{"versions": [{"v": 1, "v": 2}]}\n',
        b'{"n": 9007199254740992}\n',
        b'{"n": 1e400}\n',
        b'{"n": NaN}\n',
        b'{"n": -Infinity}\n',
        b"[" * 5000 + b"]" * 5000 + b"\n",
        b'{"a": "\xff"}\n',
        b'{"a": 1} {"b": 2}\n',
        b' {"a": 1}\n',
        b'{"a": 1}\x0c\n',
        b'{"a": 1}  \r\n',
        b"\n",
        b"",
        b"{",
        b'"text"\n',
    ],
)
def test_line_scan_refusals_are_worded_as_before(line: bytes) -> None:
    assert _outcome(_snapshot.loads_line, line) == _outcome(_full_loads, line)


def test_real_lines_scan_as_decoded() -> None:
    for line in _sample_lines():
        assert _outcome(_snapshot.loads_line, line) == _outcome(_full_loads, line)


# --- the field walk -----------------------------------------------------------------------


def _reference_string(obj: dict[str, Any], field: str, *, nullable: bool = False) -> str | None:
    value = obj.get(field)
    if isinstance(value, str) or (nullable and value is None):
        return value
    what = "a string or null" if nullable else "a string"
    raise RefuseRecordError(f'"{field}" is missing or not {what}')


def _reference_parse(obj: Any, location: str) -> SourceMetadata | Refusal:
    """The snapshot reader's field walk as it was before the shortcuts."""
    if not isinstance(obj, dict):
        return Refusal(location, "snapshot line is not a JSON object")
    arxiv_id = obj.get("id")
    if not isinstance(arxiv_id, str) or not ARXIV_ID_RE.fullmatch(arxiv_id):
        return Refusal(location, f'no valid arXiv "id" (got {shown(arxiv_id)})')
    try:
        versions = obj.get("versions")
        if not isinstance(versions, list) or not versions:
            raise RefuseRecordError('"versions" is missing or empty')
        if "license" not in obj or any(isinstance(v, str) for v in versions):
            raise RefuseRecordError(_snapshot._PUBLIC_DATASETS)
        dates: dict[int, str] = {}
        for entry in versions:
            if not isinstance(entry, dict) or not isinstance(entry.get("created"), str):
                raise RefuseRecordError(
                    f'"versions" entry is not {{"version", "created"}}: {shown(entry, 100)}'
                )
            number = parse_version_label(str(entry.get("version")), '"versions"')
            if number in dates:
                raise RefuseRecordError(f'"versions" lists v{number} twice')
            dates[number] = entry["created"]
        if 1 not in dates:
            raise RefuseRecordError('"versions" lists no v1, so the submission time is unknown')
        submitted = parse_arxiv_date(dates[1], '"versions" v1')
        title = _reference_string(obj, "title")
        abstract = _reference_string(obj, "abstract")
        categories = tuple((_reference_string(obj, "categories") or "").split())
        lic = (_reference_string(obj, "license", nullable=True) or "").strip()
        doi = _reference_string(obj, "doi", nullable=True) or ""
        if not categories:
            raise RefuseRecordError('"categories" is empty')
        assert title is not None and abstract is not None
        meta = SourceMetadata(
            arxiv_id=arxiv_id,
            version=max(dates),
            title=title,
            abstract=abstract,
            categories=categories,
            license=lic or None,
            submitted_at=submitted,
            dois=tuple(doi.split()),
            source_format=_snapshot.FORMAT,
            location=location,
        )
        try:
            meta.check_grammar()
        except FormatError as e:
            raise RefuseRecordError(e.message) from e
        if meta.submitted_at > datetime.now(UTC):
            raise RefuseRecordError(
                f"v1 submission time {meta.submitted_at.isoformat()} is in the future"
            )
        return meta
    except RefuseRecordError as e:
        return Refusal(location, str(e), arxiv_id)


_ANY = st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=4)
_DATES = st.sampled_from(
    [
        "Mon, 2 Apr 2007 19:18:42 GMT",
        " Tue, 13 Nov 2007 01:04:52 GMT ",
        "Fri, 31 Feb 2007 01:04:52 GMT",
        "Tue, 2 Jan 2999 03:04:05 GMT",
        "Tue, 2 Jan 0999 03:04:05 GMT",
        "yesterday",
    ]
)
_LABELS = st.sampled_from(["v1", "v2", "v3", "v0", "V1", "v01", "v123", "v" + "9" * 17, "1"])
_ENTRY = st.one_of(
    st.fixed_dictionaries({"version": _LABELS, "created": _DATES}),
    st.fixed_dictionaries({"version": _LABELS | _ANY, "created": _DATES | _ANY}),
    st.fixed_dictionaries({"version": _LABELS}),
    _LABELS,
    _ANY,
)
_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "id": st.sampled_from(["0704.0001", "math/9201201", "0704.1", "1811.06992v2"]) | _ANY,
    "versions": st.lists(_ENTRY, max_size=4) | _ANY,
    "title": st.sampled_from(["A Title", "Caf\u00e9\n  \u00dcber", "\ud800", ""]) | _ANY,
    "abstract": st.sampled_from(["  An abstract.\n", "na\u00efve \u2028 x", "\udfff"]) | _ANY,
    "categories": st.sampled_from(["hep-ph", "cs.LG stat.ML", "  ", "Bad Cat", "a b a"]) | _ANY,
    "license": st.sampled_from(
        ["http://creativecommons.org/licenses/by/4.0/", " ", "\ud800", "x\u00e9"]
    )
    | _ANY,
    "doi": st.sampled_from(["10.1/a 10.2/b", ""]) | _ANY,
}


_GOOD: dict[str, Any] = {
    "id": "0704.0001",
    "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}],
    "title": "A Title",
    "abstract": "  An abstract.\n",
    "categories": "hep-ph",
    "license": None,
    "doi": None,
}


@st.composite
def _snapshot_objects(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly good fields, a few of any kind: refusals that compete for first place."""
    obj: dict[str, Any] = {}
    for key, values in _FIELDS.items():
        pick = draw(st.integers(0, 9))
        if pick >= 4:
            obj[key] = _GOOD[key]
        elif pick:
            obj[key] = draw(values)
    return obj


def _same(a: SourceMetadata | Refusal, b: SourceMetadata | Refusal) -> None:
    assert type(a) is type(b)
    assert a == b


@settings(max_examples=400)
@given(_snapshot_objects())
def test_field_walk_equals_reference(obj: dict[str, Any]) -> None:
    _same(_snapshot.parse(obj, "x:1"), _reference_parse(obj, "x:1"))


def test_field_walk_edges() -> None:
    good = {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}
    base = {"id": "0704.0001", "title": "T", "abstract": "A", "categories": "hep-ph"}
    cases = [
        {**base, "license": None, "versions": [123, "v1"]},
        {**base, "license": None, "versions": [{"version": "vX", "created": "x"}, "v2"]},
        {**base, "license": None, "versions": [good, {"version": "v0", "created": "x"}]},
        {**base, "license": None, "versions": [good, 7]},
        {**base, "versions": [good]},
        {**base, "license": None, "versions": [good], "title": None, "categories": 1},
        {**base, "license": 5, "versions": [good], "doi": 5},
        {**base, "license": None, "versions": [good], "doi": 5},
        {**base, "license": "  ", "versions": [good], "doi": None},
        {**base, "license": None, "versions": [good], "abstract": None, "categories": 1},
        {**base, "license": 5, "versions": [good], "categories": None},
        {**base, "license": None, "versions": [good], "title": 1, "abstract": None},
    ]
    for obj in cases:
        _same(_snapshot.parse(obj, "x:1"), _reference_parse(obj, "x:1"))


def test_real_lines_read_as_before() -> None:
    for line in _sample_lines():
        try:
            obj = _full_loads(line)
        except RefuseRecordError:
            continue
        _same(_snapshot.parse(obj, "x:1"), _reference_parse(obj, "x:1"))


# --- canonical text -----------------------------------------------------------------------


def _full(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def test_latin1_table() -> None:
    for code in range(256):
        char = chr(code)
        want = " " if char.isspace() else char.lower()
        assert _LATIN1_CANON[code : code + 1].decode("latin-1") == want, hex(code)
        assert char.isspace() == (char.split() == []), hex(code)


@given(
    st.text(
        st.sampled_from([" ", "\n", "\t", "\x1c", "\x85", "\xa0", "a", "Q", "\u00c9", "\u2028"]),
        max_size=50,
    )
    | st.text()
)
def test_canonical_bytes(text: str) -> None:
    assert canon_text(text) == _full(text)
    assert canon_text_utf8(text) == _full(text).encode("utf-8")
    assert text_sha256(text) == hashlib.sha256(_full(text).encode("utf-8")).hexdigest()


def test_runs_of_spaces() -> None:
    for n in range(0, 70):
        text = "a" + " " * n + "b" + "\n" * n + " " * n
        assert canon_text_utf8(text) == _full(text).encode(), n
        assert canon_text_utf8(" " * n) == b""


def test_a_lone_surrogate_cannot_be_hashed() -> None:
    with pytest.raises(UnicodeEncodeError):
        canon_text_utf8("abc \ud800")


# --- the grammar's helpers ------------------------------------------------------------------


@given(st.text(st.sampled_from(["a", "\u00e9", "\u2028", "\ud800", "\udfff", "\U0001f600"])))
def test_is_unicode(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        valid = False
    else:
        valid = True
    assert is_unicode(text) is valid


@given(st.lists(st.sampled_from(["cs.LG", "hep-th", "Bad", "", 3, None, "math.AG "]), max_size=3))
def test_check_categories(values: list[Any]) -> None:
    def reference() -> tuple[str, ...]:
        if not values:
            raise FormatError("categories: empty")
        return tuple(check_category(v, "categories") for v in values)

    try:
        want: Any = reference()
    except FormatError as e:
        want = e.message
    try:
        got: Any = check_categories(values)
    except FormatError as e:
        got = e.message
    assert got == want


# --- the aliases and the output line --------------------------------------------------------


_SHORT_KINDS = ("pith_short_12", "pith_short_16", "pith_short_8")


def _reference_aliases(
    record: CanonicalRecord, number: PithNumber, at: str, short_at: str
) -> list[dict[str, Any]]:
    values = expected_alias_values(record, number)
    return [
        {
            "alias_kind": kind,
            "alias_value": values[kind],
            "created_at": short_at if kind in _SHORT_KINDS else at,
        }
        for kind in ALIAS_KINDS
    ]


def _derivations() -> list[Derivation]:
    out = []
    for path in SNAPSHOT_FILES:
        out += [d for d in derive_files([str(path)], lambda: NOW) if isinstance(d, Derivation)]
    return out


def test_real_samples_output_lines() -> None:
    derived = _derivations()
    assert len(derived) > 400
    later = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    for d in derived:
        assert d.to_json() == cjson.dumps(d.to_dict())
        assert d.aliases == _reference_aliases(
            d.record, d.number, "2026-05-17T23:59:22Z", "2026-05-17T23:59:22Z"
        )
        assert source_aliases(d.record, d.number, NOW, later) == _reference_aliases(
            d.record, d.number, "2026-05-17T23:59:22Z", "2027-01-02T03:04:05Z"
        )


_CODES = st.one_of(
    st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), min_size=26, max_size=26),
    st.text(max_size=30),
    st.sampled_from(['AB"CD', "ab\\c", "\u00c9T\u00c9", "\ud800", "", "A\nB", "\U0001f600"]),
)
_YEARS = st.integers(-20000, 20000) | st.sampled_from([True, 2018.0, "2018", None])


@given(_CODES, _YEARS)
def test_output_line_for_any_number(code: str, year: Any) -> None:
    """A Derivation built by hand: the template only where it writes what cjson.dumps does."""
    meta = checked(
        SourceMetadata(
            arxiv_id="0704.0001",
            version=2,
            title="T",
            abstract="A",
            categories=("hep-ph",),
            license="lic \u00e9",
            submitted_at=datetime(2007, 4, 2, tzinfo=UTC),
            dois=(),
            source_format="snapshot",
            location="x:1",
        )
    )
    record = CanonicalRecord.from_source(meta)
    number = PithNumber(year, code)
    try:
        aliases = source_aliases(record, number, NOW)
    except (TypeError, ValueError):
        aliases = [{"alias_kind": "arxiv", "alias_value": code, "created_at": "x"}]
    derivation = Derivation(meta, record, number, aliases)
    try:
        want: Any = cjson.dumps(derivation.to_dict())
    except (CanonicalJSONError, TypeError, ValueError) as e:
        want = type(e)
    try:
        got: Any = derivation.to_json()
    except (CanonicalJSONError, TypeError, ValueError) as e:
        got = type(e)
    assert got == want


def test_output_line_with_odd_aliases() -> None:
    d = derive(checked(dataclasses.replace(_derivations()[0].source)), NOW)
    odd = [{"created_at": "\ue000", "alias_kind": "\U0001f600", "z": [1, None]}, *d.aliases]
    changed = Derivation(d.source, d.record, d.number, odd)
    assert changed.to_json() == cjson.dumps(changed.to_dict())
    bad = Derivation(d.source, d.record, d.number, [{"x": 2**60}])
    with pytest.raises(CanonicalJSONError):
        bad.to_json()


# --- the checked mark -------------------------------------------------------------------------


def _meta(n: int) -> SourceMetadata:
    return SourceMetadata(
        arxiv_id=f"0704.{n % 10000:04d}",
        version=1,
        title="T",
        abstract="A",
        categories=("hep-ph",),
        license=None,
        submitted_at=datetime(2007, 4, 2, tzinfo=UTC),
        dois=(),
        source_format="snapshot",
        location=f"x:{n}",
    )


def test_marks_are_swept_and_live_ones_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_model, "_checked", {})
    monkeypatch.setattr(_model, "_SWEEP_MIN", 8)
    monkeypatch.setattr(_model, "_sweep_at", 8)
    keep = [checked(_meta(n)) for n in range(4)]
    gone = [checked(_meta(n)) for n in range(4)]
    fresh = [_meta(n) for n in range(4)]  # made while ``gone`` lives: other ids
    assert len(_model._checked) == 8
    del gone
    gc.collect()
    checked(fresh[0])  # the ninth mark: over the threshold, the four dead ones go
    assert len(_model._checked) == 5
    assert all(ref() is not None for ref in _model._checked.values())
    assert all(m.is_checked for m in [*keep, fresh[0]])
    assert not any(m.is_checked for m in fresh[1:])
    assert _model._sweep_at == 10
    assert not any(dataclasses.replace(m).is_checked for m in keep)


def test_a_reused_id_is_not_marked() -> None:
    for n in range(200):
        meta = checked(_meta(n))
        del meta
        assert not _meta(n).is_checked  # often made where the last one was


def test_reading_marks_what_it_yields() -> None:
    items = list(read(str(SNAPSHOT_FILES[0])))
    assert items and all(isinstance(i, SourceMetadata) and i.is_checked for i in items)


# --- instances assembled without __init__ ---------------------------------------------------


def _rebuilt(obj: Any) -> Any:
    """``obj`` made again by its class's own constructor."""
    cls = type(obj)
    return cls(**{f.name: getattr(obj, f.name) for f in dataclasses.fields(cls)})


@pytest.mark.parametrize("cls", [SourceMetadata, CanonicalRecord, PithNumber, Derivation])
def test_assembled_classes_only_assign_in_init(cls: type) -> None:
    assert dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert not hasattr(cls, "__post_init__")
    for f in dataclasses.fields(cls):
        assert f.default_factory is dataclasses.MISSING, f.name
        assert f.init, f.name


def test_assembled_instances_equal_constructed_ones() -> None:
    derived = _derivations()[:50]
    for d in derived:
        for obj in (d, d.source, d.record, d.number):
            made = _rebuilt(obj)
            names = [f.name for f in dataclasses.fields(obj)]
            assert list(vars(obj))[: len(names)] == names  # every field, in order
            assert {n: vars(obj)[n] for n in names} == {n: vars(made)[n] for n in names}
            assert obj == made
            assert repr(obj) == repr(made)
            if not isinstance(obj, Derivation):  # (its aliases are a list: unhashable)
                assert hash(obj) == hash(made)
            assert pickle.loads(pickle.dumps(obj)) == obj  # noqa: S301 - our own bytes
            assert copy.copy(obj) == obj
            with pytest.raises(dataclasses.FrozenInstanceError):
                obj.location = "changed"  # type: ignore[misc, union-attr]
        assert d.record.is_checked and d.source.is_checked
        assert d.record.canonical_json == _rebuilt(d.record).canonical_json


# --- version dates --------------------------------------------------------------------------


def _reference_date(text: str, what: str = "date") -> datetime:
    """``parse_arxiv_date`` as it was: the month by a look-up, each number by int()."""
    m = _REFERENCE_DATE_RE.fullmatch(text.strip())
    if m and m.group(2) in _model._MONTHS:
        day, month, year, hh, mm, ss = m.groups()
        try:
            when = datetime(
                int(year), _model._MONTHS[month], int(day), int(hh), int(mm), int(ss), tzinfo=UTC
            )
        except ValueError:
            pass
        else:
            try:
                return check_submitted(when, what)
            except FormatError as e:
                raise RefuseRecordError(e.message) from e
    raise RefuseRecordError(
        f"{what}: not an arXiv date (like 'Mon, 2 Apr 2007 19:18:42 GMT'): {text!r}"
    )


_REFERENCE_DATE_RE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{1,2}) ([A-Z][a-z]{2}) ([0-9]{4}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)
_DATE_PARTS = st.tuples(
    st.sampled_from(["Mon", "Sun", "Xyz", "mon"]),
    st.sampled_from(["0", "00", "1", "01", "9", "09", "10", "29", "30", "31", "32", "99", "123"]),
    st.sampled_from(["Jan", "Feb", "Apr", "Dec", "Foo", "jan", "JAN", "Ja"]),
    st.sampled_from(["0000", "0999", "1000", "1991", "2007", "2024", "2100", "9999", "10000"]),
    st.sampled_from(["00", "09", "19", "23", "24", "99", "7"]),
    st.sampled_from(["00", "18", "59", "60", "99"]),
    st.sampled_from(["00", "42", "59", "60", "61"]),
    st.sampled_from([" GMT", " UTC", "GMT", " GMT ", "\n GMT"]),
    st.sampled_from(["", " ", "\n", "  \t"]),
)


def _date_outcome(fn: Any, text: str) -> Any:
    try:
        return fn(text, '"versions" v1')
    except RefuseRecordError as e:
        return str(e)


@settings(max_examples=500)
@given(_DATE_PARTS)
def test_dates_parse_as_before(parts: tuple[str, ...]) -> None:
    wd, day, mon, year, hh, mm, ss, tail, pad = parts
    text = f"{pad}{wd}, {day} {mon} {year} {hh}:{mm}:{ss}{tail}{pad}"
    assert _date_outcome(parse_arxiv_date, text) == _date_outcome(_reference_date, text)


@pytest.mark.parametrize(
    "text",
    [
        "Mon, 2 Apr 2007 19:18:42 GMT",
        "  Tue, 13 Nov 2007 01:04:52 GMT\n",
        "Tue, 2 Jan 0999 03:04:05 GMT",
        "Tue, 2 Jan 0000 03:04:05 GMT",
        "Tue, 2 Jan 1000 03:04:05 GMT",
        "Tue, 31 Dec 9999 23:59:59 GMT",
        "Fri, 31 Feb 2007 01:04:52 GMT",
        "Fri, 00 Feb 2007 01:04:52 GMT",
        "Fri, 1 Foo 2007 01:04:52 GMT",
        "Fri, 1 Feb 2007 24:04:52 GMT",
        "Fri, 1 Feb 2007 23:60:52 GMT",
        "Fri, 1 Feb 2007 23:59:60 GMT",
    ],
)
def test_date_edges_parse_as_before(text: str) -> None:
    assert _date_outcome(parse_arxiv_date, text) == _date_outcome(_reference_date, text)


def test_real_dates_parse_as_before() -> None:
    seen = 0
    for line in _sample_lines():
        try:
            obj = _full_loads(line)
        except RefuseRecordError:
            continue
        for entry in obj.get("versions") or []:
            if isinstance(entry, dict) and isinstance(entry.get("created"), str):
                text = entry["created"]
                assert _date_outcome(parse_arxiv_date, text) == _date_outcome(_reference_date, text)
                seen += 1
    assert seen > 400


def test_read_yields_items_only() -> None:
    """read_stream hands on _read's output unchecked: without a block size, only items."""
    files = [*SNAPSHOT_FILES, *sorted((SAMPLES / "oai").glob("*.xml"))]
    files += sorted((SAMPLES / "atom").glob("*.xml"))
    kinds: set[type] = set()
    for path in files:
        try:
            for item in read(str(path)):
                kinds.add(type(item))
        except SourceError:
            pass
    assert kinds == {SourceMetadata, Refusal, Notice}
