"""``pith log verify-checkpoint``: the real Rekor v2 checkpoint, exit codes, one-line reasons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from issuer.cli import app
from tests.conftest import VECTORS, data_file

runner = CliRunner()
CHECKPOINTS = VECTORS / "checkpoints"
REKOR = data_file(CHECKPOINTS / "rekor-v2-log2025-1.checkpoint")
REAL: dict[str, Any] = json.loads(data_file(CHECKPOINTS / "real-checkpoints.json").read_text())
WITNESS_ARGS = [arg for w in REAL["witness_vkeys"] for arg in ("--witness", w)]


def _verify(path: Path | str, *extra: str) -> Any:
    args = ["log", "verify-checkpoint", str(path), "--log-key", REAL["log_vkey"]]
    return runner.invoke(app, [*args, *extra])


def test_real_rekor_checkpoint_verifies_with_threshold_3() -> None:
    result = _verify(REKOR, *WITNESS_ARGS, "--witness-threshold", "3")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == (
        f"OK: {REKOR}: log2025-1.rekor.sigstore.dev at size 114068855, "
        "3 of 3 witnesses cosigned (3 required)\n"
    )


def test_quiet_prints_failures_only(tmp_path: Path) -> None:
    assert (
        runner.invoke(
            app, ["-q", "log", "verify-checkpoint", str(REKOR), "--log-key", REAL["log_vkey"]]
        ).stderr
        == ""
    )
    bad = tmp_path / "checkpoint"
    bad.write_bytes(b"x\n")
    args = ["-q", "log", "verify-checkpoint", str(bad), "--log-key", REAL["log_vkey"]]
    assert runner.invoke(app, args).stderr.startswith("FAIL: ")


def test_json_output() -> None:
    result = _verify(REKOR, *WITNESS_ARGS, "--witness-threshold", "3", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["ok"] is True
    assert out["tree_size"] == REAL["expect"]["tree_size"]
    assert out["root_hash"] == REAL["expect"]["root_hash_b64"]
    assert {c["timestamp"] for c in out["cosignatures"]} == {REAL["expect"]["cosignature_time"]}


def test_stdin_is_read_with_a_dash() -> None:
    args = ["log", "verify-checkpoint", "-", "--log-key", REAL["log_vkey"], *WITNESS_ARGS]
    result = runner.invoke(app, args, input=REKOR.read_bytes())
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("OK: <stdin>: ")


def test_a_flipped_byte_fails_with_exit_1_and_one_line(tmp_path: Path) -> None:
    data = bytearray(REKOR.read_bytes())
    data[40] ^= 0x01  # inside the root hash line
    bad = tmp_path / "checkpoint"
    bad.write_bytes(bytes(data))
    result = _verify(bad, *WITNESS_ARGS, "--witness-threshold", "3", "--json")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"FAIL: {bad}: bad_note_signature: ")
    out = json.loads(result.stdout)
    assert (out["ok"], out["step"], out["reason"]) == (False, "log_signature", "bad_note_signature")


def test_threshold_not_met(tmp_path: Path) -> None:
    lines = REKOR.read_text().splitlines(keepends=True)
    two = tmp_path / "checkpoint"
    two.write_text("".join(lines[:-1]))  # drop the last cosignature
    result = _verify(two, *WITNESS_ARGS, "--witness-threshold", "3")
    assert result.exit_code == 1
    assert result.stderr == (
        f"FAIL: {two}: witness_threshold_not_met: 2 of 3 witnesses cosigned, 3 required\n"
    )
    assert _verify(two, *WITNESS_ARGS, "--witness-threshold", "2").exit_code == 0


def test_default_threshold_is_every_witness_given(tmp_path: Path) -> None:
    lines = REKOR.read_text().splitlines(keepends=True)
    two = tmp_path / "checkpoint"
    two.write_text("".join(lines[:-1]))
    assert _verify(two, *WITNESS_ARGS).exit_code == 1
    assert _verify(two).exit_code == 0  # no witnesses asked for: the log signature alone


def test_a_malformed_checkpoint_is_refused_not_crashed(tmp_path: Path) -> None:
    bad = tmp_path / "checkpoint"
    bad.write_bytes(b"not a note")
    result = _verify(bad)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"FAIL: {bad}: malformed: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--witness-threshold", "4", *WITNESS_ARGS], "threshold 4"),
        (["--witness", REAL["log_vkey"]], "expected a cosignature key"),
        (["--witness", "garbage"], "not a note verifier key"),
    ],
    ids=["threshold-above-m", "log-key-as-witness", "garbage-witness"],
)
def test_unusable_options_are_usage_errors(args: list[str], message: str) -> None:
    result = _verify(REKOR, *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_an_unreadable_file_is_exit_2(tmp_path: Path) -> None:
    result = _verify(tmp_path / "missing")
    assert result.exit_code == 2
    assert result.stderr.startswith("ERROR: ")


def test_wrong_log_key_type_is_a_usage_error() -> None:
    args = ["log", "verify-checkpoint", str(REKOR), "--log-key", REAL["witness_vkeys"][0]]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "expected an Ed25519 note key" in result.stderr


def test_audit_of_a_malformed_url_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["log", "audit", "http://[::1"], env={"PITH_HOME": str(tmp_path)})
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("ERROR: not a valid http(s) URL")
