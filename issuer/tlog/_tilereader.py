"""Proofs from published tiles: a :class:`NodeReader` over ``tile/<L>/<N>[.p/<W>]``.

A node of Merkle level ``8·L + k`` (``0 <= k < 8``) is the root of ``2**k``
consecutive hashes of one tile at level ``L``; :class:`TileReader` fetches that
tile (full, or the partial one the tree size implies) through a callable and
hashes up. Where tiles come from (files, HTTP) and how fetched tiles are
checked against a checkpoint (a root recomputed from them) is the caller's
concern: the audit and the bundle builder of the next step.
"""

from __future__ import annotations

from collections.abc import Callable

from issuer.tlog._merkle import node_hash
from issuer.tlog._tiles import TILE_HEIGHT, TILE_WIDTH, Tile, split_hashes

TileFetcher = Callable[[Tile], bytes]
"""Returns the bytes of a tile; raises the caller's own error when it cannot."""


class TileReader:
    """Complete-subtree hashes of a tree of ``size`` leaves, read from its tiles.

    Args:
        size: the tree size (it decides which tiles are partial, and how wide).
        fetch: returns a tile's bytes; a tile is fetched once while it is kept.
        keep: how many tiles are kept at most.
    """

    def __init__(self, size: int, fetch: TileFetcher, *, keep: int = 64) -> None:
        self.size = size
        self._fetch = fetch
        self._keep = keep
        self._tiles: dict[Tile, list[list[bytes]]] = {}

    def _tile(self, level: int, index: int) -> list[list[bytes]]:
        """A tile's hashes and the rows of its subtrees above them (row ``k``: level ``8L + k``).

        Every row is hashed once, when the tile is fetched: proofs of nearby
        leaves ask for the same subtrees. At most ``keep`` tiles are kept (then
        the reader starts again), so memory stays flat over a whole log.
        """
        count = self.size >> (TILE_HEIGHT * level)
        full = count // TILE_WIDTH
        width = TILE_WIDTH if index < full else count % TILE_WIDTH
        if index > full or width == 0:
            raise ValueError(f"a tree of size {self.size} has no tile {level}/{index}")
        tile = Tile(level, index, width)
        rows = self._tiles.get(tile)
        if rows is None:
            row = split_hashes(self._fetch(tile), tile)
            rows = [row]
            while len(row) > 1:
                row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
                rows.append(row)
            if len(self._tiles) >= self._keep:
                self._tiles.clear()
            self._tiles[tile] = rows
        return rows

    def node(self, level: int, index: int) -> bytes:
        """The hash of leaves ``[index * 2**level, (index + 1) * 2**level)``.

        Raises:
            ValueError: if that subtree is not complete in this tree.
            FormatError: if a fetched tile has the wrong length.
        """
        tile_level, k = divmod(level, TILE_HEIGHT)
        first = index << k  # position of the subtree's first hash within its tile level
        if index < 0 or (first + (1 << k)) << (TILE_HEIGHT * tile_level) > self.size:
            raise ValueError(f"no complete subtree at level {level}, index {index}")
        rows = self._tile(tile_level, first // TILE_WIDTH)
        return rows[k][(first % TILE_WIDTH) >> k]
