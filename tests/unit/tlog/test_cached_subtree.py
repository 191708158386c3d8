"""A complete, aligned subtree is read as one node (#14); every other range is folded as before."""

from __future__ import annotations

import pytest

from issuer.tlog import CachedNodes, MemoryTree, leaf_hash, subtree_hash


def _tree(size: int) -> MemoryTree:
    tree = MemoryTree()
    for i in range(size):
        tree.append(leaf_hash(i.to_bytes(4, "big")))
    return tree


@pytest.mark.parametrize("size", [1, 2, 5, 8, 33])
def test_every_range_aligned_or_not_has_the_folded_hash(size: int) -> None:
    tree = _tree(size)
    cached = CachedNodes(tree)
    for start in range(size + 1):
        for end in range(start, size + 1):
            assert cached.subtree(start, end) == subtree_hash(tree, start, end), (start, end)
