"""The node cache publishing uses: bounded, and never changes a proof."""

from __future__ import annotations

from issuer.tlog import CachedNodes, MemoryTree, inclusion_proof, leaf_hash

SIZE = 300


class _Counting:
    """A node reader that counts the nodes asked of it."""

    def __init__(self, tree: MemoryTree) -> None:
        self.tree = tree
        self.reads = 0

    def node(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.tree.node(level, index)


def _tree() -> MemoryTree:
    return MemoryTree(leaf_hash(b"leaf %d" % i) for i in range(SIZE))


def test_a_bounded_cache_gives_the_same_proofs_and_stays_under_its_limit() -> None:
    tree = _tree()
    cached = CachedNodes(_Counting(tree), limit=16)
    for index in range(SIZE):
        assert inclusion_proof(cached, index, SIZE) == inclusion_proof(tree, index, SIZE)
        assert len(cached) <= 16


def test_a_node_read_twice_is_read_once_while_it_is_kept() -> None:
    reader = _Counting(_tree())
    cached = CachedNodes(reader)
    first = inclusion_proof(cached, 7, SIZE)
    reads = reader.reads
    assert inclusion_proof(cached, 7, SIZE) == first
    assert reader.reads == reads  # all from the cache
    assert len(cached) == reads
