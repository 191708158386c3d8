"""Hostile and out-of-range input (issue 12 §5): refused with the toolkit's own errors.

Each table row is one input with the refusal it must get; one bad record or
file never stops the others. Large inputs are generated on the fly (a gzip of
zeros is tiny), never written to disk.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.errors import FormatError, SourceError, UnreadableInputError
from issuer.record import CanonicalRecord
from issuer.sources import (
    Item,
    RawRecord,
    Refusal,
    SourceMetadata,
    _gzip,
    _oai,
    _snapshot,
    read,
    read_blocks,
    read_stream,
)
from tests import factory
from tests.unit.sources.test_readers import OAI_HEAD, OAI_TAIL, _Generated, _raw_record

ROOT = Path(__file__).resolve().parents[3]


def _line(n: int = 1, **changes: object) -> bytes:
    data = json.loads(factory.snapshot_line(n))
    data.update(changes)
    return json.dumps(data).encode() + b"\n"


def _kinds(items: list[Item]) -> list[str]:
    return [type(i).__name__ for i in items]


def _refusal(items: list[Item]) -> Refusal:
    [refusal] = [i for i in items if isinstance(i, Refusal)]
    return refusal


# --- One grammar: what the verifier refuses is refused at issue ---------------------------

DATE = "Tue, 2 Jan 2024 03:04:05 GMT"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"categories": "CS.LG stat.ML"}, "not a category: 'CS.LG'"),
        ({"categories": "cs.LG stat.ML!"}, "not a category: 'stat.ML!'"),
        ({"categories": "cs.LG 1hep"}, "not a category: '1hep'"),
        (
            {"versions": [{"version": "v1", "created": "Tue, 2 Jan 0999 03:04:05 GMT"}]},
            "year 999 is not between 1000 and 9999",
        ),
        (
            {"versions": [{"version": "v1", "created": "Tue, 2 Jan 2999 03:04:05 GMT"}]},
            "is in the future",
        ),
        (
            {
                "versions": [
                    {"version": "v1", "created": DATE},
                    {"version": f"v{2**53}", "created": DATE},
                ]
            },
            "9007199254740992 is above 2^53-1",
        ),
        (
            {
                "versions": [
                    {"version": "v1", "created": DATE},
                    {"version": "v" + "9" * 5000, "created": DATE},
                ]
            },
            "is above 2^53-1",
        ),
        ({"title": "\ud800 lone surrogate"}, "title: not valid Unicode"),
        ({"license": "http://x/\udfff"}, "license: not a non-empty string or null"),
    ],
    ids=[
        "category upper case",
        "category punctuation",
        "category digit first",
        "year before 1000",
        "year in the future",
        "version 2^53",
        "version of 5000 digits",
        "title lone surrogate",
        "license lone surrogate",
    ],
)
def test_out_of_grammar_line_is_refused_with_file_line_and_the_run_goes_on(
    changes: dict[str, object], reason: str
) -> None:
    stream = io.BytesIO(_line(1) + _line(2, **changes) + _line(3))
    items = list(read_stream(stream, "snap.json"))
    assert _kinds(items) == ["SourceMetadata", "Refusal", "SourceMetadata"]
    refusal = _refusal(items)
    assert refusal.location == "snap.json:2"
    assert reason in refusal.reason


def test_out_of_grammar_arxivraw_record_is_refused() -> None:
    bad = _raw_record({**json.loads(_line(1)), "categories": "CS.LG"})
    items = list(
        read_stream(
            io.BytesIO(OAI_HEAD + bad + _raw_record(json.loads(_line(2))) + OAI_TAIL), "r.xml"
        )
    )
    assert _kinds(items) == ["Refusal", "SourceMetadata"]
    assert "not a category: 'CS.LG'" in _refusal(items).reason


# --- One reading: a record two parsers could read differently is refused ----------------

_V1, _V1_OTHER = DATE, "Tue, 2 Jan 2018 03:04:05 GMT"
_RECORD = _raw_record(json.loads(_line(1)))


def _twice(tag: bytes, text: bytes) -> bytes:
    """The record with a second ``<tag>`` (first in document order) holding ``text``."""
    at = _RECORD.index(b"<" + tag + b">")
    return _RECORD[:at] + b"<" + tag + b">" + text + b"</" + tag + b">" + _RECORD[at:]


def _version(label: bytes, date: str) -> bytes:
    return b'<version version="' + label + b'"><date>' + date.encode() + b"</date></version>"


_FIRST_VERSION = _RECORD.index(b"<version")


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (_twice(b"id", b"2401.00009"), "2 <id> elements"),
        (_twice(b"title", b"Another title"), "2 <title> elements"),
        (_twice(b"abstract", b"Another abstract"), "2 <abstract> elements"),
        (_twice(b"categories", b"hep-th"), "2 <categories> elements"),
        (_twice(b"license", b"http://arxiv.org/licenses/assumed-1991-2003/"), "2 <license>"),
        (
            _RECORD[:_FIRST_VERSION] + _version(b"v1", _V1_OTHER) + _RECORD[_FIRST_VERSION:],
            "<version> v1 is listed twice",
        ),
        (
            _RECORD.replace(b"<title>", b"<title>Real <b>injected</b> ", 1),
            "<title> holds elements",
        ),
        (
            _RECORD.replace(b"<date>", b"<date>" + _V1_OTHER.encode() + b"</date><date>", 1),
            "2 <date> elements",
        ),
    ],
    ids=[
        "two ids",
        "two titles",
        "two abstracts",
        "two category lists",
        "two licenses",
        "v1 twice with two dates",
        "element inside the title",
        "two dates in one version",
    ],
)
def test_an_arxivraw_record_read_two_ways_is_refused_and_the_page_goes_on(
    record: bytes, reason: str
) -> None:
    """The snapshot reader refuses duplicate keys; the arXivRaw reader, duplicate fields."""
    doc = OAI_HEAD + record + _raw_record(json.loads(_line(2))) + OAI_TAIL
    found = list(read_blocks(io.BytesIO(doc), "r.xml", 10))
    assert all(isinstance(i, RawRecord) for i in found)  # and each is read in a worker
    read_there: list[Item] = [i.read() for i in found if isinstance(i, RawRecord)]
    for items in (list(read_stream(io.BytesIO(doc), "r.xml")), read_there):
        assert _kinds(items) == ["Refusal", "SourceMetadata"], items
        assert reason in _refusal(items).reason, _refusal(items).reason
        assert _refusal(items).location == "r.xml:3"


def test_a_snapshot_version_listed_twice_is_refused() -> None:
    line = _line(
        1,
        versions=[
            {"version": "v1", "created": _V1},
            {"version": "v1", "created": _V1_OTHER},
        ],
    )
    items = list(read_stream(io.BytesIO(line + _line(2)), "s.json"))
    assert _kinds(items) == ["Refusal", "SourceMetadata"]
    assert _refusal(items).location == "s.json:1"
    assert '"versions" lists v1 twice' in _refusal(items).reason


CATEGORY_TEXT = st.text(alphabet="ab-.ZQ1! \t", min_size=0, max_size=12)


@given(categories=CATEGORY_TEXT)
def test_reader_and_verifier_share_one_category_grammar(categories: str) -> None:
    """A line is read iff the record it makes passes ``from_dict`` (what the verifier runs)."""
    items = list(read_stream(io.BytesIO(_line(1, categories=categories)), "p.json"))
    [item] = items
    cats = categories.split()
    verifier_accepts = True
    if cats:
        record = factory.record(1)
        data = record.to_dict()
        data["metadata"]["primary_cat"] = cats[0]
        data["metadata"]["cross_cats_sorted"] = sorted(set(cats[1:]) - {cats[0]})
        try:
            CanonicalRecord.from_dict(data)
        except FormatError:
            verifier_accepts = False
    else:
        verifier_accepts = False
    assert isinstance(item, SourceMetadata) == verifier_accepts, item
    if isinstance(item, SourceMetadata):
        CanonicalRecord.from_dict(CanonicalRecord.from_source(item).to_dict())


def test_from_source_refuses_what_from_dict_refuses() -> None:
    """A library caller that builds metadata by hand cannot mint an unverifiable record."""
    [good] = [i for i in read_stream(io.BytesIO(_line(1)), "x") if isinstance(i, SourceMetadata)]
    for bad in (
        SourceMetadata(**{**good.__dict__, "categories": ("cs.LG", "Bad Cat")}),
        SourceMetadata(**{**good.__dict__, "version": 2**53}),
        SourceMetadata(**{**good.__dict__, "arxiv_id": "1811.06992v2"}),
        SourceMetadata(**{**good.__dict__, "submitted_at": good.submitted_at.replace(year=999)}),
    ):
        with pytest.raises(FormatError):
            CanonicalRecord.from_source(bad)


# --- gzip --------------------------------------------------------------------------------


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


# Larger than the 64 KiB the readers look at first, so damage is met while streaming.
BIG = b"".join(_line(n, title=hashlib.sha256(bytes(n)).hexdigest()) for n in range(1, 3000))


def _damaged(kind: str) -> bytes:
    good = _gz(BIG)
    middle = len(good) // 2
    if kind == "truncated":
        return good[:middle]
    if kind == "trailing garbage":
        return good + b"garbage"
    if kind == "corrupt deflate":
        return good[:middle] + bytes([good[middle] ^ 0xFF]) + good[middle + 1 :]
    assert kind == "bad CRC"
    return good[:-8] + bytes([good[-8] ^ 0x01]) + good[-7:]


DAMAGE = ["truncated", "trailing garbage", "corrupt deflate", "bad CRC"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_gzip_file_is_unreadable_and_issues_nothing(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "snap.json.gz"
    path.write_bytes(_damaged(kind))
    items: list[Item] = []
    with pytest.raises(UnreadableInputError, match=r"snap\.json\.gz: cannot read: .*gzip") as e:
        items.extend(read(path))
    assert e.value.exit_code == 2
    assert items == []  # checked whole before any record: nothing from the damaged file


class _Pipe(io.RawIOBase):
    """``data`` as a stream that cannot seek (standard input)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        return self._data.readinto(buffer)


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_gzip_on_a_stream_raises_our_error_after_the_records_before_it(kind: str) -> None:
    """A pipe cannot be read twice: the damage is found as it streams, as our error."""
    data = _damaged(kind)
    with pytest.raises(UnreadableInputError, match=r"pipe: cannot read: .*gzip"):
        list(read_stream(io.BufferedReader(_Pipe(data)), "pipe"))
    assert len(list(read_stream(io.BufferedReader(_Pipe(_gz(BIG))), "pipe"))) == len(
        BIG.splitlines()
    )


