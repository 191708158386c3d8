"""Inclusion proofs accepted from their spellings (``SpelledInclusions``).

Its one answer is "accepted", and it must never be given where
:func:`verify_inclusion` refuses: the RFC 6962 vectors after every accepted
proof of their tree, hypothesis against the decoded fold for every kind of
corruption, spellings that decode leniently to the right hash, and values that
are not spellings at all. What it saves (the spellings it decodes, the nodes
it hashes) is pinned by counting.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.errors import VerificationError
from issuer.tlog import (
    SpelledInclusions,
    _log,
    _spelled,
    inclusion_proof,
    leaf_hash,
    node_hash,
    verify_inclusion,
)
from tests.unit.tlog.test_merkle_batch import CASES, HAPPY, INCLUSION, _b64, _tree
from tests.unit.tlog.test_merkle_batch import _vector as _case


def _spelt(proof: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(p).decode() for p in proof]


def _valid(size: int, root: bytes, index: int, leaf: bytes, proof: Sequence[bytes]) -> bool:
    try:
        verify_inclusion(index, size, leaf, proof, root)
    except VerificationError:
        return False
    return True


@pytest.mark.parametrize("path", CASES, ids=lambda p: str(p.relative_to(INCLUSION)))
def test_a_vector_is_accepted_exactly_when_it_is_valid_after_its_trees_good_proofs(
    path: Path,
) -> None:
    case = _case(path)
    size, root = case["treeSize"], _b64(case["root"])
    spelled = SpelledInclusions(size, root)
    for h in HAPPY:
        if (h["treeSize"], _b64(h["root"])) == (size, root):
            proof = [_b64(p) for p in h["proof"] or []]
            assert spelled.accepts(h["leafIdx"], _b64(h["leafHash"]), _spelt(proof))
    proof = [_b64(p) for p in case["proof"] or []]
    leaf = _b64(case["leafHash"])
    answer = spelled.accepts(case["leafIdx"], leaf, _spelt(proof))
    assert answer == (not case["wantErr"])
    assert answer == _valid(size, root, case["leafIdx"], leaf, proof)


@st.composite
def _sequences(draw: st.DrawFn) -> tuple[int, list[tuple[int, bytes, list[str], bool]]]:
    """A tree size and proofs to submit in order, some spoilt: (index, leaf, spelled, spoilt)."""
    size = draw(st.integers(1, 40))
    tree = _tree(size)
    out = []
    for _ in range(draw(st.integers(1, 12))):
        index = draw(st.integers(0, size - 1))
        leaf = tree.node(0, index)
        spelled = _spelt(inclusion_proof(tree, index, size))
        how = draw(st.sampled_from(["none", "flip", "drop", "extra", "leaf", "index", "respell"]))
        if how == "flip" and spelled:
            at = draw(st.integers(0, len(spelled) - 1))
            raw = bytearray(_b64(spelled[at]))
            raw[draw(st.integers(0, 31))] ^= 1 << draw(st.integers(0, 7))
            spelled[at] = base64.b64encode(bytes(raw)).decode()
        elif how == "drop" and spelled:
            del spelled[draw(st.integers(0, len(spelled) - 1))]
        elif how == "extra":
            spelled.insert(draw(st.integers(0, len(spelled))), _spelt([leaf])[0])
        elif how == "leaf":
            leaf = leaf_hash(b"another")
        elif how == "index" and size > 1:
            index = (index + draw(st.integers(1, size - 1))) % size
        elif how == "respell" and spelled:
            # the same 32 bytes, spelt with the unused low bits of the 43rd character set
            at = draw(st.integers(0, len(spelled) - 1))
            text = spelled[at]
            alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
            spelled[at] = text[:42] + alphabet[alphabet.index(text[42]) | 1] + "="
        out.append((index, leaf, spelled, how != "none"))
    return size, out


@given(_sequences(), st.sampled_from([2, 5, 1 << 12]))
def test_an_accepted_proof_is_always_one_the_decoded_fold_accepts(
    drawn: tuple[int, list[tuple[int, bytes, list[str], bool]]], limit: int
) -> None:
    size, proofs = drawn
    root = _tree(size).root(size)
    spelled = SpelledInclusions(size, root, limit=limit)
    for index, leaf, text, spoilt in proofs:
        answer = spelled.accepts(index, leaf, text)
        decoded = [base64.b64decode(t, validate=True) for t in text]
        canonical = all(
            base64.b64encode(d).decode() == t for d, t in zip(decoded, text, strict=True)
        )
        valid = canonical and _valid(size, root, index, leaf, decoded)
        assert answer == valid  # never accepted wrongly; every right proof accepted
        if not spoilt:
            assert answer


def test_a_lenient_spelling_of_the_right_hash_is_not_accepted_anywhere_in_the_proof() -> None:
    tree = _tree(16)
    root = tree.root(16)
    spelled = SpelledInclusions(16, root)
    good = _spelt(inclusion_proof(tree, 4, 16))
    assert spelled.accepts(4, tree.node(0, 4), good)
    for at in range(len(good)):
        other = list(_spelt(inclusion_proof(tree, 5, 16)))
        other[at] = other[at][:42] + chr(ord(other[at][42]) + 1) + "="
        assert base64.b64decode(other[at]) == base64.b64decode(
            _spelt(inclusion_proof(tree, 5, 16))[at]
        )
        assert not spelled.accepts(5, tree.node(0, 5), other), at


@pytest.mark.parametrize(
    "element", [7, None, ["a"], {"a": 1}, b"A" * 43 + b"=", "A" * 44, "é" * 43 + "="]
)
def test_an_element_that_is_not_a_hash_spelling_is_handed_back(
    element: object, node_hashes: list[int]
) -> None:
    """At once: nothing is folded past a value that names no hash."""
    tree = _tree(8)
    spelled = SpelledInclusions(8, tree.root(8))
    proof: list[Any] = _spelt(inclusion_proof(tree, 2, 8))
    proof[0] = element
    node_hashes.clear()
    assert spelled.accepts(2, tree.node(0, 2), proof) is False
    assert node_hashes == []


@pytest.mark.parametrize(("index", "leaf_size"), [(-1, 32), (8, 32), (2, 31), (2, 33)])
def test_a_leaf_outside_the_tree_or_not_a_hash_is_handed_back(index: int, leaf_size: int) -> None:
    tree = _tree(8)
    spelled = SpelledInclusions(8, tree.root(8))
    assert not spelled.accepts(index, b"\x00" * leaf_size, _spelt(inclusion_proof(tree, 2, 8)))


def test_a_proof_changed_by_its_caller_after_acceptance_cannot_vouch_for_another() -> None:
    """The remembered spellings are a copy: editing the caller's list changes nothing."""
    tree = _tree(16)
    spelled = SpelledInclusions(16, tree.root(16))
    first = _spelt(inclusion_proof(tree, 4, 16))
    assert spelled.accepts(4, tree.node(0, 4), first)
    wrong = _spelt([leaf_hash(b"wrong")])[0]
    first[2] = wrong
    sibling = _spelt(inclusion_proof(tree, 5, 16))
    sibling[2] = wrong
    assert not spelled.accepts(5, tree.node(0, 5), sibling)
    assert spelled.accepts(5, tree.node(0, 5), _spelt(inclusion_proof(tree, 5, 16)))


