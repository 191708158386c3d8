"""Objects the toolkit built itself skip the validation walk, with the very same bytes.

``bundle_digest(parsed=True)`` / ``sign_bundle(parsed=True)`` and
``merge(parsed=True)`` are what publishing uses; the strict default stays for
anything else, and it still refuses what canonical JSON cannot hold.
"""

from __future__ import annotations

from typing import Any

import pytest

from issuer.bundles import bundle_digest, sign_bundle
from issuer.cjson import CanonicalJSONError
from issuer.keys import PublicKey
from issuer.keys.keyset import KeySet
from issuer.merge import merge
from tests import factory


def test_the_fast_digest_of_the_real_bundle_is_the_strict_one(real_bundle: dict[str, Any]) -> None:
    assert bundle_digest(real_bundle, parsed=True) == bundle_digest(real_bundle)
    assert bundle_digest(real_bundle).hex() == real_bundle["bundle_signature"]["bundle_sha256"]


def test_signing_is_strict_unless_told_the_bundle_is_the_toolkits(
    real_bundle: dict[str, Any],
) -> None:
    hostile = {**real_bundle, "built_at": 1.5}  # a float: outside canonical JSON
    with pytest.raises(CanonicalJSONError):
        sign_bundle(hostile, factory.signer(), factory.T0)
    with pytest.raises(CanonicalJSONError):
        bundle_digest(hostile)
    # The fast path is only for what the toolkit built; it does not check (orjson writes it).
    assert len(bundle_digest(hostile, parsed=True)) == 32
    resigned = sign_bundle(hostile, factory.signer(), factory.T0, parsed=True)
    assert resigned["built_at"] == 1.5
    assert (
        resigned["bundle_signature"]["bundle_sha256"] == bundle_digest(hostile, parsed=True).hex()
    )
    signed = sign_bundle(real_bundle, factory.signer(), factory.T0, parsed=True)
    assert signed == sign_bundle(real_bundle, factory.signer(), factory.T0)


def test_merge_of_parsed_events_is_the_strict_merge(real_bundle: dict[str, Any]) -> None:

    keys = KeySet([PublicKey.from_dict(k) for k in real_bundle["public_keys"]])
    args = (
        real_bundle["pith_number"],
        real_bundle["events"],
        real_bundle["source_aliases"],
        keys,
    )
    assert merge(*args, parsed=True) == merge(*args) == real_bundle["state"]
