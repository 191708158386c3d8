"""``pith log checkpoint``, and ``pith verify --require-log / --witness`` (issue 16 §2, §4).

Each test runs on a SQLite registry and on a PostgreSQL one (the ``backend`` fixture).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from issuer.keys import SeedSigner
from issuer.tlog import COSIGNATURE_ED25519, NoteSigner
from tests import factory
from tests.cli._run import new_registry, pith
from tests.conftest import BUNDLE_PATH

BASE = "https://registry.example/pith"
WITNESS = NoteSigner("witness.example", COSIGNATURE_ED25519, SeedSigner("w", b"\x07" * 32))


@pytest.fixture
def home(tmp_path: Path, backend: str) -> Path:
    """A registry of three records, signed by a file key."""
    home = tmp_path / "home"
    made = pith(home, "keys", "generate", "dev-1", "--signer", f"file:{tmp_path / 'k.p8'}")
    assert made.exit_code == 0, made.stderr
    data = factory.snapshot(tmp_path / "in.json", range(1, 4))
    assert pith(home, "issue", str(data), "--workers", "1").exit_code == 0
    return home


def test_log_checkpoint_signs_a_checkpoint_that_verify_checkpoint_accepts(
    home: Path, tmp_path: Path
) -> None:
    unnamed = pith(home, "log", "checkpoint")
    assert unnamed.exit_code == 2
    assert "--origin" in unnamed.stderr
    made = pith(home, "log", "checkpoint", "--origin", "registry.example/log", "--json")
    assert made.exit_code == 0, made.stderr
    out = json.loads(made.stdout)
    assert (out["origin"], out["tree_size"], out["key_id"]) == ("registry.example/log", 6, "dev-1")
    assert out["log_key"].startswith("registry.example/log+")
    (tmp_path / "cp").write_text(out["checkpoint"])
    cp = str(tmp_path / "cp")
    checked = pith(home, "log", "verify-checkpoint", cp, "--log-key", out["log_key"])
    assert checked.exit_code == 0, checked.stderr
    # Nothing new: the same checkpoint again, printed as the note itself.
    again = pith(home, "log", "checkpoint", "--origin", "registry.example/log")
    assert again.exit_code == 0 and again.stdout == out["checkpoint"]
    assert f"checkpoint {out['id']}:" in again.stderr
    # Once a tree is published, its base URL names the log.
    assert pith(home, "publish", str(tmp_path / "site"), "--base-url", BASE).exit_code == 0
    named = pith(home, "log", "checkpoint")
    assert named.exit_code == 0, named.stderr
    assert named.stdout.startswith("registry.example/pith\n6\n")


def test_verify_checks_published_proofs_and_require_log_refuses_a_bundle_without(
    home: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    published = pith(home, "publish", str(site), "--base-url", BASE, "--json")
    assert published.exit_code == 0, published.stderr
    assert json.loads(published.stdout)["log_size"] == 6
    keys = str(site / "pith-signing-key.json")
    bundles = [str(p) for p in sorted((site / "pith").glob("*/bundle.json"))]
    ok = pith(home, "verify", *bundles, "--keys", keys, "--require-log")
    assert ok.exit_code == 0, ok.stderr
    assert ok.stderr.count("OK: ") == 3
    # The real registry bundle has no proof: valid, unless the log is required.
    assert pith(home, "verify", str(BUNDLE_PATH)).exit_code == 0
    refused = pith(home, "verify", str(BUNDLE_PATH), "--require-log", "--json")
    assert refused.exit_code == 1
    report = json.loads(refused.stdout)
    assert (report["reason"], report["checks"][-1]["step"]) == ("missing_log_proof", "log")
    # A witness the checkpoint lacks: refused; a malformed witness key: a usage error.
    vkey = str(WITNESS.verifier_key)
    unwitnessed = pith(home, "verify", bundles[0], "--keys", keys, "--witness", vkey, "--json")
    assert unwitnessed.exit_code == 1
    assert json.loads(unwitnessed.stdout)["reason"] == "witness_threshold_not_met"
    none_needed = pith(
        home, "verify", bundles[0], "--keys", keys, "--witness", vkey, "--witness-threshold", "0"
    )
    assert none_needed.exit_code == 0, none_needed.stderr
    assert pith(home, "verify", bundles[0], "--witness", "nonsense").exit_code == 2
    too_many = pith(home, "verify", bundles[0], "--witness", vkey, "--witness-threshold", "2")
    assert too_many.exit_code == 2


def test_keys_export_lists_the_log_verifier_keys(home: Path) -> None:
    plain = json.loads(pith(home, "keys", "export").stdout)
    assert "log_keys" not in plain
    made = pith(home, "keys", "export", "--log-origin", "registry.example/log")
    assert made.exit_code == 0, made.stderr
    [vkey] = json.loads(made.stdout)["log_keys"]
    checkpoint = pith(home, "log", "checkpoint", "--origin", "registry.example/log", "--json")
    assert json.loads(checkpoint.stdout)["log_key"] == vkey
    assert pith(home, "keys", "export", "--log-origin", "a b").exit_code == 2


def test_log_audit_over_http_then_a_second_history_is_a_split_view(
    home: Path, tmp_path: Path, serve: Callable[[Path], str]
) -> None:
    site = tmp_path / "site"
    assert pith(home, "publish", str(site), "--base-url", BASE).exit_code == 0
    keys = str(site / "pith-signing-key.json")
    local = pith(home, "log", "audit", str(site), "--keys", keys)
    assert local.exit_code == 0, local.stderr
    assert "6 bundles" not in local.stderr and "3 bundles checked" in local.stderr
    url = serve(site)
    remote = pith(home, "log", "audit", url, "--keys", keys, "--json")
    assert remote.exit_code == 0, remote.stderr
    assert json.loads(remote.stdout)["tree_size"] == 6
    assert (home / "seen-checkpoints.json").is_file()
    # Another registry, same key and base URL, other records: the same size, another root.
    other = new_registry(tmp_path / "other.sqlite3")
    data = factory.snapshot(tmp_path / "o.json", range(7, 10))
    assert pith(home, "issue", str(data), "--registry", other, "--workers", "1").exit_code == 0
    fork = tmp_path / "fork"
    made = pith(home, "publish", str(fork), "--base-url", BASE, "--registry", other)
    assert made.exit_code == 0, made.stderr
    split = pith(home, "log", "audit", serve(fork), "--keys", keys)
    assert split.exit_code == 1
    assert "split_view" in split.stderr
    proof = json.loads(split.stdout)
    assert proof["seen_checkpoint"] == (site / "checkpoint").read_text()
    assert proof["served_checkpoint"] == (fork / "checkpoint").read_text()
    # Tampering with a tile is named.
    tile = site / "tile" / "0" / "000.p" / "6"
    tile.write_bytes(bytes(len(tile.read_bytes())))
    tampered = pith(home, "log", "audit", url, "--keys", keys)
    assert tampered.exit_code == 1
    assert "tiles: tile/0/000.p/6 is not the tile its entries give" in tampered.stderr