def test_a_sibling_of_an_accepted_leaf_decodes_one_spelling_and_hashes_one_node(
    monkeypatch: pytest.MonkeyPatch, node_hashes: list[int]
) -> None:
    """Leaves 2,400 and 2,401 of 6,000: the second meets the first at their parent."""
    decoded: list[object] = []
    real = _log.spelt_hash

    def counting(text: str) -> bytes:
        decoded.append(text)
        return real(text)

    tree = _tree(6_000)
    root = tree.root()
    proofs = {i: _spelt(inclusion_proof(tree, i, 6_000)) for i in (2_400, 2_401, 2_402)}
    node_hashes.clear()
    monkeypatch.setattr(_spelled, "spelt_hash", counting)
    spelled = SpelledInclusions(6_000, root)
    assert spelled.accepts(2_400, tree.node(0, 2_400), proofs[2_400])
    assert (len(decoded), len(node_hashes)) == (13, 13)
    assert spelled.accepts(2_401, tree.node(0, 2_401), proofs[2_401])
    assert (len(decoded), len(node_hashes)) == (14, 13)
    assert spelled.accepts(2_402, tree.node(0, 2_402), proofs[2_402])
    assert (len(decoded), len(node_hashes)) == (16, 14)


def test_remembering_is_bounded() -> None:
    tree = _tree(64)
    spelled = SpelledInclusions(64, tree.root(64), limit=10)
    for i in range(64):
        assert spelled.accepts(i, tree.node(0, i), _spelt(inclusion_proof(tree, i, 64)))
        assert len(spelled) <= 10


