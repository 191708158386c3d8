"""CLI conventions and hints (#13 §9, §10, §12), and hostile documents in a batch (#12 §5).

Shell completion, ``--quiet``, ``--json`` everywhere, one JSON shape per
``verify`` result; the hints an operator needs where they get stuck; labelled
progress within 80 columns; Ctrl-C; malformed documents reported per input.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from issuer.cli import app
from issuer.cli._progress import progress_bar
from issuer.publish import open_tree
from tests import factory
from tests.cli._run import http_server, issued_home, ok, pith, pith_env
from tests.conftest import BUNDLE_PATH

NOW = "2026-05-17T23:59:22Z"
ROTATION = "2026-06-01T00:00:00Z"
CASES = Path(__file__).parents[1] / "conformance" / "bundles"
runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A registry home with key k1 and three records issued at version 2."""
    return issued_home(tmp_path, NOW, versions=2)


@pytest.fixture
def site(home: Path, tmp_path: Path) -> Path:
    """The registry published to ``tmp_path/site``."""
    out = tmp_path / "site"
    ok(pith(home, "publish", str(out), "--base-url", "https://r.example", "--now", NOW))
    return out


def _number(home: Path, arxiv_id: str = "2401.00001") -> str:
    return str(json.loads(ok(pith(home, "resolve", arxiv_id)).stdout)["unique"])


# --- (9) conventions ----------------------------------------------------------------------


def test_shell_completion_is_offered() -> None:
    assert "--install-completion" in runner.invoke(app, ["--help"]).stdout
    shown = runner.invoke(app, ["--show-completion", "bash"], env={"_TYPER_COMPLETE_TEST": "1"})
    assert shown.exit_code == 0, shown.stderr
    assert "complete" in shown.stdout and "pith" in shown.stdout


def test_quiet_prints_results_and_failures_only(home: Path, site: Path) -> None:
    keys = str(site / "pith-signing-key.json")
    loud = ok(pith(home, "verify", str(site), "--keys", keys))
    assert loud.stderr.count("OK: ") == 3
    assert ok(pith(home, "--quiet", "verify", str(site), "--keys", keys)).stderr == ""
    failed = pith(home, "-q", "verify", str(site), str(BUNDLE_PATH.parent / "nope.json"))
    assert failed.exit_code == 2
    assert "OK: " not in failed.stderr and "FAIL: " in failed.stderr and "ERROR: " in failed.stderr
    published = ok(pith(home, "-q", "publish", str(site), "--base-url", "https://r.example"))
    assert published.stderr == ""
    again = factory.snapshot(site.parent / "again.json", range(1, 4), versions=2)
    issued = ok(pith(home, "-q", "issue", str(again), "--workers", "1", "--now", NOW))
    assert issued.stderr == ""  # no summary line: everything was already issued


@pytest.mark.parametrize(
    "command", ["resolve", "show", "bundle", "event add", "derive", "keys show", "keys export"]
)
def test_every_command_that_prints_json_accepts_json(
    home: Path, tmp_path: Path, command: str
) -> None:
    number = _number(home)
    payload = tmp_path / "p.json"
    payload.write_text('{"orcid": "0000-0002-1825-0097"}')
    args = {
        "resolve": ["resolve", "2401.00001"],
        "show": ["show", number],
        "bundle": ["bundle", number],
        "event add": ["event", "add", number, "--type", "author_attestation", "--payload", "{p}"],
        "derive": ["derive", str(factory.snapshot(tmp_path / "in.json", range(1, 3)))],
        "keys show": ["keys", "show", "k1"],
        "keys export": ["keys", "export"],
    }[command]
    result = ok(pith(home, *(str(payload) if a == "{p}" else a for a in args), "--json"))
    assert isinstance(json.loads(result.stdout.splitlines()[0]), dict)


def test_verify_json_is_json_lines_of_one_shape(tmp_path: Path) -> None:
    not_a_bundle = tmp_path / "other.json"
    not_a_bundle.write_text('{"hello": "world"}')
    inputs = [
        str(BUNDLE_PATH),
        str(CASES / "unknown_key_fail" / "bundle.json"),
        str(tmp_path / "missing.json"),
        str(not_a_bundle),
    ]
    result = runner.invoke(app, ["verify", "--json", *inputs])
    assert result.exit_code == 2
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["source"] for r in lines] == inputs
    assert [r["ok"] for r in lines] == [True, False, False, False]
    assert len({tuple(sorted(r)) for r in lines}) == 1  # one shape, unreadable included
    assert lines[2]["reason"] == "unreadable" and lines[2]["checks"][-1]["step"] == "read"
    assert "JSON Lines" in runner.invoke(app, ["verify", "--help"]).stdout