def test_concatenated_members_and_zero_padding_are_valid_gzip(tmp_path: Path) -> None:
    path = tmp_path / "snap.json.gz"
    path.write_bytes(_gz(_line(1)) + _gz(_line(2)) + b"\0" * 512)
    assert _kinds(list(read(path))) == ["SourceMetadata", "SourceMetadata"]


def _gz_of(parts: list[bytes], repeat: int) -> bytes:
    """gzip of ``parts`` joined, ``repeat`` times over, compressed as it goes."""
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    out = [c.compress(b"".join(parts)) for _ in range(repeat)]
    return b"".join([*out, c.flush()])


@pytest.mark.parametrize("seekable", [True, False])
def test_a_gzip_bomb_is_refused_past_the_floor_before_its_lines_are_read(
    seekable: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_gzip, "EXPANSION_FLOOR", 4 << 20)
    # 64 MiB of newlines in 64 KiB: a million Python steps a MiB, were they read as lines.
    data = _gz_of([_line(1), b"\n" * (1 << 20)], 64)
    assert len(data) < 1 << 20
    stream = io.BytesIO(data) if seekable else io.BufferedReader(_Pipe(data))
    items: list[Item] = []
    with pytest.raises(UnreadableInputError) as caught:
        items.extend(read_stream(stream, "bomb.json.gz"))
    assert "bomb.json.gz: cannot read: gzip data that expands more than 100 times" in str(
        caught.value.diagnostics()
    )
    assert caught.value.exit_code == 2
    # A file is checked whole first: nothing from it. A stream that cannot be read twice
    # gives what it held within the floor (a record a MiB here), then the refusal.
    assert len(items) == (0 if seekable else 4)


