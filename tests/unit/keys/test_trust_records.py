"""Key records the trust builder (spec §10) is handed twice, or under two names.

A key document may list one key twice (two files, an old and a new copy of
a record); a key may also be named by two ids. Neither may widen what a
verifier trusts: of two ``rotates_at`` the earlier wins whichever way trust
is built, and a revocation of a key cannot be stepped round by naming the
key another way.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from issuer.errors import VerificationError
from issuer.keys import SeedSigner
from issuer.keys._public import PublicKey
from issuer.keys._statements import parse_statement, sign_revocation, sign_rotation
from issuer.keys.keyset import KeySet, Material
from issuer.reasons import Reason
from tests import factory

T0 = factory.T0
DAY = timedelta(days=1)
R1 = T0 + 30 * DAY
K1, K2 = factory.signer(1), factory.signer(2)


def _window(keys: KeySet, key_id: str) -> str | None:
    key = keys.get(key_id)
    assert key is not None
    return key.rotates_at


@pytest.mark.parametrize("rotating_first", [True, False])
def test_a_pinned_root_listed_twice_keeps_the_earlier_rotates_at(rotating_first: bool) -> None:
    records = [K1.public_key, K1.public_key.with_rotation(R1)]
    material = Material(records[::-1] if rotating_first else records)
    pinned = KeySet.trusting(material, material.find(K1.key_id))
    assert _window(pinned, K1.key_id) == _window(KeySet.trusting(material), K1.key_id)
    with pytest.raises(VerificationError) as refused:
        pinned.require(K1.key_id, K1.public_key.fingerprint, R1 + DAY)
    assert refused.value.reason == Reason.KEY_NOT_VALID


@pytest.mark.parametrize("rotating_first", [True, False])
def test_a_key_reached_by_rotation_listed_twice_keeps_the_earlier_rotates_at(
    rotating_first: bool,
) -> None:
    rotation = parse_statement(sign_rotation(K1, K2, rotates_at=R1, issued_at=T0))
    records = [K2.public_key, K2.public_key.with_rotation(R1 + DAY)]
    ordered = records[::-1] if rotating_first else records
    material = Material([K1.public_key, *ordered], [rotation])
    pinned = KeySet.trusting(material, material.find(K1.key_id))
    assert _window(pinned, K2.key_id) == _window(KeySet.trusting(material), K2.key_id)
    assert not pinned.valid_at(K2.public_key, R1 + 2 * DAY)


def _refusal(material: Material) -> str:
    with pytest.raises(VerificationError) as refused:
        KeySet.trusting(material)
    assert refused.value.reason == Reason.BAD_KEY_STATEMENT
    return refused.value.message


def test_one_key_listed_under_two_ids_is_refused() -> None:
    alias = dataclasses.replace(K2.public_key, key_id="alias")
    revocation = parse_statement(
        sign_revocation(K2.public_key, K1, compromised_since=T0, reason="leaked", issued_at=R1)
    )
    message = _refusal(Material([K1.public_key, K2.public_key, alias], [revocation]))
    assert message == (
        f"one key ({K2.public_key.fingerprint}) is called both {K2.key_id} and alias"
    )


def test_a_rotation_to_a_trusted_key_under_another_id_is_refused() -> None:
    alias = SeedSigner("alias", bytes([2]) * 32)  # K2's key, named otherwise
    rotation = parse_statement(sign_rotation(K1, alias, rotates_at=R1, issued_at=T0))
    message = _refusal(Material([K1.public_key, K2.public_key], [rotation]))
    assert message == (
        f"one key ({K2.public_key.fingerprint}) is called both {K2.key_id} and alias"
    )


def test_a_rotation_to_a_key_trusted_under_the_same_id_is_followed() -> None:
    rotation = parse_statement(sign_rotation(K1, K2, rotates_at=R1, issued_at=T0))
    keys = KeySet.trusting(Material([K1.public_key, K2.public_key], [rotation]))
    assert keys.successor(K1.public_key) == PublicKey(K2.key_id, K2.public_key.raw)
