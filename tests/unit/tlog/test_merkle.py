"""RFC 6962 trees: the transparency-dev/merkle vectors, and proofs we generate."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from issuer.errors import VerificationError
from issuer.reasons import Reason
from issuer.tlog import (
    EMPTY_ROOT,
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.conftest import VECTORS

MERKLE = VECTORS / "merkle"
CASES = sorted(p for p in MERKLE.rglob("*.json"))


def _case_id(path: Path) -> str:
    return str(path.relative_to(MERKLE))


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _check(case: dict[str, Any]) -> None:
    proof = [_b64(p) for p in case["proof"] or []]
    if "leafIdx" in case:
        verify_inclusion(
            case["leafIdx"], case["treeSize"], _b64(case["leafHash"]), proof, _b64(case["root"])
        )
    else:
        verify_consistency(
            case["size1"], case["size2"], proof, _b64(case["root1"]), _b64(case["root2"])
        )


def test_every_vector_file_is_a_case() -> None:
    assert len(CASES) == 196
    assert {p.parent.parent.name for p in CASES} >= {"inclusion", "consistency"}


@pytest.mark.parametrize("path", CASES, ids=_case_id)
def test_vector(path: Path) -> None:
    """Accept exactly the cases with ``wantErr: false``."""
    case = json.loads(path.read_text())
    if case["wantErr"]:
        with pytest.raises(VerificationError) as e:
            _check(case)
        kind = "inclusion" if "leafIdx" in case else "consistency"
        assert e.value.reason == f"bad_{kind}_proof"
    else:
        _check(case)


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, written as the RFC's recursion (the reference)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(m, D[n])."""
    if len(leaves) <= 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    """RFC 6962 §2.1.2 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if whole else [_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*_subproof(m, leaves[:k], whole), _mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


LEAVES = [hashlib.sha256(bytes([i])).digest()[: i % 7] for i in range(40)]


@pytest.fixture(scope="module")
def tree() -> MemoryTree:
    return MemoryTree(leaf_hash(d) for d in LEAVES)


def test_roots_match_the_rfc_recursion(tree: MemoryTree) -> None:
    assert tree.root(0) == EMPTY_ROOT
    for size in range(len(LEAVES) + 1):
        assert tree.root(size) == _mth(LEAVES[:size])


def test_inclusion_proofs_are_the_rfc_paths_and_verify(tree: MemoryTree) -> None:
    for size in range(1, len(LEAVES) + 1):
        root = tree.root(size)
        for index in range(size):
            proof = inclusion_proof(tree, index, size)
            assert proof == _path(index, LEAVES[:size])
            verify_inclusion(index, size, leaf_hash(LEAVES[index]), proof, root)


def test_consistency_proofs_are_the_rfc_proofs_and_verify(tree: MemoryTree) -> None:
    for size2 in range(1, len(LEAVES) + 1):
        for size1 in range(1, size2 + 1):
            proof = consistency_proof(tree, size1, size2)
            assert proof == _subproof(size1, LEAVES[:size2], True)
            verify_consistency(size1, size2, proof, tree.root(size1), tree.root(size2))


def test_a_proof_for_another_leaf_or_size_is_refused(tree: MemoryTree) -> None:
    proof = inclusion_proof(tree, 5, 20)
    with pytest.raises(VerificationError) as e:
        verify_inclusion(6, 20, leaf_hash(LEAVES[6]), proof, tree.root(20))
    assert e.value.reason == Reason.BAD_INCLUSION_PROOF
    with pytest.raises(VerificationError):
        verify_inclusion(5, 21, leaf_hash(LEAVES[5]), proof, tree.root(21))
    cproof = consistency_proof(tree, 7, 20)
    with pytest.raises(VerificationError) as e:
        verify_consistency(7, 20, cproof, tree.root(8), tree.root(20))
    assert e.value.reason == Reason.BAD_CONSISTENCY_PROOF


def test_a_rollback_is_refused(tree: MemoryTree) -> None:
    with pytest.raises(VerificationError, match="shrank"):
        verify_consistency(20, 7, [], tree.root(20), tree.root(7))


@pytest.mark.parametrize(
    ("index", "size"),
    [(-1, 3), (3, 3), (0, 0), (5, 41)],
    ids=["negative", "at-size", "empty", "beyond"],
)
def test_generation_refuses_impossible_requests(tree: MemoryTree, index: int, size: int) -> None:
    with pytest.raises(ValueError):
        inclusion_proof(tree, index, size)


def test_consistency_generation_refuses_the_empty_tree(tree: MemoryTree) -> None:
    with pytest.raises(ValueError):
        consistency_proof(tree, 0, 5)
    with pytest.raises(ValueError):
        consistency_proof(tree, 6, 5)
