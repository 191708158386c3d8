"""``pith verify``: human and JSON output, exit codes, trust only from the verifier's keys."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from issuer.cli import app
from tests.conftest import BUNDLE_PATH

runner = CliRunner()
CASES = Path(__file__).parents[1] / "conformance" / "bundles"


def test_real_bundle_verifies_with_shipped_keys_only() -> None:
    result = runner.invoke(app, ["verify", str(BUNDLE_PATH)])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(f"OK: {BUNDLE_PATH} (pith:2018:AH5S4WE2T4KISLKPOBTLFWQMX3)")
    assert result.stdout == ""


def test_json_output_has_stable_reasons() -> None:
    bad = CASES / "real_title_hash_changed_fail" / "bundle.json"
    result = runner.invoke(app, ["verify", "--json", str(BUNDLE_PATH), str(bad)])
    assert result.exit_code == 1
    good, failed = (json.loads(line) for line in result.stdout.splitlines())
    assert good["ok"] is True and [c["step"] for c in good["checks"]][-1] == "bundle_signature"
    assert (
        good["state_sha256"] == "3ee013dd50c4cf270909ffe87ec9bc584ce786cca864d26d756ec8bbc4003a6b"
    )
    assert failed["ok"] is False and failed["reason"] == "canonical_sha256_mismatch"
    assert failed["checks"][-1] == {
        "step": "canonical_record",
        "ok": False,
        "reason": "canonical_sha256_mismatch",
        "message": failed["message"],
    }
    assert f"FAIL: {bad}: canonical_record: canonical_sha256_mismatch" in result.stderr


def test_keys_option_adds_trust_and_bundle_keys_are_only_hints(tmp_path: Path) -> None:
    case = CASES / "test_key_issued"
    without = runner.invoke(app, ["verify", str(case / "bundle.json")])
    assert without.exit_code == 1 and "unknown_key" in without.stderr
    with_file = runner.invoke(
        app, ["verify", "--keys", str(case / "keys.json"), str(case / "bundle.json")]
    )
    assert with_file.exit_code == 0, with_file.stderr
    keydir = tmp_path / "keys"
    keydir.mkdir()
    shutil.copy(case / "keys.json", keydir / "test.json")
    assert (
        runner.invoke(app, ["verify", "--keys", str(keydir), str(case / "bundle.json")]).exit_code
        == 0
    )


def test_directories_and_stdin(tmp_path: Path) -> None:
    folder = tmp_path / "bundles" / "nested"
    folder.mkdir(parents=True)
    shutil.copy(BUNDLE_PATH, folder / "a.json")
    shutil.copy(BUNDLE_PATH, tmp_path / "bundles" / "b.json")
    result = runner.invoke(app, ["verify", str(tmp_path / "bundles")])
    assert result.exit_code == 0 and result.stderr.count("OK:") == 2
    piped = runner.invoke(app, ["verify", "-"], input=BUNDLE_PATH.read_bytes())
    assert piped.exit_code == 0 and "OK: <stdin>" in piped.stderr


def test_unreadable_input_exits_2_and_the_rest_is_still_checked(tmp_path: Path) -> None:
    result = runner.invoke(app, ["verify", str(tmp_path / "missing.json"), str(BUNDLE_PATH)])
    assert result.exit_code == 2
    assert "cannot read" in result.stderr and "OK:" in result.stderr


def test_bad_keys_file_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "k.json"
    bad.write_text("{}")
    result = runner.invoke(app, ["verify", "--keys", str(bad), str(BUNDLE_PATH)])
    assert result.exit_code == 2 and "--keys" in result.stderr


def test_an_input_over_the_document_limit_is_refused_and_the_others_checked(
    tmp_path: Path,
) -> None:
    from issuer.cjson import MAX_DOCUMENT_BYTES

    huge = tmp_path / "huge.json"
    with huge.open("wb") as f:
        f.truncate(MAX_DOCUMENT_BYTES + 1)  # sparse: nothing is written to disk
    result = runner.invoke(app, ["verify", str(huge), str(BUNDLE_PATH)])
    assert result.exit_code == 1
    assert f"FAIL: {huge}" in result.stderr and "more than" in result.stderr
    assert f"OK: {BUNDLE_PATH}" in result.stderr
    piped = runner.invoke(app, ["verify", "-"], input=b" " * (MAX_DOCUMENT_BYTES + 1))
    assert piped.exit_code == 1 and "more than" in piped.stderr


def _many(tmp_path: Path, count: int) -> tuple[Path, list[Path]]:
    """``tmp_path/many`` holding the first ``count`` conformance cases' bundles, numbered."""
    folder = tmp_path / "many"
    folder.mkdir()
    cases = sorted(p for p in CASES.iterdir() if (p / "bundle.json").is_file())[:count]
    for i, case in enumerate(cases):
        shutil.copy(case / "bundle.json", folder / f"{i:03d}.json")
    return folder, cases


def test_a_chunks_ok_lines_are_written_together_as_they_would_be_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from issuer.cli import _verify
    from issuer.cli._output import note
    from issuer.verify import _batch

    folder, _ = _many(tmp_path, 16)
    for i in range(16, 40):  # runs of valid bundles, so that chunks hold several OK lines
        shutil.copy(BUNDLE_PATH, folder / f"{i:03d}.json")
    notes: list[str] = []

    def counted(text: str) -> None:
        notes.append(text)
        note(text)

    monkeypatch.setattr(_verify, "note", counted)
    monkeypatch.setattr(_batch, "_PER_JOB", 4)  # small windows: the pool starts at once
    monkeypatch.setattr(_batch, "_CHUNK", 4)
    serial = runner.invoke(app, ["verify", "--jobs", "1", str(folder)])
    assert len(notes) == serial.stderr.count("OK: ")  # one at a time
    notes.clear()
    parallel = runner.invoke(app, ["verify", "--jobs", "2", str(folder)])
    assert serial.exit_code == parallel.exit_code == 1  # some cases are forgeries
    assert parallel.stderr == serial.stderr
    assert len(notes) < parallel.stderr.count("OK: ")  # several lines to a call
    quiet = runner.invoke(app, ["--quiet", "verify", "--jobs", "2", str(folder)])
    assert "OK: " not in quiet.stderr
    assert quiet.stderr == "".join(
        line for line in serial.stderr.splitlines(keepends=True) if not line.startswith("OK: ")
    )


def test_jobs_give_the_same_results_in_the_same_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import ProcessPoolExecutor

    from issuer.verify import _batch

    folder, cases = _many(tmp_path, 24)
    pools: list[int] = []

    class CountedPool(ProcessPoolExecutor):
        def __init__(self, workers: int, **kwargs: object) -> None:
            pools.append(workers)
            super().__init__(workers, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(_batch, "ProcessPoolExecutor", CountedPool)
    monkeypatch.setattr(_batch, "_PER_JOB", 3)  # small windows: the pool starts at once
    serial = runner.invoke(app, ["verify", "--json", "--jobs", "1", str(folder)])
    assert pools == []
    parallel = runner.invoke(app, ["verify", "--json", "--jobs", "2", str(folder)])
    assert pools == [2]
    assert serial.exit_code == parallel.exit_code == 1  # some cases are forgeries
    assert serial.stdout == parallel.stdout and serial.stderr == parallel.stderr
    sources = [json.loads(line)["source"] for line in parallel.stdout.splitlines()]
    assert sources == sorted(sources) and len(sources) == len(cases)