@pytest.mark.parametrize("size", [2, 5, 8, 13])
def test_an_index_past_the_tree_is_refused_even_with_a_proof_that_folds_to_the_root(
    size: int,
) -> None:
    """Leaf ``size`` of a tree of ``size`` folds as some leaf inside it: the index decides."""
    tree = _tree(size)
    root = tree.root(size)
    spelled = SpelledInclusions(size, root)
    for inside in range(size):
        leaf, proof = tree.node(0, inside), inclusion_proof(tree, inside, size)
        for index in (size, size + inside, -size + inside, -1):
            assert not spelled.accepts(index, leaf, _spelt(proof)), (index, inside)
    assert spelled.accepts(0, tree.node(0, 0), _spelt(inclusion_proof(tree, 0, size)))
    assert spelled.accepts(
        size - 1, tree.node(0, size - 1), _spelt(inclusion_proof(tree, size - 1, size))
    )


def test_a_proof_longer_than_the_tree_is_deep_is_refused_at_the_top(
    node_hashes: list[int],
) -> None:
    """Nothing is decoded or hashed past the top: the fold stops at the first extra spelling."""
    tree = _tree(8)
    spelled = SpelledInclusions(8, tree.root(8))
    proof = _spelt(inclusion_proof(tree, 2, 8))
    node_hashes.clear()
    assert not spelled.accepts(2, tree.node(0, 2), [*proof, proof[0]])
    assert not spelled.accepts(2, tree.node(0, 2), [*proof, 7])
    assert node_hashes == [1] * 6  # three levels, twice
    assert len(spelled) == 0
    assert spelled.accepts(2, tree.node(0, 2), proof)
    assert len(spelled) == 3


def test_a_proof_that_is_not_a_sequence_is_handed_back() -> None:
    tree = _tree(8)
    spelled = SpelledInclusions(8, tree.root(8))
    assert spelled.accepts(2, tree.node(0, 2), tuple(_spelt(inclusion_proof(tree, 2, 8))))
    for proof in (7, None, 2.5):
        assert spelled.accepts(3, tree.node(0, 3), proof) is False  # type: ignore[arg-type]


def test_the_nodes_remembered_are_forgotten_only_past_the_limit(node_hashes: list[int]) -> None:
    """Leaves 0 and 15 of 16 share only the root: 4 + 3 nodes fit a limit of 7 exactly;
    leaf 5 meets leaf 0 at [0, 8), and its 2 new nodes do not fit: all is forgotten first."""
    tree = _tree(16)
    spelled = SpelledInclusions(16, tree.root(16), limit=7)
    proofs = {i: _spelt(inclusion_proof(tree, i, 16)) for i in (0, 5, 15)}
    node_hashes.clear()
    seen = []
    for i in (0, 15, 5, 0):
        assert spelled.accepts(i, tree.node(0, i), proofs[i])
        seen.append((len(spelled), len(node_hashes)))
    # leaf 0 again: its path was forgotten, so it folds to the root once more
    assert seen == [(4, 4), (7, 7), (2, 9), (6, 13)]


