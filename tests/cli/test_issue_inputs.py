"""``pith issue`` and ``pith derive`` on hostile and refused inputs (issues 12 §5, 13 §6).

Every refusal is one ``refused:`` line (a feed that cannot issue at all: one
line for the file, counting its entries), and the summary adds them up.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from tests import factory
from tests.cli._run import pith
from tests.conftest import SAMPLES

NOW = "2026-05-17T23:59:22Z"
ATOM_100 = SAMPLES / "atom/arxivpy_q_testing_s0_m100_cfe7536492ca.body.xml"
OAI_ARXIV = SAMPLES / "oai/hepcrawl_arXiv_arxiv-physics-hep-ex.xml"
_ENTRIES = re.compile(r"^refused: .*?: ([0-9]+) entr(?:y|ies): ")
_SUMMARY = re.compile(r"refused ([0-9]+) ")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    made = pith(home, "keys", "generate", "dev-1", "--signer", f"file:{tmp_path / 'dev-1.p8'}")
    assert made.exit_code == 0, made.stderr
    return home


def _line(n: int, **changes: object) -> bytes:
    data = json.loads(factory.snapshot_line(n))
    data.update(changes)
    return json.dumps(data).encode() + b"\n"


def _corrupt_gzip(path: Path) -> Path:
    """A gzip file larger than what readers look at first, one byte flipped in the middle."""
    lines = (
        factory.snapshot_line(n, title=hashlib.sha256(bytes(n)).hexdigest())
        for n in range(100, 3100)
    )
    good = gzip.compress(b"".join(lines), mtime=0)
    middle = len(good) // 2
    path.write_bytes(good[:middle] + bytes([good[middle] ^ 0xFF]) + good[middle + 1 :])
    return path


def _refused_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("refused: ")]


def _added_up(lines: list[str]) -> int:
    return sum(int(m.group(1)) if (m := _ENTRIES.match(line)) else 1 for line in lines)


def test_summary_counts_every_refusal_including_unreadable_inputs(
    home: Path, tmp_path: Path
) -> None:
    snapshot = tmp_path / "mixed.json"
    snapshot.write_bytes(
        _line(1)
        + b"{not json\n"
        + _line(2, categories="CS.LG")
        + _line(3)
        + b'{"id": 1, "id": 2}\n'
    )
    corrupt = _corrupt_gzip(tmp_path / "damaged.json.gz")
    shutil.copy(ATOM_100, tmp_path / "feed.xml")
    missing = tmp_path / "missing.json"
    result = pith(
        home,
        "issue",
        str(snapshot),
        str(corrupt),
        str(tmp_path / "feed.xml"),
        str(missing),
        str(OAI_ARXIV),
        "--now",
        NOW,
    )
    assert result.exit_code == 2, result.stderr  # an input could not be read
    lines = _refused_lines(result.stderr)
    # 3 snapshot lines, the damaged file, the feed (one line), the missing file, the OAI page.
    assert len(lines) == 7, lines
    [summary] = [line for line in result.stderr.splitlines() if line.startswith("issued ")]
    match = _SUMMARY.search(summary)
    assert match is not None, summary
    assert int(match.group(1)) == _added_up(lines) == 3 + 1 + 100 + 1 + 3, (summary, lines)
    assert "issued 2," in summary
    assert "106 records, 2 inputs" in summary
    assert any(f"{corrupt}: cannot read: corrupt gzip data" in line for line in lines)
    assert any(f"{missing}: cannot read" in line for line in lines)

    again = pith(home, "issue", str(snapshot), str(corrupt), "--now", NOW, "--json")
    assert again.exit_code == 2
    report = json.loads(again.stdout)
    assert (report["issued"], report["already_issued"]) == (0, 2)
    assert (report["refused"], report["refusals"]) == (3, 4)
    assert report["failed_inputs"] == [str(corrupt)]
    rejects = [json.loads(x) for x in Path(report["rejects_file"]).read_text().splitlines()]
    assert sum(r["count"] for r in rejects) == 106 + 2 + 4  # both runs, each reject counted


def test_a_feed_that_cannot_issue_gets_one_line_for_the_file(home: Path) -> None:
    result = pith(home, "issue", str(ATOM_100), "--now", NOW)
    assert result.exit_code == 1
    [line] = _refused_lines(result.stderr)
    assert line.startswith(
        f"refused: {ATOM_100}: 100 entries: arXiv API Atom feed cannot issue: "
        "it has no license element"
    )
    assert "refused 100 (100 records;" in result.stderr


def test_damaged_gzip_is_unreadable_and_the_other_files_still_issue(
    home: Path, tmp_path: Path
) -> None:
    good = factory.snapshot(tmp_path / "good.json", range(1, 4))
    corrupt = _corrupt_gzip(tmp_path / "damaged.json.gz")
    truncated = tmp_path / "truncated.json.gz"
    truncated.write_bytes(gzip.compress(factory.snapshot_line(70), mtime=0)[:-10])
    result = pith(home, "issue", str(corrupt), str(truncated), str(good), "--now", NOW, "--json")
    assert result.exit_code == 2, result.stderr
    report = json.loads(result.stdout)
    assert report["issued"] == 3  # nothing from the damaged files, all of the good one
    assert report["failed_inputs"] == [str(corrupt), str(truncated)]
    for path in (corrupt, truncated):
        assert pith(home, "resolve", "2401.00100" if path == corrupt else "2401.00070").exit_code


def test_derive_exits_2_naming_a_damaged_gzip_and_derives_the_rest(tmp_path: Path) -> None:
    good = factory.snapshot(tmp_path / "good.json", range(1, 3))
    corrupt = _corrupt_gzip(tmp_path / "damaged.json.gz")
    result = pith(tmp_path / "home", "derive", "--now", NOW, str(corrupt), str(good))
    assert result.exit_code == 2
    assert len(result.stdout.splitlines()) == 2
    assert f"{corrupt}: cannot read: corrupt gzip data" in result.stderr


def test_a_record_the_verifier_would_refuse_is_refused_at_issue(home: Path, tmp_path: Path) -> None:
    """A malformed category used to be issued, and then broke ``pith publish``."""
    data = tmp_path / "in.json"
    data.write_bytes(
        _line(1, categories="cs.LG Bad!")
        + _line(2, versions=[{"version": "v1", "created": "Mon, 1 Jan 0999 00:00:00 GMT"}])
        + _line(3, versions=[{"version": f"v{2**53}", "created": "Mon, 1 Jan 2024 00:00:00 GMT"}])
        + _line(4)
    )
    result = pith(home, "issue", str(data), "--now", NOW)
    assert result.exit_code == 1, result.stderr
    lines = _refused_lines(result.stderr)
    assert [line.split(": ", 2)[1] for line in lines] == [f"{data}:1", f"{data}:2", f"{data}:3"]
    assert "not a category: 'Bad!'" in lines[0]
    assert "issued 1," in result.stderr
    published = pith(
        home, "publish", str(tmp_path / "site"), "--base-url", "https://registry.example"
    )
    assert published.exit_code == 0, published.stderr


def test_a_path_that_cannot_even_be_looked_at_is_refused_and_the_rest_issues(
    home: Path, tmp_path: Path
) -> None:
    """A name too long to stat used to stop ``pith issue`` before any input was read."""
    good = factory.snapshot(tmp_path / "good.json", range(1, 3))
    too_long = str(tmp_path / ("x" * 300))
    result = pith(home, "issue", too_long, str(good), "--now", NOW, "--json")
    assert result.exit_code == 2, result.stderr
    report = json.loads(result.stdout)
    assert report["issued"] == 2
    assert report["failed_inputs"] == [too_long]
    assert f"refused: {too_long}: cannot read: File name too long" in result.stderr
