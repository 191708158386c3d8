"""Receipts (spec §6) behaviour that mutation testing found unpinned (docs/mutation.md)."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from issuer.receipts import BUILDER_VERSION, reissue_receipt, sign_receipt
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