# --- (10) hints ---------------------------------------------------------------------------


def test_unknown_key_suggests_keys() -> None:
    result = runner.invoke(app, ["verify", str(CASES / "test_key_issued" / "bundle.json")])
    assert result.exit_code == 1
    assert "unknown_key" in result.stderr and "Hint: trust the registry's key with --keys" in (
        result.stderr
    )


def test_pinning_a_newer_key_says_to_pin_the_oldest(home: Path, site: Path) -> None:
    signer = f"file:{home.parent / 'k2.p8'}"
    ok(
        pith(
            home,
            "keys",
            "rotate",
            "--to",
            "k2",
            "--signer",
            signer,
            "--now",
            "2026-06-01T00:00:00Z",
        )
    )
    ok(pith(home, "publish", str(site), "--base-url", "https://r.example"))
    keys = str(site / "pith-signing-key.json")
    pinned_new = pith(home, "verify", str(site), "--keys", keys, "--trust-root", "k2")
    assert pinned_new.exit_code == 1
    assert "pin the oldest key you trust" in pinned_new.stderr
    ok(pith(home, "verify", str(site), "--keys", keys, "--trust-root", "k1"))


def test_keys_url_is_refused_with_a_clear_message() -> None:
    result = runner.invoke(app, ["verify", str(BUNDLE_PATH), "--keys", "https://r.example/k.json"])
    assert result.exit_code == 2
    assert "not a URL" in result.stderr and "Traceback" not in result.stderr


def test_resolve_a_version_not_issued_names_the_versions_that_are(home: Path) -> None:
    result = pith(home, "resolve", "2401.00001v1")
    assert result.exit_code == 3
    assert "not found: 2401.00001v1" in result.stderr and "issued versions: v2" in result.stderr


@pytest.mark.parametrize(
    "alias",
    [
        "https://doi.org/10.48550/arXiv.2401.00002",
        "http://dx.doi.org/10.48550/arXiv.2401.00002",
        "doi:10.48550/arXiv.2401.00002",
        "https://arxiv.org/abs/2401.00002",
    ],
)
def test_doi_urls_resolve_as_abs_urls_do(home: Path, alias: str) -> None:
    assert json.loads(ok(pith(home, "resolve", alias)).stdout)["unique"] == _number(
        home, "2401.00002"
    )


def test_a_json_file_that_is_not_a_bundle_says_so(tmp_path: Path) -> None:
    other = tmp_path / "package.json"
    other.write_text('{"name": "left-pad", "version": "1.3.0"}')
    result = runner.invoke(app, ["verify", str(other)])
    assert result.exit_code == 1
    assert "not a Pith bundle" in result.stderr and "missing" not in result.stderr


