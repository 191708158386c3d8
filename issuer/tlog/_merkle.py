"""RFC 6962 Merkle trees: hashes, proofs and their verification (RFC 9162 §2.1).

Leaves hash as ``SHA-256(0x00 || data)`` and interior nodes as
``SHA-256(0x01 || left || right)``. Proofs are generated from a
:class:`NodeReader`, which answers with the hash of a *complete* subtree
(``2**level`` leaves starting at ``index * 2**level``): :class:`MemoryTree`
keeps every level in memory, and a tile-backed reader (a later step) will
answer from ``tile/…`` files. Verification follows RFC 9162 §2.1.3.2 and
§2.1.4.2 step by step, and accepts exactly the transparency-dev/merkle
vectors marked ``wantErr: false``.

This module knows nothing of notes, checkpoints or tiles.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from typing import Generic, Protocol, TypeVar

from issuer.errors import VerificationError
from issuer.reasons import Reason

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root hash of the empty tree (RFC 6962 §2.1: the hash of the empty string)."""


_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """The RFC 6962 hash of the leaf holding ``data``."""
    return hashlib.sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 6962 hash of the interior node with children ``left`` and ``right``."""
    return hashlib.sha256(_NODE + left + right).digest()


class NodeReader(Protocol):
    """Where proof generation reads the hashes of complete subtrees from."""

    def node(self, level: int, index: int) -> bytes:
        """The hash of leaves ``[index * 2**level, (index + 1) * 2**level)``."""
        ...


class MemoryTree:
    """Every node of a tree held in memory: for tests, small logs and proof generation.

    Args:
        leaf_hashes: the leaf hashes, in order (more can be appended).
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for h in leaf_hashes:
            self.append(h)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    def append(self, leaf: bytes) -> int:
        """Append one leaf hash; return its index."""
        index = len(self._levels[0])
        self._levels[0].append(leaf)
        level, h, i = 0, leaf, index
        while i & 1:
            h = node_hash(self._levels[level][i - 1], h)
            level, i = level + 1, i >> 1
            if len(self._levels) == level:
                self._levels.append([])
            self._levels[level].append(h)
        return index

    def node(self, level: int, index: int) -> bytes:
        """The hash of a complete subtree.

        Raises:
            ValueError: if the subtree is not complete in this tree.
        """
        if level >= len(self._levels) or index >= len(self._levels[level]) or index < 0:
            raise ValueError(f"no complete subtree at level {level}, index {index}")
        return self._levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the first ``size`` leaves (default: all of them)."""
        size = self.size if size is None else size
        _check_size(size, self.size)
        return subtree_hash(self, 0, size)


def _check_size(size: int, available: int) -> None:
    if not 0 <= size <= available:
        raise ValueError(f"tree size {size} is outside 0..{available}")


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n >= 2``), where RFC 6962 splits."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(nodes: NodeReader, start: int, end: int) -> bytes:
    """The Merkle tree hash of leaves ``[start, end)``, as RFC 6962 §2.1 defines it.

    ``start`` must be aligned as RFC 6962's recursion aligns it (a multiple of
    a power of two at least ``end - start``, or 0), as every range of a proof is.
    The range is split into its maximal aligned complete subtrees, left to
    right, and folded from the right, which is exactly the recursion's result.
    """
    if start == end:
        return EMPTY_ROOT
    parts: list[bytes] = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start & ((1 << level) - 1):
            level -= 1
        parts.append(nodes.node(level, start >> level))
        start += 1 << level
    h = parts.pop()
    while parts:
        h = node_hash(parts.pop(), h)
    return h


def inclusion_ranges(index: int, start: int, end: int) -> list[tuple[int, int]]:
    """The subtrees whose hashes make RFC 6962's PATH(index, D[start:end]), leaf first."""
    ranges: list[tuple[int, int]] = []
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """The subtrees whose hashes make RFC 6962's PROOF(size1, D[0:size2])."""
    ranges: list[tuple[int, int]] = []
    start, end, m, whole = 0, size2, size1, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def inclusion_proof(nodes: NodeReader, index: int, size: int) -> list[bytes]:
    """The inclusion proof of leaf ``index`` in the tree of the first ``size`` leaves.

    Raises:
        ValueError: if ``index`` is not a leaf of that tree.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    return [subtree_hash(nodes, s, e) for s, e in inclusion_ranges(index, 0, size)]


def consistency_proof(nodes: NodeReader, size1: int, size2: int) -> list[bytes]:
    """The consistency proof between the trees of sizes ``size1`` and ``size2``.

    Raises:
        ValueError: unless ``0 < size1 <= size2`` (a proof from the empty tree proves nothing).
    """
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    if size1 == size2:
        return []
    return [subtree_hash(nodes, s, e) for s, e in _consistency_ranges(size1, size2)]


def _fail_inclusion(message: str) -> VerificationError:
    return VerificationError(
        f"inclusion proof: {message}", reason=Reason.BAD_INCLUSION_PROOF, step="inclusion"
    )


def _fail_consistency(message: str) -> VerificationError:
    return VerificationError(
        f"consistency proof: {message}", reason=Reason.BAD_CONSISTENCY_PROOF, step="consistency"
    )


def _check_leaf(index: int, size: int, leaf: bytes) -> None:
    """Step (1) of RFC 9162 §2.1.3.2: the leaf is in the tree, and its hash is a hash."""
    if not 0 <= index < size:
        raise _fail_inclusion(f"leaf index {index} is not below the tree size {size}")
    if len(leaf) != HASH_SIZE:
        raise _fail_inclusion(f"the leaf hash is {len(leaf)} bytes, not {HASH_SIZE}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root hash that ``proof`` implies for leaf hash ``leaf`` (RFC 9162 §2.1.3.2).

    Raises:
        VerificationError: if the proof cannot be a proof for that index and size.
    """
    # (1) The leaf must be in the tree, and be a hash.
    _check_leaf(index, size, leaf)
    # (2) fn = leaf_index, sn = tree_size - 1, r = hash.
    fn, sn, r = index, size - 1, leaf
    # (3) Fold in each proof hash, on the side the index bits say.
    for p in proof:
        if sn == 0:
            raise _fail_inclusion("more hashes than the tree has levels")
        if len(p) != HASH_SIZE:
            raise _fail_inclusion(f"a proof hash is {len(p)} bytes, not {HASH_SIZE}")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    # (4) The proof must have reached the root.
    if sn != 0:
        raise _fail_inclusion("fewer hashes than the tree has levels")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that leaf hash ``leaf`` is leaf ``index`` of the tree of ``size`` with ``root``.

    Raises:
        VerificationError: with reason ``bad_inclusion_proof``.
    """
    computed = root_from_inclusion_proof(index, size, leaf, proof)
    if not hmac.compare_digest(computed, root):
        raise _fail_inclusion(f"it leads to another root than the tree of size {size}")


_T = TypeVar("_T")
# a node of a fold: (node, its hash, left child, right child, proof hashes used up to it)
_Step = tuple[int, bytes, bytes, bytes, int]


class RememberedPaths(Generic[_T]):
    """The nodes of the accepted proofs of one tree ``(size, root)``, each by its place.

    What the ways of checking proofs of one tree together share
    (:class:`InclusionVerifier` holds the proofs' hashes, ``SpelledInclusions``
    their spellings, as ``_T``): each node of an accepted proof's path, with its
    hash, its two children and that proof, and how many of its hashes lie below.

    Args:
        size: the tree size the proofs are for.
        root: the root hash of that tree.
        limit: at most this many nodes are remembered; past it, they are forgotten
            and remembering starts again (memory stays flat; what is forgotten is
            computed again, and no answer changes).
    """

    def __init__(self, size: int, root: bytes, *, limit: int = 1 << 12) -> None:
        self.size = size
        self.root = root
        self._limit = limit
        # node -> (hash, left child, right child, an accepted proof through it, its hashes below)
        self._known: dict[int, tuple[bytes, bytes, bytes, tuple[_T, ...], int]] = {}

    def __len__(self) -> int:
        """How many nodes are remembered now."""
        return len(self._known)

    def _remember(self, path: list[_Step], proof: tuple[_T, ...]) -> None:
        """Remember the nodes of an accepted proof's path (within the limit)."""
        known = self._known
        if len(known) + len(path) > self._limit:
            known.clear()
        for node, h, left, right, used in path:
            known.setdefault(node, (h, left, right, proof, used))


