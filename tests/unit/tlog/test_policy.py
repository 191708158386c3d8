"""Checkpoint policy: the real Rekor v2 checkpoint, every byte of it, and a scenario table."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from issuer.errors import FormatError, VerificationError
from issuer.reasons import Reason
from issuer.tlog import (
    COSIGNATURE_ED25519,
    ED25519,
    Checkpoint,
    CheckpointPolicy,
    Note,
    NoteSignature,
    NoteSigner,
    VerifierKey,
    cosign,
    parse_keys,
    sign_note,
    verify_checkpoint,
    verify_checkpoint_report,
)
from issuer.tlog._policy import STEPS
from tests import factory
from tests.conftest import VECTORS, data_file

CHECKPOINTS = VECTORS / "checkpoints"
REAL: dict[str, Any] = json.loads(data_file(CHECKPOINTS / "real-checkpoints.json").read_text())
REKOR = data_file(CHECKPOINTS / "rekor-v2-log2025-1.checkpoint").read_bytes()
LOG_KEY, WITNESS_KEYS = parse_keys(REAL["log_vkey"], REAL["witness_vkeys"])
REKOR_POLICY = CheckpointPolicy(LOG_KEY, WITNESS_KEYS, 3)


def test_the_fixture_is_the_checkpoint_in_the_json() -> None:
    assert REKOR.decode() == REAL["checkpoint"]


def test_real_rekor_checkpoint_verifies_with_three_witnesses() -> None:
    expect = REAL["expect"]
    result = verify_checkpoint(REKOR, REKOR_POLICY)
    cp = result.checkpoint
    assert (cp.origin, cp.size) == (expect["origin"], expect["tree_size"])
    assert cp.text().splitlines()[2] == expect["root_hash_b64"]
    assert len(result.cosignatures) == expect["witness_cosignatures_verify"] == 3
    assert {c.timestamp for c in result.cosignatures} == {expect["cosignature_time"]}
    assert [c.key for c in result.cosignatures] == list(WITNESS_KEYS)


def _mutants(data: bytes) -> list[tuple[int, int, bytes]]:
    out = []
    for i in range(len(data)):
        for bit in range(8):
            mask = 1 << bit
            mutated = bytearray(data)
            mutated[i] ^= mask
            out.append((i, mask, bytes(mutated)))
    return out


def test_flipping_any_byte_of_the_rekor_checkpoint_fails() -> None:
    """Every bit of every byte: none of the 5,152 mutants verifies.

    Flipping bits of a base64 character can leave the decoded bytes alone
    (the padding bits of the last character), so this also pins the
    one-spelling-per-value base64 check.
    """
    accepted = [
        (i, mask)
        for i, mask, mutated in _mutants(REKOR)
        if verify_checkpoint_report(mutated, REKOR_POLICY).ok
    ]
    assert accepted == []


def test_each_witness_counts_once_and_unknown_cosignatures_are_ignored() -> None:
    note = Note.parse(REKOR)
    duplicated = note.with_signatures(note.signatures[1], note.signatures[1])
    stranger = NoteSignature("witness.elsewhere", b"\x00\x00\x00\x01", bytes(72))
    noisy = duplicated.with_signatures(stranger).to_bytes()
    assert len(verify_checkpoint(noisy, REKOR_POLICY).cosignatures) == 3
    without_two = Note(note.text, (*note.signatures[:2], stranger)).to_bytes()
    report = verify_checkpoint_report(without_two, REKOR_POLICY)
    assert report.reason == Reason.WITNESS_THRESHOLD
    assert verify_checkpoint_report(without_two, CheckpointPolicy(LOG_KEY, WITNESS_KEYS, 1)).ok


# --- scenarios -------------------------------------------------------------

ORIGIN = "pith.example/log"
LOG = NoteSigner(ORIGIN, ED25519, factory.signer(1))
OTHER_LOG = NoteSigner(ORIGIN, ED25519, factory.signer(9))
W = [NoteSigner(f"witness{n}.example", COSIGNATURE_ED25519, factory.signer(n)) for n in (2, 3, 4)]
W_KEYS = tuple(w.verifier_key for w in W)
BODY = Checkpoint(ORIGIN, 1234, bytes(range(32))).text()


def _checkpoint(
    body: str = BODY, log: NoteSigner = LOG, witnesses: list[NoteSigner] | None = None
) -> bytes:
    note = sign_note(body, [log])
    cosigs = [cosign(body, w, timestamp=1_800_000_000) for w in witnesses or []]
    return note.with_signatures(*cosigs).to_bytes()


def _forged_cosignature() -> bytes:
    note = Note.parse(_checkpoint(witnesses=W[:2]))
    key = W_KEYS[2]
    forged = NoteSignature(key.name, key.key_id, (1).to_bytes(8, "big") + bytes(64))
    return note.with_signatures(forged).to_bytes()


def _cosignature_of_another_checkpoint() -> bytes:
    other = Checkpoint(ORIGIN, 1235, bytes(32)).text()
    note = Note.parse(_checkpoint(witnesses=W[:2]))
    return note.with_signatures(cosign(other, W[2], timestamp=5)).to_bytes()


@dataclass(frozen=True)
class Scenario:
    make: Callable[[], bytes]
    threshold: int | None
    expect: Reason | type[Exception] | None  # None: verifies


SCENARIOS: dict[str, Scenario] = {
    "all three witnesses, default threshold (all)": Scenario(
        lambda: _checkpoint(witnesses=W), None, None
    ),
    "two of three, threshold 2": Scenario(lambda: _checkpoint(witnesses=W[:2]), 2, None),
    "no witnesses needed, none present": Scenario(_checkpoint, 0, None),
    "cosignatures below the threshold": Scenario(
        lambda: _checkpoint(witnesses=W[:1]), 2, Reason.WITNESS_THRESHOLD
    ),
    "a forged cosignature, even with enough good ones": Scenario(
        _forged_cosignature, 2, Reason.BAD_COSIGNATURE
    ),
    "a cosignature of another checkpoint": Scenario(
        _cosignature_of_another_checkpoint, 2, Reason.BAD_COSIGNATURE
    ),
    "signed by another key under the log's name": Scenario(
        lambda: _checkpoint(log=OTHER_LOG, witnesses=W), None, Reason.NO_LOG_SIGNATURE
    ),
    "a checkpoint of another origin": Scenario(
        lambda: _checkpoint(body=Checkpoint("evil.example/log", 1, bytes(32)).text()),
        0,
        Reason.ORIGIN_MISMATCH,
    ),
    "cosigned but not signed by the log": Scenario(
        lambda: (
            Note(BODY, ()).with_signatures(*[cosign(BODY, w, timestamp=1) for w in W]).to_bytes()
        ),
        None,
        Reason.NO_LOG_SIGNATURE,
    ),
    "a body that is not a checkpoint": Scenario(
        lambda: _checkpoint(body=f"{ORIGIN}\n12x\nAAAA\n"), 0, FormatError
    ),
}


@pytest.mark.parametrize("name", SCENARIOS, ids=list(SCENARIOS))
def test_policy_scenarios(name: str) -> None:
    scenario = SCENARIOS[name]
    policy = CheckpointPolicy(LOG.verifier_key, W_KEYS, scenario.threshold)
    data = scenario.make()
    if scenario.expect is None:
        verify_checkpoint(data, policy)
    elif isinstance(scenario.expect, Reason):
        with pytest.raises(VerificationError) as e:
            verify_checkpoint(data, policy)
        assert e.value.reason == scenario.expect
        report = verify_checkpoint_report(data, policy)
        assert report.reason == scenario.expect
        assert report.step in STEPS
    else:
        with pytest.raises(scenario.expect):
            verify_checkpoint(data, policy)
        report = verify_checkpoint_report(data, policy)
        assert (report.reason, report.step) == (Reason.MALFORMED, "format")


@pytest.mark.parametrize(
    "make",
    [
        lambda: CheckpointPolicy(LOG.verifier_key, W_KEYS, 4),
        lambda: CheckpointPolicy(LOG.verifier_key, W_KEYS, -1),
        lambda: CheckpointPolicy(LOG.verifier_key, (W_KEYS[0], W_KEYS[0])),
        lambda: CheckpointPolicy(W_KEYS[0]),
        lambda: CheckpointPolicy(LOG.verifier_key, (LOG.verifier_key,)),
    ],
    ids=[
        "threshold-above-m",
        "negative-threshold",
        "duplicate-witness",
        "log-key-type-4",
        "witness-type-1",
    ],
)
def test_impossible_policies_are_caller_errors(make: Callable[[], CheckpointPolicy]) -> None:
    with pytest.raises(ValueError):
        make()


def test_parse_keys_checks_the_types() -> None:
    with pytest.raises(FormatError, match="log key"):
        parse_keys(REAL["witness_vkeys"][0], [])
    with pytest.raises(FormatError, match="witness key"):
        parse_keys(REAL["log_vkey"], [REAL["log_vkey"]])


def test_report_json_names_the_cosigners_and_no_secret() -> None:
    report = verify_checkpoint_report(REKOR, REKOR_POLICY, "rekor").to_dict()
    assert report["ok"] is True
    assert report["tree_size"] == 114068855
    assert [c["name"] for c in report["cosignatures"]] == [k.name for k in WITNESS_KEYS]
    assert isinstance(VerifierKey.parse(REAL["log_vkey"]), VerifierKey)
