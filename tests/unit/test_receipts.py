"""Receipts (spec §6): the real one verifies; ours sign, verify and re-issue as specified."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from issuer.errors import VerificationError
from issuer.keys import SeedSigner
from issuer.keys.keyset import KeySet
from issuer.receipts import reissue_receipt, sign_receipt, verify_receipt

T0 = datetime(2026, 5, 17, 23, 59, 22, 45226, tzinfo=UTC)
DIGEST = "01fb2e589a9f14892d4f7066b2da0cbedbddaa333d2b71aa702d1be61b7854be"


def _real(real_bundle: dict[str, Any]) -> dict[str, Any]:
    receipt: dict[str, Any] = real_bundle["events"][0]["payload"]["receipt"]
    return receipt


def test_real_receipt_verifies_with_the_shipped_key(real_bundle: dict[str, Any]) -> None:
    verify_receipt(_real(real_bundle), real_bundle["canonical_sha256"], KeySet.shipped())


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("signature_b64", "A" * 86 + "==", "bad_receipt_signature"),
        ("canonical_sha256", "00" * 32, "receipt_digest_mismatch"),
        ("key_id", "pith-v2", "unknown_key"),
        ("public_key_fingerprint", "00" * 16, "fingerprint_mismatch"),
        ("signed_message", "canonical_sha256_hex", "malformed_receipt"),
        ("signed_at", "2026-05-17T23:59:22Z", "malformed_receipt"),
        ("signature_b64", "not base64!", "malformed_receipt"),
        ("receipt_version", "0.4", "malformed_receipt"),
    ],
)
def test_tampered_real_receipt_fails(
    real_bundle: dict[str, Any], field: str, value: str, reason: str
) -> None:
    receipt = copy.deepcopy(_real(real_bundle))
    receipt[field] = value
    with pytest.raises(VerificationError) as info:
        verify_receipt(receipt, real_bundle["canonical_sha256"], KeySet.shipped())
    assert info.value.reason == reason


def test_unsigned_fields_of_the_real_receipt_are_still_checked(real_bundle: dict[str, Any]) -> None:
    """The signature covers only the digest; every other field is checked for shape."""
    receipt = copy.deepcopy(_real(real_bundle))
    del receipt["builder_version"]
    with pytest.raises(VerificationError, match="missing"):
        verify_receipt(receipt, real_bundle["canonical_sha256"], KeySet.shipped())


def test_sign_is_deterministic_and_verifies() -> None:
    signer = SeedSigner("test-key", b"\x11" * 32)
    a = sign_receipt(DIGEST, signer, T0)
    b = sign_receipt(DIGEST, signer, T0)
    assert a == b
    assert (
        a["first_computed_at"]
        == a["last_reissued_at"]
        == a["signed_at"]
        == "2026-05-17T23:59:22.045226Z"
    )
    verify_receipt(a, DIGEST, KeySet([signer.public_key]))
    with pytest.raises(VerificationError):
        verify_receipt(a, DIGEST, KeySet.shipped())  # trust comes from the key set only


def test_reissue_keeps_first_computed_and_moves_last_reissued() -> None:
    old = SeedSigner("old-key", b"\x11" * 32)
    new = SeedSigner("new-key", b"\x22" * 32)
    first = sign_receipt(DIGEST, old, T0)
    later = T0 + timedelta(days=30)
    again = reissue_receipt(first, new, later)
    assert again["first_computed_at"] == first["first_computed_at"]
    assert again["last_reissued_at"] == again["signed_at"] == "2026-06-16T23:59:22.045226Z"
    assert again["canonical_sha256"] == DIGEST and again["key_id"] == "new-key"
    verify_receipt(again, DIGEST, KeySet([new.public_key]))
