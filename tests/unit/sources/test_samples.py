"""Every real arXiv sample file is read: it derives, or is refused for its documented reason."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import pytest

from issuer.derive import derive
from issuer.errors import SourceError, UnreadableInputError
from issuer.sources import Item, Notice, Refusal, SourceMetadata, read
from tests.conftest import SAMPLES

NEW_API = "converts TeX to Unicode"
NO_LICENSE = "no license element"


@dataclass(frozen=True)
class Expect:
    """What reading a sample must give."""

    derived: int = 0
    refused: int = 0  # records refused, counting the entries a whole-file refusal stands for
    whole_file: bool = False  # a format that cannot issue: refused per file, not per record
    refusal_has: tuple[str, ...] = ()
    refusal_lacks: tuple[str, ...] = ()
    error: str | None = None
    notice: str | None = None


# Patterns are tried in order; the first match decides. Every file must match one.
EXPECTATIONS: list[tuple[str, Expect]] = [
    ("atom/arxivpy_id_abc_*.body.xml", Expect(error="arXiv API error feed: incorrect id format")),
    ("atom/*.json", Expect(error="JSON document spread over several lines")),
    ("atom/*.txt", Expect(error="not arXiv metadata")),
    (
        "atom/rsxiv_legacy_2025-08_query_missing_id.xml",
        Expect(refused=4, refusal_has=("Atom",), whole_file=True),
    ),
    (
        "atom/rsxiv_legacy_2025-08_query_empty.xml",
        Expect(refused=1, refusal_has=(NO_LICENSE, "no entries"), refusal_lacks=(NEW_API,)),
    ),
    (
        "atom/arxivpy_2016_search_del_maestro.xml",
        Expect(refused=10, refusal_has=(NO_LICENSE,), refusal_lacks=(NEW_API,), whole_file=True),
    ),
    (
        "atom/arxivpy_2016_search_del_maestro_ANDNOT_*.xml",
        Expect(refused=10, refusal_has=(NO_LICENSE,), refusal_lacks=(NEW_API,), whole_file=True),
    ),
    (
        "atom/arxivpy_2016_search_del_maestro_AND_checkerboard.xml",
        Expect(refused=1, refusal_has=(NO_LICENSE,), refusal_lacks=(NEW_API,), whole_file=True),
    ),
    (
        "atom/arxivpy_2016_search_del_maestro_AND_quantum_criticality.xml",
        Expect(refused=2, refusal_has=(NO_LICENSE,), refusal_lacks=(NEW_API,), whole_file=True),
    ),
    (
        "atom/arxivpy_2016_id_list_1111.2011v2.xml",
        Expect(refused=1, refusal_has=(NO_LICENSE,), refusal_lacks=(NEW_API,), whole_file=True),
    ),
    (
        "atom/rsxiv_legacy_2025-08_query_electron_proton.xml",
        Expect(refused=10, refusal_has=(NO_LICENSE,), refusal_lacks=(NEW_API,), whole_file=True),
    ),
    (
        "atom/arxivpy_q_testing_*.body.xml",
        Expect(refused=100, refusal_has=(NO_LICENSE, NEW_API), whole_file=True),
    ),
    (
        "atom/arxivpy_id_0000.0000_*.body.xml",
        Expect(refused=1, refusal_has=(NEW_API, "no entries")),
    ),
    (
        "atom/arxivpy_id_0808.05394_s0_*.body.xml",
        Expect(refused=1, refusal_has=(NEW_API, "no entries")),
    ),
    (
        "atom/rsxiv_new_2025-11_query_empty.xml",
        Expect(refused=1, refusal_has=(NEW_API, "no entries")),
    ),
    (
        "atom/rsxiv_new_2025-11_query_electron_proton.xml",
        Expect(refused=10, refusal_has=(NO_LICENSE, NEW_API), whole_file=True),
    ),
    (
        "atom/rsxiv_new_2025-11_query_missing_id.xml",
        Expect(refused=1, refusal_has=(NO_LICENSE, NEW_API), whole_file=True),
    ),
    (
        "atom/arxivpy_id_*.body.xml",
        Expect(refused=1, refusal_has=(NO_LICENSE, NEW_API), whole_file=True),
    ),
    (
        "kaggle/*public-datasets-variant.json",
        Expect(refused=6, refusal_has=("arxiv-public-datasets layout",)),
    ),
    ("kaggle/*head200*.json", Expect(derived=200)),
    ("kaggle/kermitt2_*_d7ad31f.json", Expect(derived=6)),
    ("oai/*ErrorResponseNoRecordsMatch.xml", Expect(notice="noRecordsMatch")),
    ("oai/*ErrorResponseBadArgument.xml", Expect(error="OAI-PMH error response badArgument")),
    ("oai/*ErrorResponseBadResumptionToken.xml", Expect(error="badResumptionToken")),
    ("oai/*ErrorResponseBadVerb.xml", Expect(error="badVerb")),
    ("oai/*ErrorResponseIdDoesNotExist.xml", Expect(error="idDoesNotExist")),
    ("oai/arXivOAIHarvester_arXivRaw_GetRecordResponse.xml", Expect(derived=1)),
    (
        "oai/arXivOAIHarvester_arXivRaw_ListRecordsResponse.xml",
        Expect(derived=6, notice="resumptionToken=726959|1001 (cursor 0 of 58011)"),
    ),
    (
        "oai/litpuvn_arXivRaw_ListRecords_*.xml",
        Expect(derived=387, notice="resumptionToken=1403493|1001"),
    ),
    ("oai/litpuvn_arXivRaw_GetRecord_*.xml", Expect(derived=1)),
    (
        "oai/hepcrawl_arXiv_arxiv-physics-*.xml",
        Expect(
            refused=3,
            refusal_has=("metadataPrefix=arXiv", "no v1 submission time", "TeX"),
            whole_file=True,
        ),
    ),
    (
        "oai/hepcrawl_*.xml",
        Expect(
            refused=1,
            refusal_has=("metadataPrefix=arXiv", "no v1 submission time"),
            whole_file=True,
        ),
    ),
]

SAMPLE_FILES = sorted(
    str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*") if p.is_file() and p.name != "README.md"
)


def _expectation(name: str) -> Expect:
    for pattern, expect in EXPECTATIONS:
        if fnmatch.fnmatch(name, pattern):
            return expect
    raise AssertionError(f"no expectation for sample {name}: add one, never skip a file")


def test_there_are_samples() -> None:
    assert len(SAMPLE_FILES) >= 60


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_sample(name: str) -> None:
    expect = _expectation(name)
    items: list[Item] = []
    error: SourceError | None = None
    try:
        items.extend(read(SAMPLES / name))
    except SourceError as e:
        error = e
    if expect.error:
        assert error is not None, f"{name} should have been refused as a whole"
        assert not isinstance(error, UnreadableInputError)
        assert expect.error in error.diagnostics()
        assert name.rsplit("/", maxsplit=1)[-1] in error.diagnostics()  # names the file
        return
    assert error is None, error.diagnostics()
    derived = [i for i in items if isinstance(i, SourceMetadata)]
    refused = [i for i in items if isinstance(i, Refusal)]
    notices = [str(i) for i in items if isinstance(i, Notice)]
    assert (len(derived), sum(r.count for r in refused)) == (expect.derived, expect.refused)
    for refusal in refused:
        for text in expect.refusal_has:
            assert text in refusal.reason
        for text in expect.refusal_lacks:
            assert text not in refusal.reason
        assert refusal.location.startswith(str(SAMPLES / name))
        if expect.whole_file:  # one line for the file (per distinct reason), not one per entry
            assert refusal.location == str(SAMPLES / name)
            assert refusal.entries is not None
            assert str(refusal).startswith(f"{SAMPLES / name}: {refusal.entries} entr")
    if expect.whole_file:
        assert len({r.reason for r in refused}) == len(refused)
    if expect.notice:
        assert any(expect.notice in n for n in notices), notices
    for meta in derived:
        d = derive(meta, meta.submitted_at)
        assert str(d.number).startswith(f"pith:{meta.submitted_at.year}:")


def _by_id(path: Path) -> dict[str, SourceMetadata]:
    return {m.arxiv_id: m for m in read(path) if isinstance(m, SourceMetadata)}


def test_snapshot_escaped_and_raw_utf8_lines_give_identical_records() -> None:
    """The 2023 snapshot escapes non-ASCII as \\u; the 2025 one has raw UTF-8 on some lines."""
    old = _by_id(SAMPLES / "kaggle/wanng-ide_arxivSpider_mnbvc_snapshot_head200_2023.json")
    new = _by_id(SAMPLES / "kaggle/Sharath-1736_Embedding-VecSearch_snapshot_head200_2025.json")
    raw_lines = (
        SAMPLES / "kaggle/Sharath-1736_Embedding-VecSearch_snapshot_head200_2025.json"
    ).read_bytes()
    assert any(b > 0x7F for b in raw_lines), "the 2025 sample should carry raw UTF-8"
    assert old.keys() == new.keys()
    assert len(old) == 200
    for key in old:
        a, b = derive(old[key], old[key].submitted_at), derive(new[key], new[key].submitted_at)
        assert a.to_dict() == b.to_dict(), key


def test_edge_cases_in_the_samples() -> None:
    raw = _by_id(SAMPLES / "oai/arXivOAIHarvester_arXivRaw_ListRecordsResponse.xml")
    paper = raw["0704.0471"]
    assert paper.license is None  # no <license> element → null
    assert paper.dois == ("10.1103/PhysRevC.76.024606", "10.1103/PhysRevC.76.039902")
    assert paper.submitted_at.isoformat() == "2007-04-03T22:04:11+00:00"  # 'Tue, 3 Apr 2007'
    assert '" stiff "' in paper.abstract  # &quot; decoded
    assert sum(m.license is None for m in raw.values()) == 4

    kermitt = _by_id(SAMPLES / "kaggle/kermitt2_arxiv_harvester_test_metadata_file_d7ad31f.json")
    old_style = kermitt["math/9201201"]
    assert derive(old_style, old_style.submitted_at).aliases[1]["alias_value"] == "math/9201201v1"
    withdrawn = kermitt["0801.0495"]
    assert withdrawn.version == 3
    assert withdrawn.abstract.strip().startswith("A referee found an error")

    litpuvn = _by_id(SAMPLES / "oai/litpuvn_arXivRaw_ListRecords_2016-10-21_prettyprinted.xml")
    assert litpuvn["0803.4354"].version >= 2  # withdrawn: later version of size 0kb
    assert max(m.version for m in litpuvn.values()) >= 13
