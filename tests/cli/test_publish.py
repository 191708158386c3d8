"""``pith publish`` and ``pith verify URL`` / ``--mirror``, through a real HTTP server.

What reads the registry runs on a SQLite file and on a PostgreSQL database
(the ``backend`` fixture).
"""

from __future__ import annotations

import html
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from issuer import cjson
from issuer.errors import EXIT_OPERATIONAL, NetworkError
from issuer.fetch import fetch
from issuer.keys.keyset import KeySet
from issuer.publish import BATCH
from issuer.store import open_store
from issuer.verify import verify_bundle
from tests import factory
from tests.cli._run import count_rows, pith, pith_env, registry_of, sqlite_only
from tests.registry_sql import execute

BASE = "https://mirror.example"


@pytest.fixture
def home(tmp_path: Path, backend: str) -> Path:
    """A registry of three records, one with a second event."""
    home = tmp_path / "home"
    made = pith(home, "keys", "generate", "dev-1", "--signer", f"file:{tmp_path / 'k.p8'}")
    assert made.exit_code == 0, made.stderr
    data = factory.snapshot(tmp_path / "in.json", range(1, 4))
    assert pith(home, "issue", str(data), "--workers", "1").exit_code == 0
    return home


def _number(home: Path, arxiv_id: str) -> str:
    return str(json.loads(pith(home, "resolve", arxiv_id).stdout)["unique"])


