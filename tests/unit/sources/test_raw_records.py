"""OAI-PMH records read in the workers (issue 14 §2): found here, read there, the same items.

Issuance reads an OAI-PMH page only as far as its structure and hands each
``arXivRaw`` element on as bytes (:class:`RawRecord`); reading those bytes
must give exactly what a whole read gives, record for record and refusal for
refusal, at the same locations.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from issuer.errors import SourceError
from issuer.pipeline import Issuer
from issuer.sources import RawRecord, Refusal, SourceMetadata, _oai, read_blocks, read_stream
from issuer.store import open_store
from tests import factory
from tests.unit.sources.test_readers import OAI_HEAD, OAI_TAIL, _raw_record

DATA = Path(__file__).resolve().parents[2] / "data" / "arxiv"
XML_FILES = sorted([*DATA.glob("oai/*.xml"), *DATA.glob("atom/*.xml")])


def _whole(data: bytes, name: str) -> tuple[list[Any], str | None]:
    out: list[Any] = []
    try:
        out.extend(read_stream(io.BytesIO(data), name))
    except SourceError as e:
        return out, str(e)
    return out, None


def _found_then_read(data: bytes, name: str) -> tuple[list[Any], str | None]:
    out: list[Any] = []
    try:
        for item in read_blocks(io.BytesIO(data), name, 2):
            out.append(item.read() if isinstance(item, RawRecord) else item)  # noqa: PERF401
    except SourceError as e:
        return out, str(e)
    return out, None


def _line(n: int, **changes: object) -> dict[str, Any]:
    return {**json.loads(factory.snapshot_line(n)), **changes}


TRICKY = {
    "escapes and CDATA": (b"<title>", b"<title>A &amp; B &lt;x&gt; <![CDATA[C ]]&gt; <d>]]> "),
    "a carriage return kept as a character reference": (b"<title>", b"<title>a&#13;b\tc "),
    "non-ASCII and astral text": (b"<title>", "<title>\u00e9\u2014\U0001d538 ".encode()),
    "a comment and a PI inside the text": (b"<title>", b"<title>x<!-- c -->y<?pi z?>w "),
    "surrounding whitespace": (b"<abstract>", b"<abstract>\n\n   "),
}


def _tricky(case: str) -> bytes:
    old, new = TRICKY[case]
    record = _raw_record(_line(1)).replace(old, new, 1)
    return OAI_HEAD + record + _raw_record(_line(2)) + OAI_TAIL


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: p.name)
def test_every_sample_reads_the_same_found_here_and_read_there(path: Path) -> None:
    data = path.read_bytes()
    assert _found_then_read(data, path.name) == _whole(data, path.name)


def test_the_samples_do_issue_through_raw_records() -> None:
    """The equality above is not vacuous: arXivRaw pages come as raw records, not parsed."""
    path = DATA / "oai" / "litpuvn_arXivRaw_ListRecords_2016-10-21_prettyprinted.xml"
    items = list(read_blocks(io.BytesIO(path.read_bytes()), "p.xml", 100))
    assert sum(isinstance(i, RawRecord) for i in items) == 387
    assert not any(isinstance(i, SourceMetadata) for i in items)


@pytest.mark.parametrize("case", TRICKY)
def test_text_survives_the_trip_exactly(case: str) -> None:
    data = _tricky(case)
    whole, error = _whole(data, "t.xml")
    assert error is None and [type(i) for i in whole] == [SourceMetadata, SourceMetadata]
    assert _found_then_read(data, "t.xml") == (whole, None)


def test_refusals_read_there_name_the_same_record() -> None:
    bad = _raw_record(_line(1, categories="CS.LG"))
    no_v1 = _raw_record(_line(3)).replace(b'version="v1"', b'version="v7"')
    data = OAI_HEAD + bad + _raw_record(_line(2)) + no_v1 + OAI_TAIL
    whole, _ = _whole(data, "r.xml")
    assert [type(i) for i in whole] == [Refusal, SourceMetadata, Refusal]
    assert _found_then_read(data, "r.xml") == (whole, None)


def test_an_oversized_record_is_refused_while_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_oai, "MAX_RECORD_ELEMENTS", 500)
    record = _raw_record(_line(1))
    at = record.index(b"<title")
    doc = OAI_HEAD + record[:at] + b"<junk>x</junk>" * 1000 + record[at:] + OAI_TAIL
    items = list(read_blocks(io.BytesIO(doc), "big.xml", 10))
    [refusal] = items  # never handed on
    assert isinstance(refusal, Refusal) and "larger than" in refusal.reason


def test_an_error_response_after_records_raises_after_them() -> None:
    error = b'<error code="badArgument">no</error>'
    data = (
        OAI_HEAD
        + _raw_record(_line(1))
        + OAI_TAIL.replace(b"</ListRecords>", b"</ListRecords>" + error, 1)
    )
    found = _found_then_read(data, "e.xml")
    assert found == _whole(data, "e.xml")
    assert found[1] is not None and "badArgument" in found[1]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"<arXivRaw xmlns='http://arxiv.org/OAI/arXivRaw/'><id>1", "unreadable"),
        (b"<arXiv xmlns='http://arxiv.org/OAI/arXiv/'/>", "not an arXivRaw record"),
        (b"<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>", "not an arXivRaw record"),
    ],
    ids=["truncated", "another element", "an entity"],
)
def test_bytes_that_are_not_one_arxivraw_element_are_refused(payload: bytes, reason: str) -> None:
    item = RawRecord("f.xml:9", "1", payload).read()
    assert isinstance(item, Refusal) and item.location == "f.xml:9"
    assert reason in item.reason


def test_xml_issued_by_two_workers_is_what_one_process_issues(
    registry_url: str, tmp_path: Path
) -> None:
    path = DATA / "oai" / "litpuvn_arXivRaw_ListRecords_2016-10-21_prettyprinted.xml"
    rows = []
    for workers, url in ((1, registry_url), (2, f"sqlite:///{tmp_path / 'two.db'}")):
        with open_store(url) as store:
            summary = Issuer(
                store, factory.signer(), lambda: factory.T0, workers=workers, batch_size=50
            ).run([str(path)])
            receipts = [store.receipt(str(r.pith_number)) for r in store.records()]
            rows.append((summary.issued, summary.refused, receipts))
    assert rows[0][0] > 300
    assert rows[0] == rows[1]
