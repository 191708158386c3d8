"""``pith witness``: vkey, cosign offline, and serve as a real process on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from issuer.cli import app
from issuer.keys.keyset import KeySet
from issuer.tlog import (
    COSIGNATURE_ED25519,
    SIZE_CONTENT_TYPE,
    CheckpointPolicy,
    VerifierKey,
    WitnessState,
    submit,
    verify_checkpoint,
)
from tests.unit.tlog.test_witness import ORIGIN, Log

runner = CliRunner()
PASSPHRASE = "a long witness passphrase"
NAME = "witness.example/w1"


def _run(home: Path, *args: str, stdin: bytes | None = None) -> Any:
    return runner.invoke(
        app,
        ["--home", str(home), *args],
        env={"PITH_KEY_PASSPHRASE": PASSPHRASE},
        input=stdin,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A witness home whose current key is a file: key."""
    home = tmp_path / "witness-home"
    made = _run(home, "keys", "generate", "witness-k1", "--signer", f"file:{tmp_path / 'w.pem'}")
    assert made.exit_code == 0, made.stderr
    return home


@pytest.fixture
def log() -> Log:
    return Log().grow(10)


def _log_opt(log: Log) -> list[str]:
    return ["--log", f"{ORIGIN}={log.key.verifier_key}"]


def test_vkey_prints_the_cosignature_key_of_the_homes_key(home: Path) -> None:
    result = _run(home, "witness", "vkey", "--name", NAME)
    assert result.exit_code == 0, result.stderr
    vkey = VerifierKey.parse(result.stdout.strip())
    key = KeySet.load(home / "keys").get("witness-k1")
    assert key is not None
    assert (vkey.name, vkey.sig_type, vkey.public_key) == (NAME, COSIGNATURE_ED25519, key.raw)
    same = _run(home, "witness", "vkey", "--name", NAME, "--key-id", "witness-k1")
    assert same.stdout == result.stdout
    assert PASSPHRASE not in result.output


def test_vkey_refuses_a_name_with_a_space(home: Path) -> None:
    result = _run(home, "witness", "vkey", "--name", "bad name")
    assert result.exit_code == 2
    assert "--name" in result.stderr


def test_cosign_offline_then_refuse_a_stale_request(home: Path, log: Log, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    request = tmp_path / "req"
    request.write_bytes(log.request(0))
    args = ["witness", "cosign", str(request), "--name", NAME, "--state", str(state)]
    first = _run(home, *args, *_log_opt(log))
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith(f"— {NAME} ")
    vkey = VerifierKey.parse(_run(home, "witness", "vkey", "--name", NAME).stdout.strip())
    policy = CheckpointPolicy(log.key.verifier_key, (vkey,), 1)
    verify_checkpoint(log.checkpoint().to_bytes() + first.stdout.encode(), policy)
    log.grow(5)
    stale = _run(home, *args[:2], "-", *args[3:], *_log_opt(log), stdin=log.request(0))
    assert stale.exit_code == 1
    assert stale.stdout == ""
    assert "FAIL: <stdin>: old_size_mismatch (HTTP 409)" in stale.stderr
    assert "cosigned size 10 last" in stale.stderr
    grown = _run(home, *args[:2], "-", *args[3:], *_log_opt(log), stdin=log.request(10))
    assert grown.exit_code == 0, grown.stderr
    latest = WitnessState(state).read()[ORIGIN].checkpoint
    assert latest.size == 15


def test_cosign_with_a_corrupt_state_is_operational(home: Path, log: Log, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{}")
    request = tmp_path / "req"
    request.write_bytes(log.request(0))
    args = ["witness", "cosign", str(request), "--name", NAME, "--state", str(state)]
    result = _run(home, *args, *_log_opt(log))
    assert result.exit_code == 3
    assert "corrupt" in result.stderr
    assert state.read_text() == "{}"


@pytest.mark.parametrize(
    "log_opt", [[], ["--log", "nonsense"], ["--log", f"{ORIGIN}=x+y+z"]], ids=str
)
def test_cosign_refuses_bad_log_options(
    home: Path, tmp_path: Path, log: Log, log_opt: list[str]
) -> None:
    request = tmp_path / "req"
    request.write_bytes(log.request(0))
    args = ["witness", "cosign", str(request), "--name", NAME, "--state", str(tmp_path / "s")]
    assert _run(home, *args, *log_opt).exit_code == 2


def test_cosign_of_an_unreadable_request_is_a_usage_error(home: Path, tmp_path: Path) -> None:
    args = ["witness", "cosign", str(tmp_path / "none"), "--name", NAME, "--state", "s"]
    result = _run(home, *args, "--log", str(Log().key.verifier_key))
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


@pytest.fixture
def served(home: Path, log: Log, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``pith witness serve`` as its own process on a free port; yields (URL, state file)."""
    state = tmp_path / "state.json"
    env = {k: v for k, v in os.environ.items() if "PASSPHRASE" not in k}
    proc = subprocess.Popen(
        [sys.executable, "-m", "issuer", "--home", str(home), "witness", "serve",
         "--name", NAME, "--state", str(state), *_log_opt(log), "--listen", "127.0.0.1:0"],
        env={**env, "PITH_KEY_PASSPHRASE": PASSPHRASE},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # the first line says where it listens
        assert " listening on http://127.0.0.1:" in line, line + proc.stderr.read()
        assert PASSPHRASE not in line
        yield line.rsplit(" ", 1)[1].strip(), state
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        if proc.stderr is not None:
            proc.stderr.close()


def test_serve_cosigns_and_a_restart_resumes_from_the_state(
    served: tuple[str, Path], home: Path, log: Log, tmp_path: Path
) -> None:
    url, state = served
    first = submit(url, log.request(0))
    assert first.status == 200, first.body
    log.grow(20)
    second = submit(url, log.request(10))
    assert second.status == 200, second.body
    stale = submit(url, log.request(10))
    assert (stale.status, stale.content_type, stale.body) == (409, SIZE_CONTENT_TYPE, b"30\n")
    # Another process (the offline command) resumes from what the server saved.
    request = tmp_path / "req"
    request.write_bytes(log.request(0, size=20))
    args = ["witness", "cosign", str(request), "--name", NAME, "--state", str(state)]
    rollback = _run(home, *args, *_log_opt(log))
    assert rollback.exit_code == 1
    assert "old_size_mismatch" in rollback.stderr


def test_cosign_refuses_an_oversized_request_unread(home: Path, tmp_path: Path, log: Log) -> None:
    request = tmp_path / "req"
    request.write_bytes(log.request(0) + b"x" * 200_000)
    args = ["witness", "cosign", str(request), "--name", NAME, "--state", str(tmp_path / "s")]
    result = _run(home, *args, *_log_opt(log))
    assert result.exit_code == 1
    assert "malformed (HTTP 400)" in result.stderr
    assert not (tmp_path / "s").exists()
