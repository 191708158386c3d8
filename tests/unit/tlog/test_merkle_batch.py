"""Inclusion proofs of one tree checked together (``InclusionVerifier``, ``verify_inclusions``).

The batched check must give :func:`verify_inclusion`'s verdict and message for
every proof, whatever came before it: the RFC 6962 vectors, every pair of
leaves of small trees, hypothesis against the one-by-one fold for every kind
of corruption, and the named cases of a shared node (wrong below it, wrong
above it, right only in the first proof). What it saves is pinned by counting
node hashes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.errors import VerificationError
from issuer.reasons import Reason
from issuer.tlog import (
    InclusionVerifier,
    MemoryTree,
    _merkle,
    inclusion_proof,
    leaf_hash,
    verify_inclusion,
    verify_inclusions,
)
from tests.conftest import VECTORS

INCLUSION = VECTORS / "merkle" / "inclusion"
CASES = sorted(INCLUSION.rglob("*.json"))
Proof = tuple[int, bytes, list[bytes]]


def _verdict_one(size: int, root: bytes, index: int, leaf: bytes, proof: Sequence[bytes]) -> str:
    try:
        verify_inclusion(index, size, leaf, proof, root)
    except VerificationError as e:
        assert e.reason == Reason.BAD_INCLUSION_PROOF
        return e.message
    return "ok"


def _verdicts(size: int, root: bytes, proofs: Sequence[Proof]) -> tuple[list[str], list[str]]:
    """Each proof's verdict through one InclusionVerifier (in order), and one by one."""
    verifier = InclusionVerifier(size, root)
    batched = []
    for index, leaf, proof in proofs:
        try:
            verifier.verify(index, leaf, proof)
        except VerificationError as e:
            assert e.reason == Reason.BAD_INCLUSION_PROOF
            batched.append(e.message)
        else:
            batched.append("ok")
    return batched, [_verdict_one(size, root, *p) for p in proofs]


def _tree(size: int) -> MemoryTree:
    return MemoryTree(leaf_hash(b"leaf %d" % i) for i in range(size))


def _proofs(tree: MemoryTree, size: int, indices: Sequence[int]) -> list[Proof]:
    return [(i, tree.node(0, i), inclusion_proof(tree, i, size)) for i in indices]


# -- the RFC 6962 vectors ------------------------------------------------------------------


def _vector(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text())
    return case


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _vector_proof(case: dict[str, Any]) -> Proof:
    return case["leafIdx"], _b64(case["leafHash"]), [_b64(p) for p in case["proof"] or []]


HAPPY = [_vector(p) for p in CASES if not _vector(p)["wantErr"]]


def _case_id(path: Path) -> str:
    return str(path.relative_to(INCLUSION))


@pytest.mark.parametrize("path", CASES, ids=_case_id)
def test_vector_after_every_accepted_proof_of_its_tree(path: Path) -> None:
    """Each vector, checked after the happy paths of the same tree: same verdict, same message."""
    case = _vector(path)
    size, root = case["treeSize"], _b64(case["root"])
    same_tree = [
        _vector_proof(h) for h in HAPPY if (h["treeSize"], _b64(h["root"])) == (size, root)
    ]
    proofs = [*same_tree, _vector_proof(case)]
    batched, one_by_one = _verdicts(size, root, proofs)
    assert batched == one_by_one
    assert (batched[-1] != "ok") == case["wantErr"]


def test_the_vectors_of_two_leaves_of_one_tree_meet_at_its_root() -> None:
    """Leaves 0 and 5 of the 8-leaf reference tree (folders 1 and 2) share only the root."""
    first, second = (_vector(INCLUSION / d / "happy-path.json") for d in ("1", "2"))
    assert first["root"] == second["root"]
    for pair in ((first, second), (second, first)):
        verify_inclusions(8, _b64(first["root"]), [_vector_proof(c) for c in pair])


# -- every pair of leaves of small trees ---------------------------------------------------


def test_every_pair_of_leaves_of_trees_up_to_24_is_accepted_in_either_order() -> None:
    tree = _tree(24)
    for size in range(1, 25):
        root = tree.root(size)
        for first in range(size):
            for second in range(size):
                verify_inclusions(size, root, _proofs(tree, size, [first, second]))


