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
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.errors import VerificationError
from issuer.tlog import (
    MemoryTree,
    SpelledInclusions,
    _log,
    _spelled,
    inclusion_proof,
    leaf_hash,
    verify_inclusion,
)
from tests.conftest import VECTORS

INCLUSION = VECTORS / "merkle" / "inclusion"
CASES = sorted(INCLUSION.rglob("*.json"))


def _spelt(proof: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(p).decode() for p in proof]


def _valid(size: int, root: bytes, index: int, leaf: bytes, proof: Sequence[bytes]) -> bool:
    try:
        verify_inclusion(index, size, leaf, proof, root)
    except VerificationError:
        return False
    return True


def _tree(size: int) -> MemoryTree:
    return MemoryTree(leaf_hash(b"leaf %d" % i) for i in range(size))


def _case(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text())
    return case


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


HAPPY = [_case(p) for p in CASES if not _case(p)["wantErr"]]


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