class InclusionVerifier(RememberedPaths[bytes]):
    """Inclusion proofs in one tree ``(size, root)``, checked together: shared nodes once.

    Proofs of leaves of one tree share every node above their lowest common
    ancestor, and the proofs of one bundle (or of neighbouring bundles of one
    publication) are of nearby leaves, so they meet a few levels up. Each proof
    is folded as :func:`verify_inclusion` folds it, with the same checks and
    messages, and each node of an accepted proof's path is remembered by its
    place in the tree, with its hash, its two children and the proof hashes
    still to come above it. When a later proof reaches a remembered node with
    the same two children, the node's hash is taken rather than computed, and
    if its remaining proof hashes are also the accepted ones it is accepted
    there: folding on would repeat that accepted fold step for step. Otherwise
    it folds on to the root, so the verdict and message are always
    :func:`verify_inclusion`'s, whatever was remembered.

    Args: as :class:`RememberedPaths`.
    """

    def verify(self, index: int, leaf: bytes, proof: Sequence[bytes]) -> None:
        """Check that leaf hash ``leaf`` is leaf ``index`` of this tree.

        Raises:
            VerificationError: exactly as :func:`verify_inclusion` would, with
                reason ``bad_inclusion_proof``.
        """
        size, known, proof = self.size, self._known, tuple(proof)
        # (1)-(4) are root_from_inclusion_proof's, plus where the fold is in the tree:
        # after `levels` right shifts it holds node `fn` of that level (sn follows from size).
        _check_leaf(index, size, leaf)
        fn, sn, r, levels = index, size - 1, leaf, 0
        path: list[_Step] = []
        for used, p in enumerate(proof, 1):
            if sn == 0:
                raise _fail_inclusion("more hashes than the tree has levels")
            if len(p) != HASH_SIZE:
                raise _fail_inclusion(f"a proof hash is {len(p)} bytes, not {HASH_SIZE}")
            if fn & 1 or fn == sn:
                left, right = p, r
                while not fn & 1 and fn != 0:
                    fn, sn, levels = fn >> 1, sn >> 1, levels + 1
            else:
                left, right = r, p
            fn, sn, levels = fn >> 1, sn >> 1, levels + 1
            node = levels * size + fn  # fn < size, so one int names one node, for any size
            met = known.get(node)
            # Log hashes are public: plain comparisons leak nothing.
            if met is not None and met[1] == left and met[2] == right:
                r = met[0]  # the same children: the hash already computed
                if proof[used:] == met[3][met[4] :]:
                    # The rest is an accepted fold, from this node with these hashes.
                    self._remember(path, proof)
                    return
            else:
                r = node_hash(left, right)
            path.append((node, r, left, right, used))
        if sn != 0:
            raise _fail_inclusion("fewer hashes than the tree has levels")
        if not hmac.compare_digest(r, self.root):
            raise _fail_inclusion(f"it leads to another root than the tree of size {size}")
        self._remember(path, proof)


