"""Key records the trust builder (spec §10) is handed twice.

A key document may list one key twice (two files, an old and a new copy of
a record). That may not widen what a verifier trusts: of two ``rotates_at``
the earlier wins whichever way trust is built.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from issuer.errors import VerificationError
from issuer.keys._statements import parse_statement, sign_rotation
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