def test_a_proof_meeting_an_accepted_path_hashes_only_up_to_their_common_ancestor(
    node_hashes: list[int],
) -> None:
    """A bundle's three consecutive leaves in a 6,000-leaf log: 13 + 0 + 1 hashes, not 39.

    Leaf 2,401 is the sibling of 2,400, whose parent is remembered with both children;
    2,402 hashes its parent, whose parent (node 600 of level 2) is remembered."""
    tree = _tree(6_000)
    verifier = InclusionVerifier(6_000, tree.root())
    hashed = []
    for index, leaf, proof in _proofs(tree, 6_000, [2_400, 2_401, 2_402]):
        before = len(node_hashes)
        verifier.verify(index, leaf, proof)
        hashed.append(len(node_hashes) - before)
    assert hashed == [13, 0, 1]


def test_a_refused_proof_is_not_remembered(node_hashes: list[int]) -> None:
    tree = _tree(100)
    verifier = InclusionVerifier(100, tree.root())
    (index, leaf, proof), (index2, leaf2, proof2) = _proofs(tree, 100, [40, 41])
    with pytest.raises(VerificationError):
        verifier.verify(index, leaf, [proof[0], *proof[1:-1], bytes(32)])
    before = len(node_hashes)
    verifier.verify(index2, leaf2, proof2)
    assert len(node_hashes) - before == len(proof2)


def test_past_its_limit_the_verifier_forgets_and_starts_again(node_hashes: list[int]) -> None:
    tree = _tree(1_000)
    verifier = InclusionVerifier(1_000, tree.root(), limit=15)
    first, sibling, far = _proofs(tree, 1_000, [0, 1, 600])
    verifier.verify(*first)
    assert len(verifier) == 10
    before = len(node_hashes)
    verifier.verify(*far)  # meets the first path at the root: 9 hashes, 9 new nodes
    assert len(node_hashes) - before == 9
    assert len(verifier) == 9  # 10 + 9 would pass 15: the first path was forgotten
    before = len(node_hashes)
    verifier.verify(*sibling)
    assert len(node_hashes) - before == 10
    assert len(verifier) == 10


def test_a_proof_accepted_where_it_met_a_path_adds_the_nodes_below(
    node_hashes: list[int],
) -> None:
    tree = _tree(1_000)
    verifier = InclusionVerifier(1_000, tree.root())
    first, far, near_far = _proofs(tree, 1_000, [0, 600, 601])
    verifier.verify(*first)
    verifier.verify(*far)
    assert len(verifier) == 19
    before = len(node_hashes)
    verifier.verify(*near_far)  # the sibling of 600: its parent is remembered
    assert len(node_hashes) == before


# -- a shared node: the named cases --------------------------------------------------------


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


@pytest.fixture(scope="module")
def pair() -> tuple[MemoryTree, list[Proof]]:
    """Leaves 40 and 42 of a 100-leaf tree: they meet at level 2 (node 10)."""
    tree = _tree(100)
    return tree, _proofs(tree, 100, [40, 42])


SHARED_NODE_CASES = {
    # the second proof, after a right first one
    "second wrong below the shared node (its leaf)": (1, "leaf", None),
    "second wrong below the shared node (its first hash)": (1, "hash", 0),
    "second wrong above the shared node (its last hash)": (1, "hash", -1),
    "second wrong at the shared node (its other child)": (1, "hash", 1),
    "second wrong above the shared node (its third hash)": (1, "hash", 2),
    "second with a hash too many": (1, "extra", None),
    "second with a hash too few": (1, "drop", None),
    # the first proof wrong, the second right and checked on its own
    "first wrong below the shared node": (0, "hash", 0),
    "first wrong above the shared node": (0, "hash", -1),
    "first wrong at the shared node (its other child)": (0, "hash", 1),
    "first wrong leaf": (0, "leaf", None),
}


@pytest.mark.parametrize(
    ("which", "how", "at"), SHARED_NODE_CASES.values(), ids=SHARED_NODE_CASES.keys()
)
def test_a_wrong_proof_is_refused_whichever_side_of_the_shared_node_is_wrong(
    pair: tuple[MemoryTree, list[Proof]], which: int, how: str, at: int | None
) -> None:
    tree, proofs = pair
    index, leaf, proof = proofs[which]
    hashes = list(proof)
    if how == "leaf":
        leaf = _flip(leaf)
    elif how == "hash":
        assert at is not None
        hashes[at] = _flip(hashes[at])
    elif how == "extra":
        hashes.append(hashes[-1])
    else:
        hashes.pop()
    changed = list(proofs)
    changed[which] = (index, leaf, hashes)
    batched, one_by_one = _verdicts(100, tree.root(), changed)
    assert batched == one_by_one
    assert batched[which] != "ok"
    assert batched[1 - which] == "ok"