def verify_inclusions(
    size: int, root: bytes, proofs: Iterable[tuple[int, bytes, Sequence[bytes]]]
) -> None:
    """Check several ``(index, leaf hash, proof)`` in the tree ``(size, root)`` together.

    The verdict is that of :func:`verify_inclusion` on each in turn, for a
    fraction of the hashing when the leaves are close (see :class:`InclusionVerifier`).

    Raises:
        VerificationError: for the first proof :func:`verify_inclusion` refuses, with its message.
    """
    verifier = InclusionVerifier(size, root)
    for index, leaf, proof in proofs:
        verifier.verify(index, leaf, proof)


def _trivially_consistent(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> bool:
    """Whether the sizes settle the question without the algorithm (equal sizes).

    Raises:
        VerificationError: for sizes no proof can join.
    """
    if size1 < 1:
        raise _fail_consistency("a proof from the empty tree proves nothing")
    if size2 < size1:
        raise _fail_consistency(f"the tree shrank from size {size1} to {size2}")
    if size1 != size2:
        return False
    if proof:
        raise _fail_consistency("trees of equal size need an empty proof")
    if not hmac.compare_digest(root1, root2):
        raise _fail_consistency(f"two different roots for the tree of size {size1}")
    return True


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree ``(size2, root2)`` extends ``(size1, root1)`` (RFC 9162 §2.1.4.2).

    A proof from the empty tree is refused: it proves nothing (the vectors
    require this). Equal sizes need an empty proof and equal roots.

    Raises:
        VerificationError: with reason ``bad_consistency_proof``.
    """
    # (0) Sizes: the RFC algorithm assumes 0 < first < second.
    if _trivially_consistent(size1, size2, proof, root1, root2):
        return
    # (1) An empty proof proves nothing.
    if not proof or any(len(p) != HASH_SIZE for p in proof):
        raise _fail_consistency(f"the proof is empty, or not of {HASH_SIZE}-byte hashes")
    # (2) If first is an exact power of 2, prepend first_hash to the path.
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    # (3) fn = first - 1, sn = second - 1; (4) shift while LSB(fn) is set.
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    # (5) fr = sr = the first hash of the path.
    fr = sr = path[0]
    # (6) Fold in the rest.
    for c in path[1:]:
        if sn == 0:
            raise _fail_consistency("more hashes than the trees have levels")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    # (7) Both roots must be reached, and the path must be used up exactly.
    if sn != 0:
        raise _fail_consistency("fewer hashes than the trees have levels")
    if not hmac.compare_digest(fr, root1):
        raise _fail_consistency(f"it does not lead to the root of size {size1}")
    if not hmac.compare_digest(sr, root2):
        raise _fail_consistency(f"it does not lead to the root of size {size2}")