def test_publish_writes_the_layout_and_every_bundle_verifies(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = pith(home, "publish", str(out), "--base-url", BASE, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["records"], summary["written"], summary["unchanged"]) == (3, 3, 0)
    keys = KeySet.load(out / "pith-signing-key.json")
    assert [k.key_id for k in keys] == ["dev-1"]
    for code_dir in sorted((out / "pith").iterdir()):
        code = code_dir.name
        bundle = json.loads((code_dir / "bundle.json").read_bytes())
        assert (out / ".well-known" / "pith" / code / "bundle.json").read_bytes() == (
            code_dir / "bundle.json"
        ).read_bytes()
        assert json.loads((code_dir / "state.json").read_bytes()) == bundle["state"]
        assert bundle["links"]["bundle"] == f"{BASE}/pith/{code}/bundle.json"
        assert bundle["mirror_hints"][0]["base_url"] == BASE
        verify_bundle(bundle, keys)
        page = (code_dir / "index.html").read_text()
        assert bundle["pith_number"] in page and "pith verify" in page
        assert "On the synthetic paper number" in page  # the title it was issued from
    assert not list(out.rglob("*.tmp"))


def test_publish_is_incremental(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert pith(home, "publish", str(out), "--base-url", BASE).exit_code == 0
    number = _number(home, "2401.00002")
    code = number.rsplit(":", 1)[1]
    untouched = {p: p.stat().st_mtime_ns for p in (out / "pith").rglob("*") if code not in str(p)}
    payload = tmp_path / "p.json"
    payload.write_text('{"orcid": "0000-0002-1825-0097"}')
    added = pith(
        home, "event", "add", number, "--type", "author_attestation", "--payload", str(payload)
    )
    assert added.exit_code == 0, added.stderr

    again = json.loads(pith(home, "publish", str(out), "--base-url", BASE, "--json").stdout)
    assert (again["written"], again["unchanged"]) == (1, 2)
    assert again["files_written"] == 4  # bundle, .well-known bundle, page, state
    assert {p: p.stat().st_mtime_ns for p in untouched} == untouched
    bundle = json.loads((out / "pith" / code / "bundle.json").read_bytes())
    assert len(bundle["events"]) == 2

    (out / "pith" / code / "index.html").unlink()  # a missing file is written again
    third = json.loads(pith(home, "publish", str(out), "--base-url", BASE, "--json").stdout)
    assert third["written"] == 1
    moved = json.loads(
        pith(home, "publish", str(out), "--base-url", "https://new.example", "--json").stdout
    )
    assert moved["written"] == 3  # a new base URL changes every bundle's links


def test_a_crash_mid_publish_leaves_whole_files_and_the_next_run_finishes(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    assert pith(home, "publish", str(out), "--base-url", BASE).exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    import issuer.publish as publishing

    real = publishing.atomic_write  # type: ignore[attr-defined]
    calls = {"n": 0}

    def crash_on_third(path: Path, data: bytes, mode: int = 0o644, **options: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        real(path, data, mode, **options)

    monkeypatch.setattr(publishing, "atomic_write", crash_on_third)
    failed = pith(home, "publish", str(out), "--base-url", "https://new.example")
    assert failed.exit_code == 3 and "No space left on device" in failed.stderr
    for path, old in before.items():
        now = path.read_bytes()
        if path.suffix == ".json" and path.name != ".pith-publish.json":
            json.loads(now)  # whole, old or new
        if path.name == "state.json":
            assert now == old  # no record was marked published by the failed run
    monkeypatch.setattr(publishing, "atomic_write", real)
    done = json.loads(
        pith(home, "publish", str(out), "--base-url", "https://new.example", "--json").stdout
    )
    assert done["written"] == 3
    assert not list(out.rglob("*.tmp"))


@sqlite_only  # about verifying a published tree, not the registry
def test_verify_over_http_and_a_tampered_file_is_refused(
    home: Path, tmp_path: Path, serve: Any
) -> None:
    out = tmp_path / "site"
    base = serve(out)
    assert pith(home, "publish", str(out), "--base-url", base).exit_code == 0
    code = _number(home, "2401.00001").rsplit(":", 1)[1]
    keys = str(home / "keys")
    for url in (
        f"{base}/pith/{code}/bundle.json",
        f"{base}/pith/{code}/",
        f"{base}/pith/{code}",
        f"{base}/.well-known/pith/{code}/bundle.json",
    ):
        ok = pith(home, "verify", url, "--keys", keys)
        assert ok.exit_code == 0, (url, ok.stderr)

    # Keys served beside the bundle are never trusted on their own.
    untrusted = pith(home, "verify", f"{base}/pith/{code}/bundle.json")
    assert untrusted.exit_code == 1

    bundle_file = out / "pith" / code / "bundle.json"
    bundle = json.loads(bundle_file.read_bytes())
    bundle["canonical_record"]["metadata"]["license"] = None
    bundle_file.write_bytes(cjson.dumps(bundle))
    tampered = pith(home, "verify", f"{base}/pith/{code}/bundle.json", "--keys", keys, "--json")
    assert tampered.exit_code == 1
    assert json.loads(tampered.stdout)["reason"] == "canonical_sha256_mismatch"

    # A genuine bundle of another record, served at this record's URL.
    other = _number(home, "2401.00002").rsplit(":", 1)[1]
    bundle_file.write_bytes((out / "pith" / other / "bundle.json").read_bytes())
    swapped = pith(home, "verify", f"{base}/pith/{code}/bundle.json", "--keys", keys, "--json")
    assert swapped.exit_code == 1
    assert json.loads(swapped.stdout)["reason"] == "wrong_record"

    missing = pith(home, "verify", f"{base}/pith/{'A' * 26}/bundle.json", "--keys", keys)
    assert missing.exit_code == 2 and "HTTP 404" in missing.stderr


@sqlite_only  # about verifying a published tree, not the registry
def test_mirrors_that_disagree_are_reported(home: Path, tmp_path: Path, serve: Any) -> None:
    first, second, third = (tmp_path / n for n in ("a", "b", "c"))
    for site in (first, second, third):
        assert pith(home, "publish", str(site), "--base-url", BASE).exit_code == 0
    number = _number(home, "2401.00003")
    payload = tmp_path / "p.json"
    payload.write_text('{"orcid": "0000-0002-1825-0097"}')
    pith(home, "event", "add", number, "--type", "author_attestation", "--payload", str(payload))
    assert pith(home, "publish", str(first), "--base-url", BASE).exit_code == 0
    bases = [serve(first), serve(second)]
    keys = str(home / "keys")
    mirrors = [arg for b in bases for arg in ("--mirror", b)]

    lagging = pith(home, "verify", number, *mirrors, "--keys", keys, "--json")
    assert lagging.exit_code == 1
    report = json.loads(lagging.stdout)
    assert [m["ok"] for m in report["mirrors"]] == [True, True]
    assert [d["field"] for d in report["disagreements"]] == ["state_sha256"]
    assert "DISAGREE: state_sha256" in lagging.stderr

    agreeing = [arg for b in (bases[1], serve(third)) for arg in ("--mirror", b)]
    assert pith(home, "verify", number, *agreeing, "--keys", keys).exit_code == 0

    down = pith(home, "verify", number, "--mirror", "http://127.0.0.1:9", "--keys", keys)
    assert down.exit_code == 2
    bad = pith(home, "verify", "2401.00003", *mirrors, "--keys", keys)
    assert bad.exit_code == 2 and "full Pith numbers" in bad.stderr


def test_fetch_refuses_a_body_over_the_size_limit(tmp_path: Path, serve: Any) -> None:
    (tmp_path / "big.json").write_bytes(b"[" + b"0," * 5000 + b"0]")
    base = serve(tmp_path)
    assert fetch(f"{base}/big.json", max_bytes=20_000).data.startswith(b"[0,")
    with pytest.raises(NetworkError, match="over the 1000-byte limit"):
        fetch(f"{base}/big.json", max_bytes=1000)


def test_fetch_times_out_on_a_server_that_never_answers() -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/b.json"
        with pytest.raises(NetworkError, match=r"Timeout|deadline"):
            fetch(url, timeout=0.5)
    finally:
        listener.close()


def _break_record(home: Path, number: str) -> None:
    """Make a record what an older release let through: a category this one refuses."""
    code = number.rsplit(":", 1)[1]
    with open_store(registry_of(home), must_exist=True) as store:
        issued = store.record(number)
        assert issued is not None
        record = issued.record.to_dict()
        record["metadata"]["primary_cat"] = "Not A Category!"
        execute(  # kept whole, as a migration keeps a record it cannot store compact
            store,
            "UPDATE records SET record_json=? WHERE code=?",
            (cjson.dumps(record), code),
        )


def test_a_record_that_no_longer_passes_is_refused_and_every_other_is_served(
    home: Path, tmp_path: Path
) -> None:
    bad, good = _number(home, "2401.00002"), _number(home, "2401.00003")
    _break_record(home, bad)
    out = tmp_path / "site"
    result = pith(home, "publish", str(out), "--base-url", BASE, "--json")
    assert result.exit_code == 1, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["records"], summary["written"], summary["refused"]) == (3, 2, 1)
    assert summary["refusals"][0]["pith_number"] == bad
    assert f"refused: {bad}: " in result.stderr and "primary_cat" in result.stderr
    assert "Traceback" not in result.stderr
    text = pith(home, "publish", str(out), "--base-url", BASE)
    assert text.exit_code == 1 and "2 unchanged, 1 refused" in text.stderr

    assert pith(home, "resolve", "2401.00003").exit_code == 0
    resolved = pith(home, "resolve", "2401.00002")
    assert resolved.exit_code == 1 and f"refused: {bad}: " in resolved.stderr
    assert json.loads(resolved.stdout)["refused"][0]["pith_number"] == bad
    assert pith(home, "show", good).exit_code == 0
    assert pith(home, "bundle", good, "-o", str(tmp_path / "b.json")).exit_code == 0
    for command in (("show", bad), ("bundle", bad)):
        refused = pith(home, *command)
        assert refused.exit_code == 1, refused.stderr
        assert bad in refused.stderr and "no longer passes" in refused.stderr
        assert "Traceback" not in refused.stderr


def _refused(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("refused: ", "Hint: "))]


def test_a_refused_line_names_the_record_once_then_says_what_to_do(
    home: Path, tmp_path: Path
) -> None:
    bad = _number(home, "2401.00002")
    _break_record(home, bad)
    out = tmp_path / "site"
    for args in (("publish", str(out), "--base-url", BASE), ("resolve", "2401.00002")):
        for json_out in ((), ("--json",)):
            result = pith(home, *args, *json_out)
            assert result.exit_code == 1, result.stderr
            line, hint = _refused(result.stderr)
            assert line.startswith(f"refused: {bad}: the registry holds a record that no "), line
            assert line.count(bad) == 1, line
            assert hint.startswith("Hint: ") and bad not in hint, hint
    reported = json.loads(pith(home, "publish", str(out), "--base-url", BASE, "--json").stdout)
    [refusal] = reported["refusals"]
    assert refusal["pith_number"] == bad and bad not in refusal["reason"] and refusal["hint"]


def test_reissue_out_counts_the_bundles_it_refuses_as_publish_does(
    home: Path, tmp_path: Path
) -> None:
    bad = _number(home, "2401.00002")
    _break_record(home, bad)
    out = tmp_path / "site"
    assert pith(home, "publish", str(out), "--base-url", BASE).exit_code == 1
    result = pith(home, "reissue", "--out", str(out), "--workers", "1")
    assert result.exit_code == 1, result.stderr
    line, hint = _refused(result.stderr)
    assert line.startswith(f"refused: {bad}: bundle: the registry holds a record that no "), line
    assert line.count(bad) == 1 and hint.startswith("Hint: "), result.stderr
    assert "; 1 refused)" in result.stderr
    reported = pith(home, "reissue", "--out", str(out), "--workers", "1", "--json")
    assert reported.exit_code == 1, reported.stderr
    summary = json.loads(reported.stdout)
    assert summary["refused"] == len(summary["refusals"]) == 1
    [refusal] = summary["refusals"]
    assert (refusal["pith_number"], refusal["event_id"], refusal["bundle"]) == (bad, None, True)
    assert _refused(reported.stderr)[0] == line  # on stderr with --json too


@sqlite_only  # about verifying a published tree, not the registry
def test_the_verify_example_on_a_record_page_works_as_printed(
    home: Path, tmp_path: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    base = serve(out)
    assert pith(home, "publish", str(out), "--base-url", base).exit_code == 0
    code = _number(home, "2401.00001").rsplit(":", 1)[1]
    page = (out / "pith" / code / "index.html").read_text()
    [example] = re.findall(r"<pre>(.*?)</pre>", page, re.DOTALL)
    reader = tmp_path / "reader"
    reader.mkdir()
    monkeypatch.chdir(reader)
    commands = [shlex.split(line) for line in html.unescape(example).splitlines()]
    assert [c[0] for c in commands] == ["curl", "pith"]
    [url] = [a for a in commands[0] if a.startswith("http")]
    (reader / url.rsplit("/", 1)[1]).write_bytes(fetch(url).data)  # what curl -O does
    verified = pith(home, *commands[1][1:])
    assert verified.exit_code == 0, verified.stderr
    assert commands[1][2] == f"{base}/pith/{code}/bundle.json"


@pytest.mark.slow
def test_sigkill_during_a_first_publish_then_the_rerun_resumes(home: Path, tmp_path: Path) -> None:
    total = 3000
    data = factory.snapshot(tmp_path / "more.json", range(4, total + 1))
    assert pith(home, "issue", str(data), "--workers", "1").exit_code == 0
    out = tmp_path / "site"
    proc = subprocess.Popen(
        [sys.executable, "-m", "issuer", "publish", str(out), "--base-url", BASE, "--json"],
        env={**os.environ, **pith_env(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Kill on an observable point: once the first batch is recorded as published.
    url = registry_of(home)
    while proc.poll() is None and count_rows(url, "published") < BATCH:
        time.sleep(0.01)
    assert proc.poll() is None, "publish finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    done = count_rows(url, "published")
    assert BATCH <= done < total
    again = pith(home, "publish", str(out), "--base-url", BASE, "--json")
    assert again.exit_code == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["written"] == total - done and summary["unchanged"] == done
    assert not list(out.rglob("*.tmp"))
    assert len(list((out / "pith").iterdir())) == total
    keys = KeySet.load(out / "pith-signing-key.json")
    for code_dir in sorted((out / "pith").iterdir())[::100]:
        verify_bundle(json.loads((code_dir / "bundle.json").read_bytes()), keys)


def test_a_malformed_witness_url_is_a_usage_error(home: Path, tmp_path: Path) -> None:
    result = pith(
        home, "publish", str(tmp_path / "site"), "--base-url", BASE, "--witness", "http://[::1"
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("ERROR: --witness 'http://[::1': not a valid http(s) URL")


def test_a_linked_directory_in_the_tree_is_refused_by_name(home: Path, tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.mkdir()
    (out / "pith").symlink_to(elsewhere, target_is_directory=True)
    result = pith(home, "publish", str(out), "--base-url", BASE)
    assert result.exit_code == EXIT_OPERATIONAL
    assert f"cannot write {out / 'pith'}: a symbolic link" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(elsewhere.iterdir()) == []