def test_a_gzip_file_that_expands_less_than_the_bound_is_read_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_gzip, "EXPANSION_FLOOR", 1 << 20)
    noise = hashlib.shake_256(b"noise").hexdigest(40 << 10).encode()  # 80 KiB, ratio about 2
    line = _line(1).rstrip(b"\n") + b"\n"
    blanks = b" \n" * ((1 << 20) - len(noise) // 2)  # 2 MiB a round, noise included
    data = _gz_of([line, noise, b"\n", blanks], 4)  # 8 MiB in about 170 KiB: 50 times
    assert 8 << 20 > 40 * len(data) > 1 << 20
    items = list(read_stream(io.BytesIO(data), "long.json.gz"))
    assert _kinds([i for i in items if not isinstance(i, Refusal)]) == ["SourceMetadata"] * 4


class _FailingDisk(io.RawIOBase):
    """Serves ``data``, then fails as a disk or a network file system does (EIO)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self._data.readinto(buffer)
        if n:
            return n
        raise OSError(errno.EIO, "Input/output error")


@pytest.mark.parametrize(
    "data",
    [
        b"".join(_line(n) for n in range(1, 400)),
        OAI_HEAD + b"".join(_raw_record(json.loads(_line(n))) for n in range(1, 400)),
    ],
    ids=["snapshot", "OAI-PMH"],
)
def test_a_read_that_fails_midway_is_our_error_naming_the_file(data: bytes) -> None:
    """Past the first bytes, a failing read was a raw OSError: a traceback, the run stopped."""
    assert len(data) > 1 << 17  # past what is read first to tell the format
    items: list[Item] = []
    with pytest.raises(UnreadableInputError, match=r"^disk\.in: cannot read: Input/output error"):
        items.extend(read_stream(io.BufferedReader(_FailingDisk(data)), "disk.in"))
    assert items  # what was read before the failure


# --- Out-of-range values and strict JSON lines ----------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (_line(1)[:-2] + b', "x": 1' + b"0" * 5000 + b"}\n", "integer '10000"),
        (_line(1)[:-2] + b', "x": 18446744073709551616}\n', "is outside +/-(2^53-1)"),
        (_line(1)[:-2] + b', "x": -9007199254740992}\n', "is outside +/-(2^53-1)"),
        (_line(1)[:-2] + b', "x": [1e400]}\n', "number '1e400' is too large"),
        (_line(1)[:-2] + b', "x": NaN}\n', "NaN is not JSON"),
        (b'{"id": "2401.00001", "id": "2401.00009"}\n', "duplicate key 'id'"),
        (_line(1)[:-2] + b', "versions": []}\n', "duplicate key 'versions'"),
        (b'{"a": {"b": 1, "b": 2}}\n', "duplicate key 'b'"),
        (b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested too deeply"),
        (b'{"id": "\xff"}\n', "not UTF-8"),
        (b"\xef\xbb\xbf" + _line(1), "invalid JSON"),  # a BOM that is not at the start of the file
    ],
    ids=[
        "integer of 5000 digits",
        "integer 2^64",
        "integer -2^53",
        "float overflow",
        "NaN",
        "duplicate top-level key",
        "duplicate key of a used field",
        "duplicate nested key",
        "deep nesting",
        "invalid UTF-8",
        "BOM inside the file",
    ],
)
def test_strict_json_refuses_the_line_and_the_run_goes_on(line: bytes, reason: str) -> None:
    items = list(read_stream(io.BytesIO(_line(1) + line + _line(3)), "snap.json"))
    assert _kinds(items) == ["SourceMetadata", "Refusal", "SourceMetadata"]
    refusal = _refusal(items)
    assert refusal.location == "snap.json:2"
    assert reason in refusal.reason, refusal.reason


def test_utf8_bom_at_the_start_of_the_file_is_skipped() -> None:
    """Documented choice (README "Inputs", sources docstring): a leading BOM is not content."""
    items = list(read_stream(io.BytesIO(b"\xef\xbb\xbf" + _line(1) + _line(2)), "bom.json"))
    assert _kinds(items) == ["SourceMetadata", "SourceMetadata"]
    assert [i.location for i in items] == ["bom.json:1", "bom.json:2"]
    plain = list(read_stream(io.BytesIO(_line(1)), "plain.json"))
    assert items[0].__dict__ | {"location": ""} == plain[0].__dict__ | {"location": ""}


# --- XML: any DOCTYPE anywhere -------------------------------------------------------------

OAI_NS = b'xmlns="http://www.openarchives.org/OAI/2.0/"'
_DTD = '<!DOCTYPE OAI-PMH [<!ENTITY a "b">]>'
_DOC = (
    '<?xml version="1.0" encoding="UTF-16"?>' + _DTD + f"<OAI-PMH {OAI_NS.decode()}>&a;</OAI-PMH>"
)
_COMMENT = "<!-- " + "x" * (70 * 1024) + " -->"


@pytest.mark.parametrize(
    "doc",
    [
        b"<?xml version='1.0'?>"
        + _COMMENT.encode()
        + _DTD.encode()
        + b"<OAI-PMH "
        + OAI_NS
        + b">&a;</OAI-PMH>",
        b"<?xml version='1.0'?>"
        + _COMMENT.encode()
        + b"<!DOCTYPE OAI-PMH SYSTEM 'file:///etc/passwd'><OAI-PMH "
        + OAI_NS
        + b"/>",
        _DOC.encode("utf-16-le"),
        _DOC.encode("utf-16-be"),
        _DOC.encode("utf-16"),
        _DOC.replace(_DTD, _COMMENT + _DTD).encode("utf-16-le"),
    ],
    ids=[
        "after a 70 KiB comment",
        "external DTD after a 70 KiB comment",
        "UTF-16LE without BOM",
        "UTF-16BE without BOM",
        "UTF-16 with BOM",
        "UTF-16LE without BOM after a 70 KiB comment",
    ],
)
def test_doctype_is_refused_wherever_it_hides(doc: bytes) -> None:
    with pytest.raises(SourceError, match="DOCTYPE"):
        list(read_stream(io.BytesIO(doc), "evil.xml"))


@pytest.mark.parametrize(
    "doc",
    [
        b"<OAI-PMH " + OAI_NS + b"></OAI-PMH><!DOCTYPE r>",
        b"<OAI-PMH " + OAI_NS + b"><!DOCTYPE r></OAI-PMH>",
    ],
    ids=["after the root", "inside the root"],
)
def test_doctype_after_the_prolog_is_malformed_xml(doc: bytes) -> None:
    with pytest.raises(UnreadableInputError, match="malformed XML"):
        list(read_stream(io.BytesIO(doc), "evil.xml"))


@pytest.mark.parametrize("encoding", [b"UTF-7", b"ISO-8859-1", b"Windows-1252"])
def test_xml_in_an_encoding_arxiv_never_serves_is_refused_naming_it(encoding: bytes) -> None:
    """In UTF-7, ``+ADw-`` is ``<``: parsers that honour the declaration and not read apart."""
    doc = (
        OAI_HEAD.replace(b"UTF-8", encoding)
        + _RECORD.replace(b"<title>", b"<title>+ACY-")
        + OAI_TAIL
    )
    with pytest.raises(
        SourceError, match=f"^e.xml: XML declared in encoding '{encoding.decode()}'"
    ):
        list(read_stream(io.BytesIO(doc), "e.xml"))


def test_utf16_arxivraw_without_bom_is_read() -> None:
    doc = (
        OAI_HEAD.replace(b'encoding="UTF-8"', b'encoding="UTF-16"')
        + _raw_record(json.loads(_line(1)))
        + OAI_TAIL
    )
    assert _kinds(list(read_stream(io.BytesIO(doc.decode().encode("utf-16-le")), "u.xml"))) == [
        "SourceMetadata"
    ]


# --- Memory bounded by the input's records, not its size -----------------------------------


def test_overlong_snapshot_line_is_refused_and_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_snapshot, "MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(_snapshot, "_SKIP_CHUNK", 100)
    huge = b'{"id": "' + b"x" * 50_000 + b'"}\n'
    items = list(read_stream(io.BytesIO(_line(1) + huge + _line(3) + b"y" * 5000), "s.json"))
    assert _kinds(items) == ["SourceMetadata", "Refusal", "SourceMetadata", "Refusal"]
    assert [i.location for i in items] == ["s.json:1", "s.json:2", "s.json:3", "s.json:4"]
    assert "line longer than" in _refusal(items[:2]).reason


def test_oversized_record_is_refused_and_the_page_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_oai, "MAX_RECORD_ELEMENTS", 500)
    record = _raw_record(json.loads(_line(1)))
    at = record.index(b"<title")
    junk = b"<junk>x</junk>" * 1000
    doc = OAI_HEAD + record[:at] + junk + record[at:] + _raw_record(json.loads(_line(2))) + OAI_TAIL
    items = list(read_stream(io.BytesIO(doc), "big.xml"))
    assert _kinds(items) == ["Refusal", "SourceMetadata"]
    assert "OAI-PMH record larger than" in _refusal(items).reason


def test_elements_outside_records_are_freed() -> None:
    """Junk between records is freed as it ends: the tree holds one read-ahead at most."""
    seen: list[int] = []
    calls: list[int] = []
    original = _oai._Page.end

    def spy(page: _oai._Page, elem: object) -> Item | RawRecord | None:
        calls.append(1)
        if len(calls) % 1000 == 0:  # counting the tree at every element would be quadratic
            root = elem.getroottree().getroot()  # type: ignore[attr-defined]
            seen.append(sum(1 for _ in root.iter()))
        return original(page, elem)  # type: ignore[arg-type]

    doc = _Generated(
        OAI_HEAD, b"<junk><a/>x</junk>\n", 100_000, _raw_record(json.loads(_line(1))) + OAI_TAIL
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_oai._Page, "end", spy)
        items = list(read_stream(io.BufferedReader(doc), "junk.xml"))
    assert _kinds(items) == ["SourceMetadata"]
    # What the parser has read ahead (one buffer) is in the tree; nothing else stays.
    assert max(seen) < 10_000, max(seen)


@pytest.mark.parametrize("raw", [False, True], ids=["read here", "found for a worker"])
def test_an_oversized_record_is_freed_as_it_is_read(
    raw: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the limit, a record's elements are freed as they end: the tree stays small."""
    monkeypatch.setattr(_oai, "MAX_RECORD_ELEMENTS", 500)
    seen: list[int] = []
    calls: list[int] = []
    original = _oai._Page.inner

    def spy(page: _oai._Page, elem: object) -> None:
        calls.append(1)
        if len(calls) % 1000 == 0:
            root = elem.getroottree().getroot()  # type: ignore[attr-defined]
            seen.append(sum(1 for _ in root.iter()))
        original(page, elem)  # type: ignore[arg-type]

    record = _raw_record(json.loads(_line(1)))
    at = record.index(b"<title")
    doc = _Generated(
        OAI_HEAD + record[:at],
        b"<junk><a/>x</junk>\n",
        100_000,
        record[at:] + _raw_record(json.loads(_line(2))) + OAI_TAIL,
    )
    monkeypatch.setattr(_oai._Page, "inner", spy)
    stream = io.BufferedReader(doc)
    items = list(read_blocks(stream, "big.xml", 10) if raw else read_stream(stream, "big.xml"))
    assert [type(i) for i in items] == [Refusal, RawRecord if raw else SourceMetadata]
    assert len(calls) > 200_000
    assert max(seen) < 10_000, max(seen)


def test_atom_feed_frees_every_element() -> None:
    head = b'<feed xmlns="http://www.w3.org/2005/Atom"><id>http://arxiv.org/api/x</id>'
    entry = b"<entry><id>http://arxiv.org/abs/0704.0001v1</id><title>t</title></entry>"
    doc = _Generated(head, b"<junk/>" * 10 + entry, 5000, b"</feed>")
    items = list(read_stream(io.BufferedReader(doc), "feed.xml"))
    assert len(items) == 1 and isinstance(items[0], Refusal)
    assert items[0].entries == 5000
    assert str(items[0]).startswith("feed.xml: 5000 entries: arXiv API Atom feed cannot issue")


_LIMITED = textwrap.dedent(
    """
    import hashlib, io, resource, sys, zlib
    sys.path.insert(0, {root!r})
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    from issuer.sources import Refusal, SourceMetadata, read_stream
    from tests import factory

    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    parts = [c.compress(factory.snapshot_line(1))]
    chunk = hashlib.shake_256(b"noise").hexdigest(20 << 10).encode()  # 40 KiB, ratio about 2
    chunk += bytes((1 << 20) - len(chunk))  # a MiB that gzip makes about 21 KiB of
    parts += [c.compress(chunk) for _ in range(1024)]  # one line of 1 GiB, in about 21 MiB
    parts += [c.compress(b"\\n" + factory.snapshot_line(2)), c.flush()]
    data = b"".join(parts)
    del parts
    items = list(read_stream(io.BytesIO(data), "big.json.gz"))
    print([type(i).__name__ for i in items])
    print([str(i) for i in items if isinstance(i, Refusal)])
    """
)


@pytest.mark.slow
def test_one_gib_line_in_a_small_gzip_under_a_memory_limit() -> None:
    """Under a 512 MiB address-space limit, a 1 GiB line is refused and the next line read.

    The gzip expands about a hundred times less than it could: within the bound a
    gzip input may expand (a bomb is refused whole, above).
    """
    script = _LIMITED.format(root=str(ROOT), limit=512 << 20)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    kinds, refusals = done.stdout.splitlines()
    assert kinds == "['SourceMetadata', 'Refusal', 'SourceMetadata']"
    assert "big.json.gz:2: line longer than 8 MiB" in refusals
