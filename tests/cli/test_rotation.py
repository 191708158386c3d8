"""``pith keys rotate``, ``pith keys revoke``, ``pith reissue`` and ``pith verify --trust-root``,
as an operator and a verifier would run them.

What touches the registry runs on a SQLite file and on a PostgreSQL database
(the ``backend`` fixture); the concurrent key changes touch the key home only."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from issuer.keys import Signer
from issuer.keys.keyset import KeySet
from issuer.keys.local import LocalKeys
from issuer.store import open_store
from tests import factory
from tests.cli._run import PASSPHRASE, issued_home, ok, pith, pith_on_terminal, registry_of
from tests.registry_sql import execute

T0 = "2026-06-01T00:00:00Z"
T1 = "2026-07-01T00:00:00Z"  # the rotation
T2 = "2026-07-02T00:00:00Z"
T3 = "2026-07-03T00:00:00Z"
T4 = "2026-07-04T00:00:00Z"


@pytest.fixture
def home(tmp_path: Path, backend: str) -> Path:
    """A registry of three records issued with k1, published to tmp_path/out."""
    home = issued_home(tmp_path, T0)
    ok(pith(home, "publish", str(tmp_path / "out"), "--base-url", "https://r.example", "--now", T0))
    return home


def _rotate(home: Path, *extra: str) -> Any:
    signer = f"file:{home.parent / 'k2.p8'}"
    return pith(home, "keys", "rotate", "--to", "k2", "--signer", signer, *extra)


def _verify(home: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    result = pith(home, "verify", "--json", *args)
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()]


def test_rotate_revoke_reissue_then_every_bundle_verifies_from_the_pinned_first_key(
    home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    k1 = KeySet.load(home / "keys").get("k1")
    assert k1 is not None
    rotated = json.loads(ok(_rotate(home, "--now", T1, "--json")).stdout)
    assert (rotated["from_key"], rotated["to_key"], rotated["rotates_at"]) == ("k1", "k2", T1)
    assert json.loads((home / "keys" / "k1.json").read_text())["rotates_at"] == T1
    document = tmp_path / "keys-1.json"
    ok(pith(home, "keys", "export", "--out", str(document)))
    assert len(json.loads(document.read_text())["rotation_statements"]) == 1

    # The old key no longer signs: the CLI refuses before signing anything.
    number = json.loads(pith(home, "resolve", "2401.00001").stdout)["unique"]
    late = pith(home, "bundle", number, "--key", "k1", "--now", T2)
    assert late.exit_code == 3 and "refusing to sign with k1" in late.stderr

    # What k1 signed before the rotation verifies from k1, pinned by fingerprint.
    verifier = tmp_path / "verifier"
    code, reports = _verify(
        verifier, str(out), "--keys", str(document), "--trust-root", k1.fingerprint
    )
    assert code == 0 and len(reports) == 3 and all(r["ok"] for r in reports)

    # k1 leaks: revoked (signed by k2), everything it signed stops counting.
    revoked = pith(home, "keys", "revoke", "k1", "--compromised-since", T0, "--reason",
                    "backup tape lost", "--now", T2, "--json")  # fmt: skip
    assert json.loads(ok(revoked).stdout)["signed_by"] == "k2"
    ok(pith(home, "keys", "export", "--out", str(document)))
    code, reports = _verify(verifier, str(out), "--keys", str(document), "--trust-root", "k1")
    assert code == 1 and {r["reason"] for r in reports} == {"key_revoked"}

    # Re-issue under k2, bundles in the published tree included.
    report = json.loads(ok(pith(home, "reissue", "--out", str(out), "--now", T3, "--json")).stdout)
    assert report["resigned"] == {"receipts": 3, "events": 3, "bundles": 3}
    again = json.loads(ok(pith(home, "reissue", "--now", T4, "--json")).stdout)
    assert again["resigned"] == {"receipts": 0, "events": 0, "bundles": 0}
    assert again["already_current"] == {"receipts": 3, "events": 3}

    # The published key document carries both statements; from k1 everything verifies.
    published = out / "pith-signing-key.json"
    listed = json.loads(published.read_text())
    assert (len(listed["rotation_statements"]), len(listed["revocation_statements"])) == (1, 1)
    code, reports = _verify(verifier, str(out), "--keys", str(published), "--trust-root", "k1")
    assert code == 0 and len(reports) == 3 and all(r["ok"] for r in reports)
    shown = json.loads(pith(home, "show", number).stdout)
    assert shown["receipt"]["first_computed_at"] == "2026-06-01T00:00:00.000000Z"
    assert shown["receipt"]["last_reissued_at"] == "2026-07-03T00:00:00.000000Z"
    assert shown["state"]["invalid_event_count"] == 0

    # This verifier has now seen k1 rotate and be revoked: an older key set is refused.
    code, reports = _verify(verifier, str(out), "--keys", str(home / "keys" / "k1.json"),
                            "--keys", str(home / "keys" / "k2.json"))  # fmt: skip
    assert code == 1 and len(reports) == 1
    assert {k: reports[0].get(k) for k in ("ok", "reason", "source")} == {
        "ok": False,
        "reason": "key_rollback",
        "source": "keys",
    }


def test_reissue_refuses_what_the_registry_did_not_sign_and_resigns_the_rest(home: Path) -> None:
    ok(_rotate(home, "--now", T1))
    with open_store(registry_of(home)) as store:
        number = str(next(iter(store.records())).pith_number)
        [event] = store.events(number)
        garbage = bytes(range(64))  # genuine content, a signature no key made
        execute(
            store, "UPDATE events SET signature=? WHERE event_id=?", (garbage, event["event_id"])
        )

    result = pith(home, "reissue", "--now", T2, "--json")

    assert result.exit_code == 1, result.stderr
    line = f"refused: {number}: event {event['event_id']}: signature does not verify under key k1"
    assert line in result.stderr.splitlines()
    assert "Hint: restore the row from a backup, or issue the record again" in result.stderr
    report = json.loads(result.stdout)
    assert report["refused"] == 1
    assert report["refusals"][0]["event_id"] == event["event_id"]
    assert report["resigned"] == {"receipts": 3, "events": 2, "bundles": 0}
    shown = json.loads(pith(home, "show", number).stdout)
    assert shown["receipt"]["key_id"] == "k2"


def test_a_rotation_missing_a_signature_fails_the_whole_key_set(home: Path, tmp_path: Path) -> None:
    ok(_rotate(home, "--now", T1))
    statement = home / "keys" / "rotation-from-k1.json"
    envelope = json.loads(statement.read_text())
    envelope["signatures"] = envelope["signatures"][:1]  # k1's only
    statement.write_text(json.dumps(envelope))
    code, reports = _verify(tmp_path / "v", str(tmp_path / "out"), "--keys", str(home / "keys"))
    assert code == 1 and reports[0]["reason"] == "bad_key_statement"
    assert "not signed by k2" in reports[0]["message"]
    # The operator's own commands refuse to work with it too.
    listed = pith(home, "keys", "export")
    assert listed.exit_code == 1 and "a rotation needs both keys" in listed.stderr


def test_a_scheduled_rotation_signs_with_the_old_key_until_its_time(home: Path) -> None:
    ok(_rotate(home, "--at", T2, "--now", T1))
    number = json.loads(pith(home, "resolve", "2401.00002").stdout)["unique"]
    before = json.loads(ok(pith(home, "bundle", number, "--now", T1)).stdout)
    after = json.loads(ok(pith(home, "bundle", number, "--now", T2)).stdout)
    assert before["bundle_signature"]["key_id"] == "k1"
    assert after["bundle_signature"]["key_id"] == "k2"


def test_rotation_refuses_the_past_and_revocation_refuses_the_signing_key(home: Path) -> None:
    past = _rotate(home, "--at", T0, "--now", T1)
    assert past.exit_code == 2 and "--at is in the past" in past.stderr
    ok(_rotate(home, "--at", T3, "--now", T1))  # scheduled: k1 still signs until T3
    signer = f"file:{home.parent / 'k3.p8'}"
    early = pith(home, "keys", "rotate", "--to", "k3", "--signer", signer, "--at", T2, "--now", T1)
    assert early.exit_code == 2 and "--at must be after 2026-07-03T00:00:00Z" in early.stderr
    own = pith(home, "keys", "revoke", "k1", "--compromised-since", T0, "--reason", "x",
                "--now", T1)  # fmt: skip
    assert own.exit_code == 3 and "rotate first" in own.stderr
    assert not (home / "keys" / "revocation-k1.json").exists()
    future = pith(home, "keys", "revoke", "k1", "--compromised-since", "2030-01-01T00:00:00Z",
                   "--reason", "x", "--now", T1)  # fmt: skip
    assert future.exit_code == 2


def test_rotating_to_a_key_made_beforehand_uses_it(home: Path, tmp_path: Path) -> None:
    made = pith(home, "keys", "generate", "k2", "--signer", f"file:{tmp_path / 'hsm-like.p8'}",
                 "--json")  # fmt: skip
    fingerprint = json.loads(ok(made).stdout)["key"]["fingerprint_sha256_hex"]
    ok(pith(home, "keys", "rotate", "--to", "k2", "--now", T1))
    keys = KeySet.load(home / "keys")
    k2 = keys.get("k2")
    assert k2 is not None and k2.fingerprint == fingerprint
    assert [r.to_key.key_id for r in keys.rotations] == ["k2"]


def test_an_interrupted_rotation_is_finished_by_running_it_again(home: Path) -> None:
    ok(_rotate(home, "--now", T1))
    config = home / "signers.json"
    crashed = json.loads(config.read_text())
    crashed["current"] = "k1"  # as if the run died before switching the current key
    config.write_text(json.dumps(crashed))
    ok(_rotate(home, "--now", T2))
    assert json.loads(config.read_text())["current"] == "k2"
    keys = KeySet.load(home / "keys")
    assert [r.rotates_at.isoformat() for r in keys.rotations] == ["2026-07-01T00:00:00+00:00"]
    signer = f"file:{home.parent / 'k3.p8'}"
    ok(pith(home, "keys", "rotate", "--to", "k3", "--signer", signer, "--now", T3))
    chain = KeySet.load(home / "keys")
    assert [(r.from_key.key_id, r.to_key.key_id) for r in chain.rotations] == [
        ("k1", "k2"),
        ("k2", "k3"),
    ]


def test_reissue_draws_a_progress_bar_on_a_terminal(home: Path, tmp_path: Path) -> None:
    data = factory.snapshot(tmp_path / "more.json", range(10, 2510))
    ok(pith(home, "issue", str(data), "--workers", "1", "--now", T0))
    ok(_rotate(home, "--now", T1))
    code, out, drawn = pith_on_terminal(home, "reissue", "--now", T2, "--json")
    assert code == 0, drawn[-2000:]
    assert json.loads(out)["resigned"]["receipts"] == 2503  # stdout holds the report only
    assert b"re-signing" in drawn and b"2,503 receipts, 2,503 events re-signed" in drawn


def _spawn(home: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "issuer", "--home", str(home), *args],
        env={**os.environ, "PITH_KEY_PASSPHRASE": PASSPHRASE},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _finish(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode()


def _assert_consistent(home: Path) -> LocalKeys:
    """Every key record, statement and signer of ``home`` agrees with the others."""
    local = LocalKeys(home)
    keys = local.keys()  # refuses two keys under one id, statements that do not verify
    current = local.current()
    for key in keys:  # each recorded private key is the private key of its record
        Signer.from_uri(local.signer_uri(key.key_id), key, lambda _: PASSPHRASE)
    chain = {r.from_key.key_id: r.to_key.key_id for r in keys.rotations}
    assert current.key_id not in chain, "the current key has rotated away"
    assert all(keys.get(to) is not None for to in chain.values())
    return local


LOCKED = "another pith command is changing the keys"
TRIALS = 12  # before the lock, 11 trials in 20 broke the key home


@pytest.mark.slow
def test_two_concurrent_rotations_one_wins_the_other_is_refused(tmp_path: Path) -> None:
    template = tmp_path / "template"
    ok(pith(template, "keys", "generate", "k1", "--signer", f"file:{template / 'k1.p8'}"))
    for trial in range(TRIALS):
        home = tmp_path / f"home-{trial}"
        shutil.copytree(template, home)
        (home / "signers.json").write_text(
            (home / "signers.json").read_text().replace(str(template), str(home))
        )
        procs = [
            _spawn(home, "keys", "rotate", "--to", "k2", "--signer", f"file:{home / name}")
            for name in ("a.p8", "b.p8")
        ]
        results = [_finish(p) for p in procs]
        assert sorted(code for code, _ in results) in ([0, 2], [0, 3]), results
        refused = next(err for code, err in results if code)
        assert LOCKED in refused or "k2 is the current key already" in refused, refused
        assert "Traceback" not in refused
        local = _assert_consistent(home)
        assert local.current().key_id == "k2"


@pytest.mark.slow
def test_a_rotation_and_a_revocation_at_once_leave_a_consistent_home(tmp_path: Path) -> None:
    template = tmp_path / "template"
    ok(pith(template, "keys", "generate", "k1", "--signer", f"file:{template / 'k1.p8'}"))
    ok(pith(template, "keys", "rotate", "--to", "k2", "--signer", f"file:{template / 'k2.p8'}",
             "--now", T1))  # fmt: skip
    for trial in range(TRIALS // 2):
        home = tmp_path / f"home-{trial}"
        shutil.copytree(template, home)
        (home / "signers.json").write_text(
            (home / "signers.json").read_text().replace(str(template), str(home))
        )
        rotate = _spawn(home, "keys", "rotate", "--to", "k3", "--signer",
                        f"file:{home / 'k3.p8'}", "--now", T2)  # fmt: skip
        revoke = _spawn(home, "keys", "revoke", "k1", "--compromised-since", T0,
                        "--reason", "lost", "--now", T2)  # fmt: skip
        (rotated, rotate_err), (revoked, revoke_err) = _finish(rotate), _finish(revoke)
        for code, err in ((rotated, rotate_err), (revoked, revoke_err)):
            assert code == 0 or (code == 3 and LOCKED in err), err
        assert rotated == 0 or revoked == 0, "one of them must win"
        local = _assert_consistent(home)
        keys = local.keys()
        assert local.current().key_id == ("k3" if rotated == 0 else "k2")
        assert (keys.revocation("k1") is not None) == (revoked == 0)


def test_publishing_after_a_revocation_before_reissue_refuses_and_says_to_reissue(
    home: Path, tmp_path: Path
) -> None:
    """What only a revoked key signed is never published again, until it is re-signed."""
    ok(_rotate(home, "--now", T1))
    ok(pith(home, "keys", "revoke", "k1", "--compromised-since", T0, "--reason", "lost",
            "--now", T2))  # fmt: skip
    out = tmp_path / "out"
    early = pith(home, "publish", str(out), "--base-url", "https://r.example", "--now", T2)
    assert early.exit_code == 1
    refused = [line for line in early.stderr.splitlines() if line.startswith("refused")]
    assert len(refused) == 3 and all("key_revoked" in line for line in refused)
    assert "pith reissue" in early.stderr and "backup" not in early.stderr
    ok(pith(home, "reissue", "--now", T3))
    ok(pith(home, "publish", str(out), "--base-url", "https://r.example", "--now", T4))
