"""Log proofs in bundles (issue 16 §4), verify side: a named scenario table.

Bundles are built here with :func:`tests.conformance._log_cases.with_proofs`;
the publish side (the registry builds the same objects) is in
``test_registry_log_publish.py``.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest

from issuer.errors import VerificationError
from issuer.keys import SeedSigner
from issuer.keys.keyset import KeySet
from issuer.reasons import Reason
from issuer.tlog import COSIGNATURE_ED25519, Note, NoteSigner, cosign
from issuer.verify import LogPolicy, log_policy, verify_bundle
from tests.conformance._log_cases import with_proofs
from tests.conformance.forge import GOOD, K1, K2, LATER, TRUSTED, resign
from tests.conftest import BUNDLE_PATH

W1, W2, W3 = (
    NoteSigner(
        f"witness.example/w{n}", COSIGNATURE_ED25519, SeedSigner(f"w{n}", bytes([40 + n]) * 32)
    )
    for n in (1, 2, 3)
)
Json = dict[str, Any]


def _cosigned(bundle: Json, *witnesses: NoteSigner, forge: NoteSigner | None = None) -> Json:
    """``bundle`` with its checkpoint cosigned by ``witnesses`` (``forge``: a bad cosignature)."""
    proofs = copy.deepcopy(bundle["timestamp_proofs"])
    note = Note.parse(proofs[0]["checkpoint"].encode())
    extra = [cosign(note.text, w, timestamp=1_780_000_000) for w in witnesses]
    if forge is not None:
        good = cosign(note.text, forge, timestamp=1_780_000_000)
        extra.append(type(good)(good.name, good.key_id, good.signature[:-1] + b"\x00"))
    cosigned = note.with_signatures(*extra).to_bytes().decode()
    for p in proofs:
        p["checkpoint"] = cosigned
    return resign(bundle, timestamp_proofs=proofs)


def _rotated_keys() -> KeySet:
    """K1 counts only until before the bundle was built (its rotates_at); K2 after."""
    return KeySet([K1.public_key.with_rotation(LATER - timedelta(days=2)), K2.public_key])


PROVEN = with_proofs(GOOD)
WITNESSES = (W1.verifier_key, W2.verifier_key, W3.verifier_key)

# name: (bundle, keys, policy, expected reason or None)
SCENARIOS: dict[str, tuple[Json, KeySet, LogPolicy, Reason | None]] = {
    "no proof, log not required": (GOOD, TRUSTED, LogPolicy(), None),
    "no proof, --require-log": (GOOD, TRUSTED, LogPolicy(require=True), Reason.MISSING_LOG_PROOF),
    "every leaf proven, --require-log": (PROVEN, TRUSTED, LogPolicy(require=True), None),
    "one leaf's proof dropped, --require-log": (
        resign(PROVEN, timestamp_proofs=PROVEN["timestamp_proofs"][1:]),
        TRUSTED,
        LogPolicy(require=True),
        Reason.MISSING_LOG_PROOF,
    ),
    "one leaf's proof dropped, log not required": (
        resign(PROVEN, timestamp_proofs=PROVEN["timestamp_proofs"][1:]),
        TRUSTED,
        LogPolicy(),
        None,
    ),
    "proof against a checkpoint of another origin than expected": (
        PROVEN,
        TRUSTED,
        LogPolicy(origin="pith.science"),
        Reason.ORIGIN_MISMATCH,
    ),
    "checkpoint signed by a key after its rotates_at": (
        resign(PROVEN, K2),
        _rotated_keys(),
        LogPolicy(),
        Reason.KEY_NOT_VALID,
    ),
    "checkpoint signed by an untrusted key": (
        with_proofs(GOOD, signer=K2),
        TRUSTED,
        LogPolicy(),
        Reason.NO_LOG_SIGNATURE,
    ),
    "2 of 3 witnesses cosigned, 2 required": (
        _cosigned(PROVEN, W1, W3),
        TRUSTED,
        LogPolicy(witnesses=WITNESSES, threshold=2),
        None,
    ),
    "cosignatures below the threshold": (
        _cosigned(PROVEN, W1),
        TRUSTED,
        LogPolicy(witnesses=WITNESSES, threshold=2),
        Reason.WITNESS_THRESHOLD,
    ),
    "a forged cosignature": (
        _cosigned(PROVEN, W1, forge=W2),
        TRUSTED,
        LogPolicy(witnesses=WITNESSES, threshold=1),
        Reason.BAD_COSIGNATURE,
    ),
    "a proof for another size than its checkpoint's": (
        resign(
            PROVEN,
            timestamp_proofs=[
                {**p, "tree_size": p["tree_size"] + 1} for p in PROVEN["timestamp_proofs"]
            ],
        ),
        TRUSTED,
        LogPolicy(),
        Reason.BAD_INCLUSION_PROOF,
    ),
    "a timestamp proof of an unknown type": (
        resign(GOOD, timestamp_proofs=[{"type": "rfc3161"}]),
        TRUSTED,
        LogPolicy(),
        Reason.MALFORMED,
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS), ids=list(SCENARIOS))
def test_log_proof_scenarios(name: str) -> None:
    bundle, keys, policy, reason = SCENARIOS[name]
    if reason is None:
        verify_bundle(bundle, keys, log=policy)
        return
    with pytest.raises(VerificationError) as caught:
        verify_bundle(bundle, keys, log=policy)
    assert (caught.value.step, caught.value.reason) == ("log", reason), caught.value.message


def test_the_real_registry_bundle_has_no_proof_and_verifies_unless_the_log_is_required() -> None:
    real = json.loads(BUNDLE_PATH.read_bytes())
    assert real["timestamp_proofs"] == []
    keys = KeySet.shipped()
    verify_bundle(real, keys)
    with pytest.raises(VerificationError) as caught:
        verify_bundle(real, keys, log=LogPolicy(require=True))
    assert caught.value.reason == Reason.MISSING_LOG_PROOF


def test_policy_from_command_line_keys() -> None:
    policy = log_policy(require=True, witnesses=[str(W1.verifier_key)], threshold=1)
    assert policy.required == 1 and policy.witnesses == (W1.verifier_key,)
    with pytest.raises(ValueError, match="threshold"):
        log_policy(witnesses=[str(W1.verifier_key)], threshold=2)