def test_a_web_page_that_is_not_a_bundle_says_where_a_bundle_is(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_text("\n  <!doctype html><html><title>Pith</title></html>\n")
    result = runner.invoke(app, ["verify", str(page), "--json"])
    assert result.exit_code == 1
    [report] = [json.loads(line) for line in result.stdout.splitlines()]
    assert report["reason"] == "malformed"
    assert report["message"].startswith("not a Pith bundle but an HTML or XML page")
    assert "BASE/pith/CODE/" in report["message"]


def test_a_document_that_is_not_json_is_named_so(tmp_path: Path) -> None:
    broken = tmp_path / "bundle.json"
    broken.write_text('{"bundle_type": ')
    result = runner.invoke(app, ["verify", str(broken), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["message"].startswith("invalid JSON")


def test_a_published_trees_front_page_by_url_says_where_a_bundle_is(site: Path) -> None:
    keys = str(site / "pith-signing-key.json")
    with http_server(site) as url:
        front = runner.invoke(app, ["verify", f"{url}/", "--keys", keys])
        code = next(p.name for p in (site / "pith").iterdir())
        record = runner.invoke(app, ["verify", f"{url}/pith/{code}/", "--keys", keys])
    assert front.exit_code == 1
    assert "not a Pith bundle but an HTML or XML page" in front.stderr
    assert record.exit_code == 0, record.stderr


def test_a_password_in_a_tree_or_mirror_url_is_never_printed(home: Path, site: Path) -> None:
    keys = str(site / "pith-signing-key.json")
    number = _number(home)
    with http_server(site) as url:
        secret = url.replace("http://", "http://operator:s3cret@")
        audited = pith(home, "log", "audit", f"{secret}/", "--keys", keys)
        compared = pith(
            home, "verify", "--mirror", secret, "--mirror", url, number, "--keys", keys, "--json"
        )
    assert audited.exit_code == 0, audited.stderr
    assert "OK: http://***@127.0.0.1" in audited.stderr
    assert compared.exit_code == 0, compared.stderr
    assert [
        m["source"].startswith("http://***@") for m in json.loads(compared.stdout)["mirrors"]
    ] == [
        True,
        False,
    ]
    for result in (audited, compared):
        assert "s3cret" not in result.stdout + result.stderr


def test_a_password_in_a_tree_url_stays_out_of_the_debug_log(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with http_server(site) as url:
        fetch, listed = open_tree(url.replace("http://", "http://operator:s3cret@") + "/")
        with caplog.at_level(logging.DEBUG, logger="issuer.publish"):
            assert fetch("no/such/file") is None
    assert listed is None
    assert "http://***@127.0.0.1" in caplog.text and "HTTP 404" in caplog.text
    assert "s3cret" not in caplog.text


def test_a_published_tree_checks_each_record_once(home: Path, site: Path) -> None:
    result = ok(pith(home, "verify", str(site), "--keys", str(site / "pith-signing-key.json")))
    checked = [line.split()[1] for line in result.stderr.splitlines() if line.startswith("OK: ")]
    assert len(checked) == 3 and not any(".well-known" in c for c in checked)
    well_known = site / ".well-known"
    again = ok(pith(home, "verify", str(well_known), "--keys", str(site / "pith-signing-key.json")))
    assert again.stderr.count("OK: ") == 3  # named explicitly, the copies are checked


# --- (12) progress and Ctrl-C -------------------------------------------------------------


@pytest.mark.parametrize("in_bytes", [False, True], ids=["items", "bytes"])
def test_progress_labels_its_times_and_fits_80_columns(in_bytes: bool) -> None:
    drawn = io.StringIO()
    console = Console(file=drawn, width=80, force_terminal=True, color_system=None)
    with progress_bar("re-signing bundles", in_bytes=in_bytes, console=console) as bar:
        task = bar.add_task("x", total=10_000_000_000)
        bar.update(
            task,
            completed=1_234_567_890,
            counts="1,234,567 issued, 12,345,678 already issued, 123,456 refused",
        )
        bar.refresh()
    lines = [line for line in re.split(r"[\r\n]", drawn.getvalue()) if line.strip()]
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", "\n".join(lines))
    assert "elapsed" in text and "remaining" in text and "1,234,567 issued" in text
    assert max(len(line) for line in text.splitlines()) <= 80, text


def test_ctrl_c_says_how_to_resume_and_exits_130(home: Path, tmp_path: Path) -> None:
    registry = tmp_path / "interrupted.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-m", "issuer", "issue", "-", "--registry", str(registry)],
        env={**os.environ, **pith_env(home)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(b"".join(factory.snapshot_line(n) for n in range(1, 20)))
    proc.stdin.flush()  # stdin stays open: pith waits for more input
    while not registry.exists() and proc.poll() is None:  # started, signal handlers in place
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert b"interrupted: run the same command again to resume" in err
    assert b"Traceback" not in err


# --- (#12 §5) malformed documents in a batch ----------------------------------------------


def _hostile(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "deep.json": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        "deep-array.json": b"[" * 100_000 + b"]" * 100_000,
        "bigint.json": b'{"bundle_version": ' + b"9" * 5000 + b"}",
        "huge-array.json": b'{"events": [' + b",".join([b"0"] * 1_000_000) + b"]}",
    }
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return [directory / name for name in files]


def test_malformed_documents_fail_one_by_one_and_the_run_goes_on(tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    hostile = _hostile(batch)
    shutil.copy(BUNDLE_PATH, batch / "z-good.json")
    result = runner.invoke(app, ["verify", str(batch), "--json"])
    assert result.exit_code == 1, result.stderr
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr
    for path in hostile:
        assert re.search(rf"FAIL: {re.escape(str(path))}: .*malformed", result.stderr), (
            result.stderr
        )
    assert f"OK: {batch / 'z-good.json'}" in result.stderr
    assert len(result.stdout.splitlines()) == len(hostile) + 1


def test_a_mirror_serving_malformed_documents_fails_those_records_only(
    home: Path, site: Path, tmp_path: Path, serve: Any
) -> None:
    numbers = [_number(home, f"2401.0000{n}") for n in (1, 2, 3)]
    hostile = _hostile(tmp_path / "hostile")
    for number, bad in zip(numbers[:2], hostile[2:], strict=True):  # bigint, huge array
        code = number[10:]
        for where in (site / "pith" / code, site / ".well-known" / "pith" / code):
            shutil.copy(bad, where / "bundle.json")
    keys = str(site / "pith-signing-key.json")
    result = pith(home, "verify", *numbers, "--mirror", serve(site), "--keys", keys, "--json")
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("malformed") == 2, result.stderr
    assert result.stderr.count("OK: ") == 1, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(c["pith_number"], c["ok"]) for c in lines] == list(
        zip(numbers, [False, False, True], strict=True)
    )


# --- bad arguments: one ERROR line, the documented exit code, never a traceback -----------


@pytest.mark.parametrize("when", ["99999999999999999999", "253402300800"], ids=["time_t", "y10k"])
@pytest.mark.parametrize(
    "args",
    [
        ["derive", "-", "--now"],
        ["issue", "-", "--now"],
        ["bundle", "pith:2026:AAAAAAAAAAAAAAAAAAAAAAAAAA", "--now"],
        ["publish", "site", "--base-url", "https://r.example", "--now"],
        ["reissue", "--now"],
        ["log", "checkpoint", "--now"],
        ["keys", "rotate", "--to", "k2", "--now"],
        ["keys", "revoke", "k1", "--reason", "lost", "--compromised-since"],
    ],
    ids=lambda args: " ".join(a for a in args if not a.startswith(("-", "pith:", "http"))),
)
def test_an_epoch_time_out_of_range_is_a_usage_error(
    tmp_path: Path, args: list[str], when: str
) -> None:
    result = pith(tmp_path / "home", *args, when)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, OverflowError)
    assert "ERROR: " in result.stderr or "Invalid value" in result.stderr
    assert when in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["issue", "-", "--registry", ""],
        ["resolve", "2401.00001", "--registry", ""],
        ["registry", "migrate", "--registry", ""],
        ["registry", "copy", "", "copy.sqlite3"],
        ["registry", "copy", "registry.sqlite3", ""],
    ],
    ids=["issue", "resolve", "migrate", "copy from", "copy to"],
)
def test_an_empty_registry_is_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    result = pith(tmp_path / "home", *args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "ERROR: the registry URL is empty" in result.stderr


BAD_NAME = os.fsdecode(b"bad\xffname.json")  # not UTF-8: the bytes a Latin-1 system names with


def test_verify_json_names_a_file_whose_name_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / BAD_NAME).write_text("not json")
    shutil.copy(BUNDLE_PATH, tmp_path / "z-good.json")
    result = runner.invoke(app, ["verify", str(tmp_path), "--json"])
    assert result.exit_code == 1, result.output
    assert "ERROR" not in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["source"], r["ok"]) for r in lines] == [
        (f"{tmp_path}/bad\\xffname.json", False),
        (str(tmp_path / "z-good.json"), True),
    ]


