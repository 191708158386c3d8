"""`pith registry copy SRC DST`: exit codes, --json, progress, and a SIGKILL'd copy resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from issuer.store import TABLES, RawTables, open_store
from tests.cli._run import pith, pith_on_terminal
from tests.unit.test_registry_copy import dump, populate


@pytest.fixture
def source(tmp_path: Path) -> str:
    """A populated SQLite registry (a row in every table)."""
    work = tmp_path / "source"
    work.mkdir()
    path = work / "registry.sqlite3"
    populate(str(path), work, papers=6)
    return str(path)


def _copy(home: Path, *args: str) -> Any:
    return pith(home, "registry", "copy", *args)


def test_copy_to_postgresql_prints_counts_sample_and_urls_as_json(
    source: str, pg_url: str, tmp_path: Path
) -> None:
    result = _copy(tmp_path, source, pg_url, "--batch", "3", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    expected = {name: len(r) for name, r in dump(source).items()}
    assert out["source"] == source
    assert out["destination"] == pg_url
    assert {name: t["rows"] for name, t in out["tables"].items()} == expected
    assert {name: t["copied"] for name, t in out["tables"].items()} == expected
    assert out["copied"] == out["rows"] == sum(expected.values())
    assert out["verified_sample"] == len(out["verified_records"]) >= 2
    assert dump(pg_url) == dump(source)


def test_without_json_a_summary_per_table_goes_to_stderr(source: str, tmp_path: Path) -> None:
    result = _copy(tmp_path, source, f"sqlite:{tmp_path / 'copy.sqlite3'}")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "records: " in result.stderr
    assert "sampled bundles byte-identical" in result.stderr


def test_a_password_on_the_command_line_is_refused_and_not_echoed(
    source: str, tmp_path: Path
) -> None:
    result = _copy(tmp_path, source, "postgresql://pith:s3cret-pw@127.0.0.1/db")
    assert result.exit_code == 2
    assert "visible to every user" in result.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr


def test_a_destination_that_is_not_a_prefix_exits_1(source: str, tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite3"
    assert _copy(tmp_path, source, str(other)).exit_code == 0
    small = tmp_path / "small.sqlite3"
    open_store(small).close()
    result = _copy(tmp_path, str(small), str(other))
    assert result.exit_code == 1
    assert "is not a copy of" in result.stderr
    assert "records holds a row the source does not have" in result.stderr


def test_copying_onto_itself_is_a_usage_error(source: str, tmp_path: Path) -> None:
    result = _copy(tmp_path, source, f"sqlite:{source}")
    assert result.exit_code == 2
    assert "onto itself" in result.stderr


def test_a_missing_source_is_not_created(tmp_path: Path) -> None:
    result = _copy(tmp_path, str(tmp_path / "nope.sqlite3"), str(tmp_path / "dst.sqlite3"))
    assert result.exit_code == 3
    assert "no registry at" in result.stderr
    assert not (tmp_path / "nope.sqlite3").exists()


def test_interrupted_copy_says_rerun_and_the_rerun_resumes(
    source: str, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = RawTables.insert
    calls = 0

    def insert(self: RawTables, table: Any, rows: Any) -> None:
        nonlocal calls
        calls += 1
        if calls > 4:
            raise KeyboardInterrupt
        real(self, table, rows)

    with monkeypatch.context() as mp:
        mp.setattr(RawTables, "insert", insert)
        cut = _copy(tmp_path, source, pg_url, "--batch", "2", "--json")
    assert cut.exit_code == 130
    assert "run the same command again to resume" in cut.stderr
    resumed = _copy(tmp_path, source, pg_url, "--batch", "2", "--json")
    assert resumed.exit_code == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    assert sum(t["already"] for t in out["tables"].values()) == 4 * 2
    assert out["copied"] == out["rows"] - 4 * 2
    assert dump(pg_url) == dump(source)


def _rows_in(url: str) -> int:
    with open_store(url) as store:
        tables = RawTables(store)
        return sum(tables.count(t) for t in TABLES)


def test_a_sigkilled_copy_run_again_finishes_and_duplicates_nothing(
    tmp_path: Path, pg_url: str
) -> None:
    work = tmp_path / "big"
    work.mkdir()
    src = str(work / "registry.sqlite3")
    populate(src, work, papers=60)
    total = sum(map(len, dump(src).values()))
    open_store(pg_url).close()  # created and migrated, so that polling it finds the tables
    proc = subprocess.Popen(
        [sys.executable, "-m", "issuer", "registry", "copy", src, pg_url, "--batch", "1"],
        env={**os.environ, "PITH_HOME": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while proc.poll() is None and _rows_in(pg_url) == 0:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    held = _rows_in(pg_url)
    assert held < total, "the copy was killed part-way"
    resumed = _copy(tmp_path, src, pg_url, "--json")
    assert resumed.exit_code == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    assert sum(t["already"] for t in out["tables"].values()) == held
    assert dump(pg_url) == dump(src)


def test_progress_bar_on_a_terminal_and_only_json_on_stdout(source: str, tmp_path: Path) -> None:
    code, out, drawn = pith_on_terminal(
        tmp_path, "registry", "copy", source, str(tmp_path / "copy.sqlite3"), "--json"
    )
    assert code == 0, drawn
    assert json.loads(out)["copied"] > 0
    assert b"copying" in drawn
