"""The verifier on parsed values it did not parse itself: strict hashing, never the fast path.

``verify_bundle`` takes a dict from any JSON parser. Its hashes must come from
the strict canonical encoder, which refuses what canonical JSON cannot hold
(a float, say): the ``dumps_parsed`` fast path is only for values that came
from ``cjson.loads``, and would hash a float without complaint.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from issuer import cjson
from issuer.errors import VerificationError
from issuer.verify import verify_bundle, verify_bundle_bytes
from tests.conformance.forge import GOOD, TRUSTED, resign


def _with_float(where: str) -> dict[str, Any]:
    bundle: dict[str, Any] = cjson.loads(cjson.dumps(GOOD))  # no object shared with events
    if where == "state":
        bundle["state"]["current"]["graph_snapshots"][0]["payload"]["weight"] = 0.5
        return bundle
    bundle["mirror_hints"][0]["weight"] = 0.5
    return bundle


@pytest.mark.parametrize("where", ["state", "mirror_hints"])
def test_a_float_is_refused_as_malformed_not_hashed(where: str) -> None:
    with pytest.raises(VerificationError) as refused:
        verify_bundle(_with_float(where), TRUSTED)
    assert (refused.value.step, refused.value.reason) == ("structure", "malformed")


def test_a_parsed_dict_verifies_like_its_bytes() -> None:
    assert verify_bundle(copy.deepcopy(GOOD), TRUSTED) == verify_bundle_bytes(
        cjson.dumps(GOOD), TRUSTED
    )


def test_a_non_dict_is_malformed() -> None:
    values: tuple[object, ...] = ([], "bundle", None, 3)
    for value in values:
        with pytest.raises(VerificationError) as refused:
            verify_bundle(value, TRUSTED)
        assert (refused.value.step, refused.value.reason) == ("structure", "malformed")


def test_resigned_good_bundle_still_verifies() -> None:
    """The forging helper itself: re-signing an unchanged bundle keeps it valid."""
    assert verify_bundle(resign(GOOD), TRUSTED).signed_by == "test-registry-1"