def test_issue_refuses_a_file_whose_name_is_not_utf8_and_goes_on(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok(pith(home, "keys", "generate", "k1", "--signer", f"file:{tmp_path / 'k1.p8'}"))
    (tmp_path / BAD_NAME).write_text("not arXiv metadata\n")
    good = factory.snapshot(tmp_path / "in.json", range(1, 3))
    result = pith(home, "issue", str(tmp_path / BAD_NAME), str(good), "--workers", "1", "--json")
    assert result.exit_code == 1, result.output
    assert "ERROR" not in result.stderr
    summary = json.loads(result.stdout)
    assert summary["issued"] == 2
    assert summary["failed_inputs"] == [f"{tmp_path}/bad\\xffname.json"]
    [reject] = (home / "rejects.jsonl").read_text().splitlines()
    assert json.loads(reject)["location"] == f"{tmp_path}/bad\\xffname.json"


def test_a_file_signer_that_is_a_directory_is_named_so(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok(pith(home, "keys", "generate", "k1", "--signer", f"file:{tmp_path / 'k1.p8'}"))
    (tmp_path / "keydir").mkdir(mode=0o700)
    result = pith(home, "issue", "-", "--signer", f"file:{tmp_path / 'keydir'}")
    assert result.exit_code == 3, result.output
    assert f"ERROR: key file {tmp_path / 'keydir'} is not a regular file" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["publish", "", "--base-url", "https://r.example"],
        ["reissue", "--out", ""],
        ["bundle", "pith:2026:AAAAAAAAAAAAAAAAAAAAAAAAAA", "--out", ""],
        ["keys", "export", "--out", ""],
        ["issue", "-", "--rejects", ""],
        ["issue", "-", "--passphrase-file", ""],
        ["verify", ""],
        ["verify", "b.json", "--keys", ""],
        ["log", "audit", "site", "--keys", ""],
        ["keys", "rotate", "--to", "k2", "--new-passphrase-file", ""],
        ["witness", "cosign", "-", "--name", "w1", "--log", "x", "--state", ""],
    ],
    ids=[
        "publish",
        "reissue",
        "bundle",
        "keys export",
        "rejects",
        "passphrase",
        "verify",
        "verify keys",
        "audit keys",
        "new passphrase",
        "witness state",
    ],
)
def test_an_empty_path_is_a_usage_error_not_the_working_directory(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    result = pith(home, *args)
    assert result.exit_code == 2, result.output
    assert "empty path" in result.stderr
    assert list(cwd.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["publish", "site"],
        ["bundle", "{number}"],
        ["keys", "generate", "k2", "--signer", "file:k2.p8"],
    ],
    ids=["publish", "bundle", "keys generate"],
)
@pytest.mark.parametrize(
    "base_url",
    [
        "https://operator:s3cret@r.example",
        "ftp://r.example",
        os.fsdecode(b"https://r.example/\xff"),
    ],
    ids=["password", "ftp", "not utf-8"],
)
def test_a_base_url_with_a_password_or_not_http_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], base_url: str
) -> None:
    monkeypatch.chdir(tmp_path)
    number = _number(home)
    result = pith(home, *(number if a == "{number}" else a for a in args), "--base-url", base_url)
    assert result.exit_code == 2, result.output
    assert "ERROR: --base-url must be" in result.stderr
    assert "s3cret" not in result.output
    assert not (tmp_path / "site").exists() and not (tmp_path / "k2.p8").exists()


