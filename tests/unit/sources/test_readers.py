"""Reader behaviour beyond the samples: hardening, streaming, cross-format agreement."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from issuer.derive import derive
from issuer.errors import SourceError, UnreadableInputError
from issuer.sources import Refusal, SourceMetadata, parse_arxiv_date, read, read_stream
from issuer.sources._model import RefuseRecordError
from tests.conftest import SAMPLES

RAW_NS = "http://arxiv.org/OAI/arXivRaw/"
OAI_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>\n'
)
OAI_TAIL = b"</ListRecords></OAI-PMH>\n"


def _raw_record(meta: dict[str, object]) -> bytes:
    """An OAI-PMH arXivRaw <record> from a snapshot-shaped dict."""
    root = etree.Element(f"{{{RAW_NS}}}arXivRaw", nsmap={None: RAW_NS})

    def add(tag: str, text: str | None) -> None:
        if text is not None:
            etree.SubElement(root, f"{{{RAW_NS}}}{tag}").text = text

    add("id", str(meta["id"]))
    for v in meta["versions"]:  # type: ignore[attr-defined]
        node = etree.SubElement(root, f"{{{RAW_NS}}}version", version=v["version"])
        etree.SubElement(node, f"{{{RAW_NS}}}date").text = v["created"]
        etree.SubElement(node, f"{{{RAW_NS}}}size").text = "10kb"
    for tag in ("title", "authors", "categories", "doi", "license", "abstract"):
        add(tag, meta.get(tag))  # type: ignore[arg-type]
    payload = etree.tostring(root)
    return (
        b"<record><header><identifier>oai:arXiv.org:"
        + str(meta["id"]).encode()
        + b"</identifier></header><metadata>"
        + payload
        + b"</metadata></record>\n"
    )


def _one(items: Iterator[object]) -> SourceMetadata:
    got = list(items)
    assert len(got) == 1 and isinstance(got[0], SourceMetadata), got
    return got[0]


def _snapshot_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_snapshot_line_and_arxivraw_record_give_the_same_pith_number() -> None:
    """Rewrite real snapshot lines as arXivRaw records: the Pith numbers must agree."""
    lines = _snapshot_lines(
        SAMPLES / "kaggle/kermitt2_arxiv_harvester_test_metadata_file_d7ad31f.json"
    )
    for line in lines:
        from_json = _one(read_stream(io.BytesIO(json.dumps(line).encode()), "snap"))
        xml = OAI_HEAD + _raw_record(line) + OAI_TAIL
        from_xml = _one(read_stream(io.BytesIO(xml), "raw"))
        a, b = derive(from_json, from_json.submitted_at), derive(from_xml, from_xml.submitted_at)
        assert a.number == b.number, line["id"]


def test_arxivraw_record_and_snapshot_line_give_the_same_pith_number() -> None:
    """And the other way: the real GetRecord response rewritten as a snapshot line."""
    path = SAMPLES / "oai/arXivOAIHarvester_arXivRaw_GetRecordResponse.xml"
    from_xml = _one(read(path))
    tree = etree.parse(str(path))
    raw = tree.find(f".//{{{RAW_NS}}}arXivRaw")
    assert raw is not None

    def text(tag: str) -> str | None:
        node = raw.find(f"{{{RAW_NS}}}{tag}")
        return None if node is None else node.text

    line = {
        "id": text("id"),
        "title": text("title"),
        "abstract": text("abstract"),
        "categories": text("categories"),
        "license": text("license"),
        "doi": text("doi"),
        "versions": [
            {"version": v.get("version"), "created": v.findtext(f"{{{RAW_NS}}}date")}
            for v in raw.iterfind(f"{{{RAW_NS}}}version")
        ],
    }
    from_json = _one(read_stream(io.BytesIO(json.dumps(line, ensure_ascii=False).encode()), "x"))
    assert (
        derive(from_xml, from_xml.submitted_at).number
        == derive(from_json, from_json.submitted_at).number
    )


BASE_LINE = _snapshot_lines(
    SAMPLES / "kaggle/kermitt2_arxiv_harvester_test_metadata_file_d7ad31f.json"
)[0]


def _line(**changes: object) -> bytes:
    data = dict(BASE_LINE)
    for key, value in changes.items():
        if value is KeyError:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data).encode() + b"\n"


def test_title_zero_is_a_title_not_a_missing_one() -> None:
    for stream in (
        io.BytesIO(_line(title="0")),
        io.BytesIO(OAI_HEAD + _raw_record({**BASE_LINE, "title": "0"}) + OAI_TAIL),
    ):
        meta = _one(read_stream(stream, "t"))
        assert meta.title == "0"


def test_unicode_escaped_and_raw_lines_are_the_same_record() -> None:
    escaped = json.dumps({**BASE_LINE, "title": "Über die Quantenmechanik 😀"}, ensure_ascii=True)
    raw = json.dumps({**BASE_LINE, "title": "Über die Quantenmechanik 😀"}, ensure_ascii=False)
    assert "\\u00dc" in escaped and "Ü" in raw
    a = _one(read_stream(io.BytesIO(escaped.encode()), "a"))
    b = _one(read_stream(io.BytesIO(raw.encode()), "b"))
    assert derive(a, a.submitted_at).number == derive(b, b.submitted_at).number


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Fri, 16 Nov 2018 19:01:40 GMT", "2018-11-16T19:01:40+00:00"),
        ("Mon, 07 Oct 2024 09:08:07 GMT", "2024-10-07T09:08:07+00:00"),
        ("Tue, 3 Apr 2007 22:04:11 GMT", "2007-04-03T22:04:11+00:00"),
    ],
)
def test_dates_with_and_without_zero_padding(text: str, iso: str) -> None:
    assert parse_arxiv_date(text).isoformat() == iso


@pytest.mark.parametrize(
    "text",
    [
        "2018-11-16T19:01:40Z",
        "Fri, 31 Feb 2018 19:01:40 GMT",
        "Fri, 16 Nov 2018 19:01 GMT",
        "Fri, 16 Foo 2018 19:01:40 GMT",
    ],
)
def test_bad_dates_are_refused(text: str) -> None:
    with pytest.raises(RefuseRecordError, match="not an arXiv date"):
        parse_arxiv_date(text)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{not json\n", "invalid JSON"),
        (b"[1, 2]\n", "not a JSON object"),
        (_line(id="not an id"), 'no valid arXiv "id"'),
        (_line(versions=[]), '"versions" is missing or empty'),
        (_line(versions=[{"version": "v2", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}]), "no v1"),
        (
            _line(versions=[{"version": "2", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}]),
            "not a version label",
        ),
        (_line(versions=[{"version": "v1", "created": "yesterday"}]), "not an arXiv date"),
        (_line(title=None), '"title" is missing'),
        (_line(abstract=KeyError), '"abstract" is missing'),
        (_line(categories=""), '"categories" is empty'),
        (_line(license=5), '"license" is missing or not a string or null'),
        (_line(license=KeyError), "arxiv-public-datasets layout"),
    ],
)
def test_bad_snapshot_line_is_refused_with_its_line_number_and_the_run_goes_on(
    line: bytes, reason: str
) -> None:
    stream = io.BytesIO(_line() + b"\n" + line + _line(id="0704.0002"))
    items = list(read_stream(stream, "snap.json"))
    assert [type(i).__name__ for i in items] == ["SourceMetadata", "Refusal", "SourceMetadata"]
    refusal = items[1]
    assert isinstance(refusal, Refusal)
    assert refusal.location == "snap.json:3"
    assert reason in refusal.reason


def test_arxivraw_record_missing_fields_is_refused() -> None:
    record = {**BASE_LINE, "abstract": None}
    items = list(read_stream(io.BytesIO(OAI_HEAD + _raw_record(record) + OAI_TAIL), "r.xml"))
    assert len(items) == 1 and isinstance(items[0], Refusal)
    assert "no <abstract>" in items[0].reason and items[0].record_id == "0704.0001"


def test_gzip_input_is_read(tmp_path: Path) -> None:
    path = tmp_path / "snap.json.gz"
    path.write_bytes(gzip.compress(_line() * 3))
    assert sum(isinstance(i, SourceMetadata) for i in read(path)) == 3


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><x>&lol2;</x></OAI-PMH>"""
XXE = b"""<?xml version="1.0"?>
<!-- harmless comment -->
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><x>&xxe;</x></OAI-PMH>"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_xml_with_dtd_is_refused(doc: bytes) -> None:
    with pytest.raises(SourceError, match="DOCTYPE"):
        list(read_stream(io.BytesIO(doc), "evil.xml"))


def test_undeclared_entity_is_not_expanded() -> None:
    doc = OAI_HEAD + b"<x>&unknown;</x>" + OAI_TAIL
    with pytest.raises(UnreadableInputError, match=r"evil\.xml.*malformed XML"):
        list(read_stream(io.BytesIO(doc), "evil.xml"))


def test_malformed_xml_names_the_line_after_yielding_earlier_records() -> None:
    doc = OAI_HEAD + _raw_record(BASE_LINE) + b"<record><broken></record>\n"
    items: list[object] = []
    with pytest.raises(UnreadableInputError, match=r"bad\.xml:[0-9]+: malformed XML"):
        items.extend(read_stream(io.BytesIO(doc), "bad.xml"))
    assert len(items) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty input"),
        (b"   \n", "empty input"),
        (b"hello", "not arXiv metadata"),
        (b"[{}]", "spread over several lines"),
        (b"<html><body/></html>", "not an arXiv response"),
    ],
)
def test_whole_file_refusals(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        list(read_stream(io.BytesIO(data), "f"))


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableInputError, match="cannot read"):
        list(read(tmp_path / "nope.json"))


class _Generated(io.RawIOBase):
    """A large input produced on the fly, so memory use reflects the reader only."""

    def __init__(self, head: bytes, unit: bytes, count: int, tail: bytes) -> None:
        self._chunks = iter([head, *([unit] * count), tail])
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _peak_while_reading(stream: io.RawIOBase, expected: int) -> int:
    tracemalloc.start()
    try:
        count = sum(
            1
            for i in read_stream(io.BufferedReader(stream), "big")
            if isinstance(i, SourceMetadata)
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == expected
    return peak


@pytest.mark.slow
def test_readers_stream_in_constant_memory() -> None:
    line = _line()
    small = _peak_while_reading(_Generated(b"", line, 1_000, b""), 1_000)
    large = _peak_while_reading(_Generated(b"", line, 10_000, b""), 10_000)
    assert large < small + 1_000_000, (small, large)

    record = _raw_record(BASE_LINE)
    small = _peak_while_reading(_Generated(OAI_HEAD, record, 1_000, OAI_TAIL), 1_000)
    large = _peak_while_reading(_Generated(OAI_HEAD, record, 10_000, OAI_TAIL), 10_000)
    assert large < small + 1_000_000, (small, large)