def test_the_default_limit_is_4096_nodes() -> None:
    size = 4_200
    tree = _tree(size)
    spelled = SpelledInclusions(size, tree.root(size))
    remembered = []
    for i in range(size):
        assert spelled.accepts(i, tree.node(0, i), _spelt(inclusion_proof(tree, i, size)))
        remembered.append(len(spelled))
    # the tree has 4,199 nodes above its leaves: all are remembered but for one forgetting
    assert max(remembered) == 4_096
    assert sum(later < before for before, later in itertools.pairwise(remembered)) == 1


def test_a_leaf_on_the_right_edge_meets_an_accepted_path_where_it_joins_it(
    node_hashes: list[int],
) -> None:
    """Leaf 4 of 5 hangs right under the root: after leaf 0's path it hashes nothing. Leaf
    10 of 11 hashes [8, 11) and meets leaf 0's path at the root; leaf 9 hashes [8, 10)
    and meets leaf 10's at [8, 11). Both edge leaves climb levels without a sibling."""
    for size, right, counts in ((5, [4], [3, 0]), (11, [10, 9], [4, 1, 1])):
        tree = _tree(size)
        spelled = SpelledInclusions(size, tree.root(size))
        proofs = {i: _spelt(inclusion_proof(tree, i, size)) for i in [0, *right]}
        seen = []
        for i in [0, *right]:
            node_hashes.clear()
            assert spelled.accepts(i, tree.node(0, i), proofs[i])
            seen.append(len(node_hashes))
        assert seen == counts, size


def test_a_proof_wrong_only_at_the_top_is_folded_on_the_accepted_nodes(
    node_hashes: list[int],
) -> None:
    """Leaf 5 of 16 after leaf 4: its parent, [4, 8) and [0, 8) are accepted nodes with the
    same children, so only the root is hashed before the wrong top hash is found."""
    tree = _tree(16)
    spelled = SpelledInclusions(16, tree.root(16))
    assert spelled.accepts(4, tree.node(0, 4), _spelt(inclusion_proof(tree, 4, 16)))
    wrong = _spelt(inclusion_proof(tree, 5, 16))
    wrong[-1] = _spelt([leaf_hash(b"wrong")])[0]
    node_hashes.clear()
    assert not spelled.accepts(5, tree.node(0, 5), wrong)
    assert node_hashes == [1]


def _sparse(depth: int, leaves: dict[int, bytes]) -> tuple[bytes, dict[int, list[bytes]]]:
    """The root of a tree of ``2**depth`` leaves and proofs of ``leaves``; any subtree
    holding none of them stands for a made-up hash (the tree is never built)."""

    @functools.cache
    def node(level: int, at: int) -> bytes:
        first, end = at << level, (at + 1) << level
        if not any(first <= i < end for i in leaves):
            return hashlib.sha256(b"%d %d" % (level, at)).digest()
        if level == 0:
            return leaves[at]
        return node_hash(node(level - 1, 2 * at), node(level - 1, 2 * at + 1))

    proofs = {i: [node(k, (i >> k) ^ 1) for k in range(depth)] for i in leaves}
    return node(depth, 0), proofs


def test_the_nodes_of_a_tree_of_a_trillion_leaves_are_told_apart(node_hashes: list[int]) -> None:
    """Node (1, f) on leaf a's path and (2, f) on leaf b's are two nodes: leaf c, which
    meets b's path at (2, f), hashes only its parent (a position near 2**37 is exact)."""
    f = (1 << 37) + 12_345
    a, b, c = 2 * f, 4 * f, 4 * f + 2
    leaves = {i: leaf_hash(b"leaf %d" % i) for i in (a, b, c)}
    root, proofs = _sparse(40, leaves)
    spelled = SpelledInclusions(1 << 40, root)
    node_hashes.clear()
    seen = []
    for i in (a, b, c):
        assert spelled.accepts(i, leaves[i], _spelt(proofs[i]))
        seen.append(len(node_hashes))
    assert seen == [40, 40 + 39, 40 + 39 + 1]  # b meets a only at the root