def test_issue_json_still_says_on_stderr_why_an_input_was_refused(
    home: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.json"
    result = pith(home, "issue", str(missing), "--workers", "1", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["failed_inputs"] == [str(missing)]
    assert f"refused: {missing}: cannot read: No such file or directory" in result.stderr


def test_a_witness_name_that_is_not_unicode_is_a_usage_error(home: Path) -> None:
    result = pith(home, "witness", "vkey", "--name", os.fsdecode(b"w\xff"))
    assert result.exit_code == 2, result.output
    assert "ERROR: --name" in result.stderr


def test_json_names_a_registry_whose_path_is_not_utf8(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok(pith(home, "keys", "generate", "k1", "--signer", f"file:{tmp_path / 'k1.p8'}"))
    data = factory.snapshot(tmp_path / "in.json", range(1, 3))
    directory = tmp_path / os.fsdecode(b"d\xff")
    directory.mkdir()
    registry, copy = directory / "r.sqlite3", tmp_path / os.fsdecode(b"copy\xff.sqlite3")
    issued = pith(home, "issue", str(data), "--workers", "1", "--registry", str(registry), "--json")
    assert issued.exit_code == 0, issued.output
    summary = json.loads(issued.stdout)
    assert summary["registry"] == f"{tmp_path}/d\\xff/r.sqlite3"
    assert summary["rejects_file"] == f"{tmp_path}/d\\xff/rejects.jsonl"
    copied = pith(home, "registry", "copy", str(registry), str(copy), "--json")
    assert copied.exit_code == 0, copied.output
    assert json.loads(copied.stdout)["destination"] == f"{tmp_path}/copy\\xff.sqlite3"


# --- a reader that stops early ------------------------------------------------------------


def test_a_reader_that_stops_early_ends_pith_quietly_with_141(tmp_path: Path) -> None:
    """``pith derive BIG | head -1``: exit 128 + SIGPIPE, as a shell reports a killed writer."""
    big = factory.snapshot(tmp_path / "big.json", range(1, 3001))  # far over a pipe's buffer
    proc = subprocess.Popen(
        [sys.executable, "-m", "issuer", "derive", str(big)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what head -1 does once it has its line
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141, err
    assert json.loads(first)["pith_number"].startswith("pith:")
    assert err == b"", err  # no "Broken pipe", no traceback, no summary
