"""Step (10) checks a bundle's proofs of one tree together, and remembers the tree's nodes.

The proofs of ``PROVEN`` are of leaves 5, 6 and 7 of a 10-leaf log: 6 and 7
are siblings, and 5 meets them at node [4, 8). Whatever the verifier
remembers from earlier bundles, each refusal is the one of checking every
proof alone; what it saves is pinned by counting node hashes.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from issuer.errors import VerificationError
from issuer.reasons import Reason
from issuer.tlog import leaf_hash
from issuer.verify import LogPolicy, _proofs, check_log_proofs
from tests.conformance._log_cases import log_with, with_proofs
from tests.conformance.forge import GOOD, TRUSTED, resign
from tests.unit.verify.test_proofs import BUILT, PROVEN

Json = dict[str, Any]


def _fresh() -> None:
    """Forget every tree the verifier remembers (both ways of checking a proof)."""
    _proofs._tree.cache_clear()
    _proofs._spelled.cache_clear()


def _check(bundle: Json) -> None:
    check_log_proofs(bundle, TRUSTED, BUILT, LogPolicy())


def _flipped(bundle: Json, which: int, at: int) -> Json:
    proofs = copy.deepcopy(bundle["timestamp_proofs"])
    raw = bytearray(base64.b64decode(proofs[which]["proof"][at]))
    raw[0] ^= 1
    proofs[which]["proof"][at] = base64.b64encode(bytes(raw)).decode()
    return resign(bundle, timestamp_proofs=proofs)


def _refusal(bundle: Json) -> tuple[str, str]:
    with pytest.raises(VerificationError) as caught:
        _check(bundle)
    assert caught.value.step == "log"
    return caught.value.reason, caught.value.message


ANOTHER_ROOT = "inclusion proof: it leads to another root than the tree of size 10"
SHARED = {
    # (proof, hash): its proof hashes are [sibling, ..., ...]
    "record right, created wrong at the shared node [4, 8)": (1, 1),
    "record right, created wrong below it (its sibling)": (1, 0),
    "record right, snapshot wrong above the shared node": (2, 2),
    "record wrong below the shared node, the others right": (0, 0),
    "record wrong at the shared node": (0, 1),
}


@pytest.mark.parametrize("remembered", [False, True], ids=["fresh", "after-a-good-bundle"])
@pytest.mark.parametrize(("which", "at"), SHARED.values(), ids=SHARED.keys())
def test_a_wrong_proof_is_refused_beside_right_ones_with_its_own_message(
    which: int, at: int, remembered: bool
) -> None:
    _fresh()
    if remembered:
        _check(PROVEN)
    assert _refusal(_flipped(PROVEN, which, at)) == (
        Reason.BAD_INCLUSION_PROOF,
        f"timestamp_proofs[{which}]: {ANOTHER_ROOT}",
    )


def test_the_proofs_of_one_bundle_share_their_upper_nodes(node_hashes: list[int]) -> None:
    """Leaf 5 folds to the root: 4 hashes; 6 hashes its parent [6, 8), whose parent
    [4, 8) is remembered with both children: 1; 7 is 6's sibling: none."""
    _fresh()
    _check(PROVEN)
    assert len(node_hashes) == 5


def test_a_tree_seen_in_an_earlier_bundle_is_not_hashed_again(node_hashes: list[int]) -> None:
    """Once its checkpoint has passed (as after any bundle of the publication)."""
    _check(PROVEN)
    _fresh()
    node_hashes.clear()
    _check(PROVEN)
    before = len(node_hashes)
    _check(resign(PROVEN))
    assert len(node_hashes) == before


def test_the_first_bundle_quick_after_the_steps_folds_its_proofs_once_more(
    node_hashes: list[int],
) -> None:
    """The steps (InclusionVerifier) and the quick way (SpelledInclusions) each remember
    their own nodes: in a fresh process the first bundle of a checkpoint goes through the
    steps (5 hashes), the second the quick way, which folds its proofs once (5 more)."""
    _proofs._VETTED.clear()
    _fresh()
    _check(PROVEN)
    assert len(node_hashes) == 5
    _check(resign(PROVEN))
    assert len(node_hashes) == 10
    _check(resign(PROVEN))
    assert len(node_hashes) == 10


def test_proofs_against_two_checkpoints_are_each_checked_in_their_own_tree() -> None:
    _fresh()
    longer = with_proofs(GOOD, entries=log_with(GOOD, after=3))  # the same leaves, size 11
    mixed = resign(
        PROVEN, timestamp_proofs=[PROVEN["timestamp_proofs"][0], *longer["timestamp_proofs"][1:]]
    )
    out = check_log_proofs(mixed, TRUSTED, BUILT, LogPolicy())
    assert [v.tree_size for v in out] == [10, 11, 11]
    assert _proofs._tree.cache_info().currsize == 2
    flipped = _flipped(mixed, 2, 0)
    assert _refusal(flipped) == (
        Reason.BAD_INCLUSION_PROOF,
        "timestamp_proofs[2]: inclusion proof: it leads to another root than the tree of size 11",
    )


@pytest.mark.parametrize("quick", [True, False], ids=["quick-way", "steps-only"])
def test_each_leaf_hash_is_computed_once(monkeypatch: pytest.MonkeyPatch, quick: bool) -> None:
    """Whichever way the bundle goes (the quick way once its checkpoint has passed)."""
    hashed: list[bytes] = []
    real = leaf_hash

    def counting(entry: bytes) -> bytes:
        hashed.append(entry)
        return real(entry)

    monkeypatch.setattr(_proofs, "leaf_hash", counting)
    monkeypatch.setattr(_proofs, "_QUICK", quick)
    check_log_proofs(PROVEN, TRUSTED, BUILT, LogPolicy())  # its checkpoint passes
    hashed.clear()
    proofs = PROVEN["timestamp_proofs"]
    twice = resign(PROVEN, timestamp_proofs=[*proofs, proofs[0]])
    assert len(check_log_proofs(twice, TRUSTED, BUILT, LogPolicy())) == 4
    assert len(hashed) == 3
