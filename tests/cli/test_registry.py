"""``pith issue``, ``resolve``, ``show``, ``event add``, ``bundle`` as an operator runs them.

Every test runs on a SQLite file and on a PostgreSQL database (the ``backend``
fixture). The crash and concurrency tests run the real ``pith`` in subprocesses.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from issuer import registry
from issuer.keys.keyset import KeySet
from issuer.store import open_store
from issuer.verify import verify_bundle
from tests import factory
from tests.cli._run import (
    count_rows,
    on_postgresql,
    pith,
    pith_env,
    pith_on_terminal,
    registry_of,
)
from tests.registry_sql import rows

NOW = "2026-05-17T23:59:22Z"


@pytest.fixture
def home(tmp_path: Path, backend: str) -> Path:
    home = tmp_path / "home"
    made = pith(home, "keys", "generate", "dev-1", "--signer", f"file:{tmp_path / 'dev-1.p8'}")
    assert made.exit_code == 0, made.stderr
    return home


def test_issue_twice_then_resolve_show_event_add_bundle_verify(home: Path, tmp_path: Path) -> None:
    data = factory.snapshot(tmp_path / "in.json", range(1, 6), versions=2)
    first = pith(home, "issue", str(data), "--now", NOW, "--json")
    assert first.exit_code == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["issued"], summary["already_issued"], summary["refused"]) == (5, 0, 0)
    assert "issuing" not in first.stderr  # no progress bar in a pipe

    again = pith(home, "issue", str(data), "--now", NOW)
    assert again.exit_code == 0
    assert "issued 0, already issued 5" in again.stderr

    resolved = pith(home, "resolve", "2401.00003")
    assert resolved.exit_code == 0, resolved.stderr
    found = json.loads(resolved.stdout)
    number = found["unique"]
    assert found["kind"] == "arxiv"
    assert found["candidates"][0]["canonical_record"]["source"]["version"] == 2
    code = number[10:]
    shorts = [f"pith:{code[:n]}" for n in (8, 12, 16)]
    for alias in (number, *shorts, "2401.00003v2", "10.48550/arXiv.2401.00003"):
        out = pith(home, "resolve", alias)
        assert out.exit_code == 0, (alias, out.stderr)
        assert json.loads(out.stdout)["unique"] == number, alias
    missing = pith(home, "resolve", "2401.00003v1")
    assert missing.exit_code == 3 and "not found" in missing.stderr
    bad = pith(home, "resolve", "hello")
    assert bad.exit_code == 2 and "cannot resolve" in bad.stderr

    shown = json.loads(pith(home, "show", number).stdout)
    assert shown["state"]["pith_number"] == number
    assert shown["arxiv_alias_now_points_to"] == [number]

    payload = tmp_path / "payload.json"
    payload.write_text('{"orcid": "0000-0002-1825-0097"}')
    added = [
        pith(
            home, "event", "add", number, "--type", "author_attestation", "--payload", str(payload)
        )
        for _ in range(2)
    ]
    assert [a.exit_code for a in added] == [0, 0], added[0].stderr
    one, two = (json.loads(a.stdout) for a in added)
    assert one["prev_event"] is None and two["prev_event"] == one["event_id"]

    out = tmp_path / "bundle.json"
    built = pith(home, "bundle", number, "-o", str(out))
    assert built.exit_code == 0, built.stderr
    bundle = json.loads(out.read_bytes())
    assert len(bundle["events"]) == 3
    verify_bundle(bundle, KeySet.load(home / "keys"))
    ok = pith(home, "verify", str(out), "--keys", str(home / "keys"))
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    untrusted = pith(home, "verify", str(out))  # the dev key is not trusted by default
    assert untrusted.exit_code == 1


def test_refused_records_go_to_the_rejects_file(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "in.json"
    data.write_bytes(factory.snapshot_line(1) + b"{not json\n" + factory.snapshot_line(2))
    result = pith(home, "issue", str(data), "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert (summary["issued"], summary["refused"]) == (2, 1)
    [line] = Path(summary["rejects_file"]).read_text().splitlines()
    reject = json.loads(line)
    assert reject["location"] == f"{data}:2" and reject["reason"]


def test_ambiguous_short_form_names_every_candidate(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory.force_code_prefix(monkeypatch, "SAMESAME")
    data = factory.snapshot(tmp_path / "in.json", range(1, 3))
    issued = pith(home, "issue", str(data), "--workers", "1", "--json")
    assert json.loads(issued.stdout)["short_alias_collisions"] == 2
    result = pith(home, "resolve", "pith:SAMESAME")
    assert result.exit_code == 1
    numbers = [c["pith_number"] for c in json.loads(result.stdout)["candidates"]]
    assert len(numbers) == 2
    assert all(n in result.stderr for n in numbers) and "ambiguous" in result.stderr


def test_unknown_record_and_bad_payload_are_clear_errors(home: Path, tmp_path: Path) -> None:
    data = factory.snapshot(tmp_path / "in.json", range(1, 2))
    assert pith(home, "issue", str(data)).exit_code == 0
    unknown = pith(home, "show", "pith:2024:AAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert unknown.exit_code == 3 and "no record" in unknown.stderr
    number = json.loads(pith(home, "resolve", "2401.00001").stdout)["unique"]
    payload = tmp_path / "p.json"
    payload.write_text('{"a": 1.5}')
    floats = pith(
        home, "event", "add", number, "--type", "author_attestation", "--payload", str(payload)
    )
    assert floats.exit_code == 1 and str(payload) in floats.stderr
    payload.write_text('{"a": 1}')
    wrong = pith(
        home, "event", "add", number, "--type", "record_created", "--payload", str(payload)
    )
    assert wrong.exit_code == 2 and "cannot add" in wrong.stderr


# -- real processes ------------------------------------------------------------


def _spawn(home: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "issuer", "issue", *args, "--json"],
        env={**os.environ, **pith_env(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _check_registry(home: Path, expected: int) -> None:
    """Every record complete, none twice, one record_created each, no forked chain."""
    if not on_postgresql():
        db = sqlite3.connect(home / "registry.sqlite3")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
    keys = KeySet.load(home / "keys")
    with open_store(registry_of(home), must_exist=True) as store:
        [(count, sources)] = rows(store, "SELECT COUNT(*), COUNT(DISTINCT source_id) FROM records")
        assert (count, sources) == (expected, expected)
        per_record = rows(
            store,
            "SELECT COUNT(*) FROM records r LEFT JOIN events e ON e.record_id=r.id "
            "AND e.event_type='record_created' GROUP BY r.id HAVING COUNT(e.id) != 1",
        )
        assert per_record == []
        [(current,)] = rows(store, "SELECT COUNT(*) FROM arxiv_alias WHERE until IS NULL")
        assert current == expected
        for issued in list(store.records())[:: max(1, expected // 25)]:
            [created] = store.events(issued.pith_number)
            assert created["payload"]["receipt"] == store.receipt(issued.pith_number)
            built = registry.bundle(
                store, issued.pith_number, factory.signer(), factory.T0, factory.BASE_URL
            )
            verify_bundle(built, keys.merged(KeySet([factory.signer().public_key])))


def test_two_issuers_on_one_registry_neither_duplicate_nor_fork(home: Path, tmp_path: Path) -> None:
    data = factory.snapshot(tmp_path / "in.json", range(1, 3001))
    procs = [_spawn(home, str(data), "--workers", "1") for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [r[1][-2000:] for r in results]
    summaries = [json.loads(out) for out, _ in results]
    assert sum(s["issued"] for s in summaries) == 3000
    assert all(s["issued"] + s["already_issued"] == 3000 for s in summaries)
    _check_registry(home, 3000)


def _records_committed(home: Path) -> int:
    """How many records a running issuer has committed (0 before the registry exists)."""
    return count_rows(registry_of(home), "records")


@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun_loses_and_duplicates_nothing(
    home: Path, tmp_path: Path
) -> None:
    """Four runs, each SIGKILLed at a random point that is sure to fall mid-run.

    The points are counts of committed records, observed by polling the
    registry, never wall-clock delays: each run is killed once it has
    committed a random 200-2,000 records more than the last one left, so every
    kill lands while the run still has thousands of records to go, however
    fast or slow the machine. The seed (PITH_KILL_SEED to replay) is in every
    failure message.
    """
    total = 12_000
    data = factory.snapshot(tmp_path / "in.json", range(1, total + 1))
    seed = int(os.environ.get("PITH_KILL_SEED", time.time_ns()))
    rng = random.Random(seed)  # noqa: S311 - a test schedule, not a secret
    kills = 0
    for workers in ("1", "2", "2", "1"):
        before = _records_committed(home)
        target = before + rng.randint(200, 2000)
        proc = _spawn(home, str(data), "--workers", workers)
        while proc.poll() is None and _records_committed(home) < target:
            time.sleep(0.005)
        assert proc.poll() is None, f"seed {seed}: run ended before {target} records"
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        kills += 1
        after = _records_committed(home)
        assert target <= after < total, f"seed {seed}: {before} -> {after} records"
    assert kills == 4
    final = _spawn(home, str(data))
    out, err = final.communicate(timeout=600)
    assert final.returncode == 0, err[-2000:]
    summary = json.loads(out)
    assert summary["issued"] + summary["already_issued"] == total
    assert summary["already_issued"] >= 800  # what the killed runs committed was kept
    _check_registry(home, total)


def test_progress_bar_on_a_terminal_and_clean_json_on_stdout(home: Path, tmp_path: Path) -> None:
    data = factory.snapshot(tmp_path / "in.json", range(1, 1501))
    code, out, drawn = pith_on_terminal(home, "issue", str(data), "--workers", "1", "--json")
    assert code == 0, drawn[-2000:]
    assert json.loads(out)["issued"] == 1500  # stdout holds the summary only
    assert b"issuing" in drawn and b"1,500 issued" in drawn