def test_verify_inclusions_refuses_at_the_first_wrong_proof_with_its_message(
    pair: tuple[MemoryTree, list[Proof]],
) -> None:
    tree, ((i, leaf, proof), second) = pair
    with pytest.raises(VerificationError) as e:
        verify_inclusions(100, tree.root(), [second, (i, leaf, [*proof[:-1], bytes(32)])])
    assert e.value.message == "inclusion proof: it leads to another root than the tree of size 100"


@pytest.mark.parametrize(
    ("size", "level", "forged_index"),
    [(300, 2, 128), (1 << 70, 3, 1 << 66)],
    ids=["300 leaves", "2**70 leaves"],
)
def test_the_hash_of_an_accepted_node_reached_at_another_place_is_not_a_meeting(
    size: int, level: int, forged_index: int
) -> None:
    """A forged proof of another leaf that hashes, after one step, to the node of the
    accepted path at ``level`` is refused: a node is its level and position, not its hash."""
    leaf = leaf_hash(b"a")
    proof = [leaf_hash(b"%d" % i) for i in range((size - 1).bit_length())]
    root = _merkle.root_from_inclusion_proof(0, size, leaf, proof)
    below = leaf  # the accepted path's node (level - 1, 0): leaf 0 is always a left child
    for p in proof[: level - 1]:
        below = _merkle.node_hash(below, p)
    forged = (forged_index, below, proof[level - 1 :])
    batched, one_by_one = _verdicts(size, root, [(0, leaf, proof), forged])
    assert batched == one_by_one
    assert batched[1] != "ok"


# -- hypothesis: the one-by-one fold's verdict for every corruption ------------------------

TREE = _tree(300)
KINDS = (
    "none",
    "flip hash",
    "short hash",
    "drop hash",
    "extra hash",
    "swap hashes",
    "another leaf",
    "short leaf",
    "index",
    "size",
)


@st.composite
def _batches(draw: st.DrawFn) -> tuple[int, bytes, list[Proof]]:
    size = draw(st.integers(1, 300))
    if draw(st.booleans()):  # a bundle's leaves: consecutive
        start = draw(st.integers(0, size - 1))
        indices = list(range(start, min(size, start + draw(st.integers(1, 4)))))
    else:
        indices = draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=5))
    proofs = _proofs(TREE, size, indices)
    root = TREE.root(size)
    which = draw(st.integers(0, len(proofs) - 1))
    kind = draw(st.sampled_from(KINDS))
    index, leaf, proof = proofs[which]
    hashes = list(proof)
    position = draw(st.integers(0, max(0, len(hashes) - 1)))
    if kind == "flip hash" and hashes:
        h = hashes[position]
        hashes[position] = bytes([h[0] ^ draw(st.integers(1, 255))]) + h[1:]
    elif kind == "short hash" and hashes:
        hashes[position] = hashes[position][:31]
    elif kind == "drop hash" and hashes:
        del hashes[position]
    elif kind == "extra hash":
        hashes.insert(position, draw(st.sampled_from([bytes(32), *proof])))
    elif kind == "swap hashes" and len(hashes) > 1:
        other = draw(st.integers(0, len(hashes) - 1))
        hashes[position], hashes[other] = hashes[other], hashes[position]
    elif kind == "another leaf":
        leaf = TREE.node(0, draw(st.integers(0, 299)))
    elif kind == "short leaf":
        leaf = leaf[:16]
    elif kind == "index":
        index = draw(st.integers(-2, size + 2))
    elif kind == "size":
        other_size = draw(st.integers(1, 300))
        root = TREE.root(other_size) if draw(st.booleans()) else root
        size = other_size
    proofs[which] = (index, leaf, hashes)
    return size, root, proofs


@given(_batches())
def test_each_verdict_is_the_one_by_one_verdict(batch: tuple[int, bytes, list[Proof]]) -> None:
    size, root, proofs = batch
    batched, one_by_one = _verdicts(size, root, proofs)
    assert batched == one_by_one


@given(st.integers(1, 300), st.data())
def test_proofs_of_one_tree_are_all_accepted_in_any_order(size: int, data: st.DataObject) -> None:
    indices = data.draw(st.permutations(range(size)).map(lambda p: p[:6]))
    verify_inclusions(size, TREE.root(size), _proofs(TREE, size, indices))


def test_a_node_of_another_tree_size_is_not_taken_for_one_of_this_tree() -> None:
    """A verifier is for one size: proofs for another size are refused as one by one."""
    tree = _tree(64)
    root = tree.root(64)
    good = _proofs(tree, 64, [10])
    other = _proofs(tree, 40, [11])
    batched, one_by_one = _verdicts(64, root, [*good, *other])
    assert batched == one_by_one == ["ok", batched[1]]
    assert batched[1] != "ok"
