"""Receipts (spec §6) behaviour that mutation testing found unpinned (docs/mutation.md)."""

from __future__ import annotations

import base64
import copy
from datetime import timedelta
from typing import Any

import pytest

from issuer.errors import FormatError, VerificationError
from issuer.keys.keyset import KeySet
from issuer.reasons import Reason
from issuer.receipts import (
    BUILDER_VERSION,
    decode_signature,
    reissue_receipt,
    sign_receipt,
    verify_receipt,
)
from tests import factory

KEY = factory.signer(1)


def test_reissuing_keeps_the_builder_that_first_computed_the_record(
    real_bundle: dict[str, Any],
) -> None:
    receipt = copy.deepcopy(real_bundle["events"][0]["payload"]["receipt"])
    again = reissue_receipt(receipt, KEY, factory.T0 + timedelta(days=30))
    assert again["builder_version"] == "pith-number-builder-2026-05-17-v1" != BUILDER_VERSION
    assert again["first_computed_at"] == receipt["first_computed_at"]


@pytest.mark.parametrize("digest", ["AB" * 32, "ab" * 31, "zz" * 32])
def test_signing_refuses_a_digest_that_is_not_lowercase_sha256_hex(digest: str) -> None:
    with pytest.raises(ValueError) as e:
        sign_receipt(digest, KEY, factory.T0)
    assert str(e.value) == "canonical_sha256 must be 64 lowercase hex characters"


def _receipt() -> dict[str, Any]:
    return sign_receipt(DIGEST, KEY, factory.T0)


DIGEST = "01fb2e589a9f14892d4f7066b2da0cbedbddaa333d2b71aa702d1be61b7854be"
TRUSTED = KeySet([KEY.public_key])


def _refusal(receipt: object, digest: str = DIGEST) -> VerificationError:
    with pytest.raises(VerificationError) as e:
        verify_receipt(receipt, digest, TRUSTED)
    return e.value


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (None, None, "receipt: expected an object"),
        ("kind", "pith_event", "receipt: kind is 'pith_event', expected 'pith_receipt'"),
        (
            "canonical_sha256",
            DIGEST.upper(),
            "receipt: canonical_sha256 is not a lowercase SHA-256 hex",
        ),
        ("canonical_sha256", 7, "receipt: canonical_sha256 is not a lowercase SHA-256 hex"),
        ("key_id", 1, "receipt: key_id must be a string"),
        ("signature_b64", ["x"], "receipt: signature_b64 must be a string"),
        (
            "signature_b64",
            base64.b64encode(b"\x01" * 63).decode("ascii"),
            "receipt: signature_b64 is not a canonical 64-byte signature",
        ),
        (
            "signature_b64",
            base64.b64encode(b"\x01" * 65).decode("ascii"),
            "receipt: signature_b64 is not a canonical 64-byte signature",
        ),
    ],
)
def test_a_malformed_receipt_is_refused_at_the_receipt_step_with_its_message(
    field: str | None, value: object, message: str
) -> None:
    receipt: object = [] if field is None else {**_receipt(), field: value}
    error = _refusal(receipt)
    assert (error.reason, error.step, error.message) == (
        Reason.MALFORMED_RECEIPT,
        "receipt",
        message,
    )


def test_a_string_signature_check_names_where_it_was_found() -> None:
    with pytest.raises(FormatError) as e:
        decode_signature(5, "event 3")
    assert e.value.message == "event 3: signature_b64 must be a string"


def test_a_receipt_for_another_record_is_refused_at_the_receipt_step() -> None:
    error = _refusal(_receipt(), "ab" * 32)
    assert (error.reason, error.step, error.message) == (
        Reason.RECEIPT_DIGEST_MISMATCH,
        "receipt",
        "receipt covers a different canonical_sha256 than the record",
    )


def test_a_bad_receipt_signature_is_refused_at_the_receipt_step_naming_the_key() -> None:
    receipt = _receipt()
    receipt["signature_b64"] = base64.b64encode(b"\x00" * 64).decode("ascii")
    error = _refusal(receipt)
    assert (error.reason, error.step, error.message) == (
        Reason.BAD_RECEIPT_SIGNATURE,
        "receipt",
        f"receipt signature does not verify under key {KEY.public_key.key_id}",
    )
