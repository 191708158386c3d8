"""``pith derive``: output shape, stdout/stderr split, exit codes, reproducibility."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from issuer import cjson
from issuer.cli import app
from tests.conftest import SAMPLES

runner = CliRunner()
GET_RECORD = str(SAMPLES / "oai/arXivOAIHarvester_arXivRaw_GetRecordResponse.xml")
KERMITT = str(SAMPLES / "kaggle/kermitt2_arxiv_harvester_test_metadata_file_d7ad31f.json")
VARIANT = str(
    SAMPLES
    / "kaggle/kermitt2_arxiv_harvester_test_metadata_file_f3d78c8_public-datasets-variant.json"
)
NOW = "2026-05-17T23:59:22Z"


def test_derive_prints_one_canonical_json_object_per_record() -> None:
    result = runner.invoke(app, ["derive", "--now", NOW, GET_RECORD, KERMITT])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 7
    for line in lines:
        obj = json.loads(line)
        assert set(obj) == {
            "pith_number",
            "short_pith_number",
            "canonical_sha256",
            "canonical_record",
            "source_aliases",
        }
        assert cjson.dumps(obj) == line.encode()
        assert cjson.sha256_hex(obj["canonical_record"]) == obj["canonical_sha256"]
        assert [a["created_at"] for a in obj["source_aliases"]] == [NOW] * 6
    assert "derived 7, refused 0" in result.stderr


def test_refusals_go_to_stderr_with_location_and_exit_1() -> None:
    result = runner.invoke(app, ["derive", "--now", NOW, VARIANT, GET_RECORD])
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1  # the good file still derived
    assert f"{VARIANT}:5 (math/9201201): this is the arxiv-public-datasets layout" in result.stderr


def test_unreadable_input_exits_2_and_the_rest_goes_on(tmp_path: Path) -> None:
    result = runner.invoke(app, ["derive", str(tmp_path / "missing.json"), GET_RECORD])
    assert result.exit_code == 2
    assert "missing.json: cannot read" in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_refused_format_exits_1() -> None:
    result = runner.invoke(app, ["derive", str(SAMPLES / "oai/hepcrawl_arXiv_arxiv-single.xml")])
    assert result.exit_code == 1
    assert "metadataPrefix=arXiv cannot issue" in result.stderr
    assert result.stdout == ""


def test_stdin_and_dash() -> None:
    data = Path(KERMITT).read_bytes()
    for args in (["derive", "--now", NOW], ["derive", "--now", NOW, "-"]):
        result = runner.invoke(app, args, input=data)
        assert result.exit_code == 0, result.stderr
        assert len(result.stdout.splitlines()) == 6


def test_output_is_reproducible_with_now_and_source_date_epoch() -> None:
    a = runner.invoke(app, ["derive", "--now", "1779062362", KERMITT])
    b = runner.invoke(app, ["derive", KERMITT], env={"SOURCE_DATE_EPOCH": "1779062362"})
    assert a.exit_code == b.exit_code == 0
    assert a.stdout == b.stdout
    assert '"created_at":"2026-05-17T23:59:22Z"' in a.stdout


@pytest.mark.parametrize("bad", ["yesterday", "2026-05-17T23:59:22"])
def test_bad_now_is_a_clear_error(bad: str) -> None:
    result = runner.invoke(app, ["derive", "--now", bad, KERMITT])
    assert result.exit_code == 2
    assert "--now" in result.stderr and "Z" in result.stderr


def test_installed_script_runs_and_help_needs_no_extras() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "issuer", "derive", "--now", NOW, GET_RECORD],
        capture_output=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["pith_number"].startswith("pith:2013:")
    helped = subprocess.run(
        [sys.executable, "-m", "issuer", "--help"], capture_output=True, check=False
    )
    assert helped.returncode == 0 and b"derive" in helped.stdout
