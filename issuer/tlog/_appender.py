"""Appending to a log in O(1) amortised hashes per leaf, with its tiles as it goes.

:class:`Appender` keeps the tree's right frontier (the compact range
``[0, size)``: one hash per set bit of ``size``), so the root of any size it
reaches costs at most 63 hashes and an append costs one leaf hash plus, on
average, one node hash. It also keeps the hashes of the current partial tile
at each tile level and of the current entry bundle; whenever one fills, it
hands the full tile's bytes to a sink. :meth:`Appender.partial_tiles` gives
the partial tiles to publish with a checkpoint.

State (``size``, frontier, partial tile hashes, pending entries) is what a
registry stores to resume; where it stores it is not this module's concern.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from issuer.tlog._merkle import EMPTY_ROOT, HASH_SIZE, node_hash
from issuer.tlog._tiles import (
    MAX_ENTRY_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    EntryBundle,
    Tile,
    encode_bundle,
)

TileSink = Callable[[Tile | EntryBundle, bytes], None]
"""Receives each full tile or entry bundle, once, as it is completed."""

_LEVEL_MASK = TILE_HEIGHT - 1


def _discard(_item: Tile | EntryBundle, _data: bytes) -> None:
    return None


class Appender:
    """Incremental RFC 6962 tree over appended leaves, emitting tlog tiles.

    Args:
        sink: called with every completed full tile and entry bundle.
        size: the number of leaves already in the tree (when resuming).
        frontier: the frontier hashes of that tree, largest subtree first.
        partial: per tile level, the hashes of its current partial tile.
        pending_entries: the entries of the current partial entry bundle.
    """

    def __init__(
        self,
        sink: TileSink | None = None,
        *,
        size: int = 0,
        frontier: Sequence[bytes] = (),
        partial: Sequence[Sequence[bytes]] = (),
        pending_entries: Sequence[bytes] = (),
    ) -> None:
        if len(frontier) != size.bit_count():
            raise ValueError(f"a tree of size {size} has {size.bit_count()} frontier hashes")
        self._sink = sink or _discard
        self._size = size
        self._frontier = list(frontier)
        self._partial = [list(p) for p in partial] or [[]]
        self._entries = list(pending_entries)
        levels = max(len(self._partial), (size.bit_length() + TILE_HEIGHT - 1) // TILE_HEIGHT)
        for level in range(levels):
            got = len(self._partial[level]) if level < len(self._partial) else 0
            if got != (size >> (TILE_HEIGHT * level)) % TILE_WIDTH:
                raise ValueError(f"partial tile at level {level} has the wrong width")
        if len(self._entries) not in {0, size % TILE_WIDTH}:
            raise ValueError("the pending entries do not match the tree size")

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        """The hashes of the maximal complete subtrees of the tree, left to right."""
        return tuple(self._frontier)

    def root(self) -> bytes:
        """The RFC 6962 root hash of the tree as it is now."""
        if not self._frontier:
            return EMPTY_ROOT
        h = self._frontier[-1]
        for left in reversed(self._frontier[:-1]):
            h = node_hash(left, h)
        return h

    def append_hashes(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaves by their leaf hashes (no entry bundles are produced).

        Raises:
            ValueError: if a hash is not 32 bytes (the hashes before it are appended).
        """
        self._append(leaf_hashes, entries=False)

    def append_entries(self, entries: Iterable[bytes]) -> None:
        """Append log entries: hash each as an RFC 6962 leaf and bundle it.

        Raises:
            ValueError: if an entry is longer than an entry bundle allows (the
                entries before it are appended).
        """
        self._append(entries, entries=True)

    def _append(self, items: Iterable[bytes], *, entries: bool) -> None:
        """The one append loop, kept flat: it runs once per leaf of a million-leaf log.

        If the sink raises, this appender's state is undefined: resume from
        the state stored with the last published checkpoint.
        """
        sha256 = hashlib.sha256
        sink = self._sink
        frontier = self._frontier
        partial = self._partial
        level0 = partial[0]
        n = self._size
        try:
            for item in items:
                if entries:
                    if len(item) > MAX_ENTRY_SIZE:
                        raise ValueError(f"a log entry is at most {MAX_ENTRY_SIZE} bytes")
                    pending = self._entries
                    pending.append(item)
                    if len(pending) == TILE_WIDTH:
                        sink(EntryBundle(n >> TILE_HEIGHT), encode_bundle(pending))
                        self._entries = []
                    leaf = sha256(b"\x00" + item).digest()
                elif len(item) != HASH_SIZE:
                    raise ValueError("a leaf hash is 32 bytes")
                else:
                    leaf = item
                level0.append(leaf)
                if len(level0) == TILE_WIDTH:
                    sink(Tile(0, n >> TILE_HEIGHT), b"".join(level0))
                    level0 = partial[0] = []
                # Fold the new leaf into the frontier: one node per trailing 1 bit of n.
                h, m, level = leaf, n, 0
                while m & 1:
                    h = sha256(b"\x01" + frontier.pop() + h).digest()
                    m >>= 1
                    level += 1
                    if not level & _LEVEL_MASK:
                        self._store_node(level >> 3, h, n)
                frontier.append(h)
                n += 1
        finally:
            self._size = n

    def _store_node(self, tile_level: int, h: bytes, leaf_index: int) -> None:
        """Record a node of Merkle level ``8·tile_level`` completed by leaf ``leaf_index``."""
        partial = self._partial
        if tile_level == len(partial):
            partial.append([])
        hashes = partial[tile_level]
        hashes.append(h)
        if len(hashes) == TILE_WIDTH:
            # The tile just completed is the one that ends with that leaf.
            index = leaf_index >> (TILE_HEIGHT * (tile_level + 1))
            self._sink(Tile(tile_level, index), b"".join(hashes))
            partial[tile_level] = []

    def partial_tiles(self) -> list[tuple[Tile | EntryBundle, bytes]]:
        """The partial tiles and entry bundle of the current size (to publish with a checkpoint)."""
        out: list[tuple[Tile | EntryBundle, bytes]] = []
        for level, hashes in enumerate(self._partial):
            if hashes:
                index = self._size >> (TILE_HEIGHT * (level + 1))
                out.append((Tile(level, index, len(hashes)), b"".join(hashes)))
        if self._entries:
            bundle = EntryBundle(self._size >> TILE_HEIGHT, len(self._entries))
            out.append((bundle, encode_bundle(self._entries)))
        return out
