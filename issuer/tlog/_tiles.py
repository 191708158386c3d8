"""C2SP tlog-tiles arithmetic: which tiles a tree has, their paths, entry bundles.

Pure functions, no I/O. A tile at level ``L`` holds up to 256 hashes of
Merkle level ``8·L`` (level 0: leaf hashes). Its path is
``tile/<L>/<N>[.p/<W>]``, with ``N`` written as 3-digit groups, all but the
last prefixed with ``x`` (1234067 → ``x001/x234/067``); entry bundles live
at ``tile/entries/<N>[.p/<W>]`` and hold the entries as big-endian uint16
length-prefixed byte strings. Writing and serving tiles is for the publisher.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from issuer.errors import FormatError
from issuer.tlog._merkle import HASH_SIZE

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes, 8192 bytes
MAX_LEVEL = 63
MAX_ENTRY_SIZE = 0xFFFF


def index_path(index: int) -> str:
    """``N`` as zero-padded 3-digit path elements, all but the last prefixed with ``x``."""
    if index < 0:
        raise ValueError(f"a tile index is non-negative, not {index}")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def _suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"a tile is 1 to {TILE_WIDTH} wide, not {width}")
    return "" if width == TILE_WIDTH else f".p/{width}"


@dataclass(frozen=True, order=True)
class Tile:
    """A hash tile: ``level``, ``index`` within the level and ``width`` (256 when full)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]``."""
        if not 0 <= self.level <= MAX_LEVEL:
            raise ValueError(f"tile level {self.level} is outside 0..{MAX_LEVEL}")
        return f"tile/{self.level}/{index_path(self.index)}{_suffix(self.width)}"

    @property
    def full(self) -> bool:
        """Whether the tile is full (256 hashes)."""
        return self.width == TILE_WIDTH


@dataclass(frozen=True, order=True)
class EntryBundle:
    """An entry bundle: ``index`` and ``width`` (256 entries when full)."""

    index: int
    width: int = TILE_WIDTH

    @property
    def path(self) -> str:
        """``tile/entries/<N>[.p/<W>]``."""
        return f"tile/entries/{index_path(self.index)}{_suffix(self.width)}"

    @property
    def full(self) -> bool:
        """Whether the bundle is full (256 entries)."""
        return self.width == TILE_WIDTH


_GROUP = r"(?:x[0-9]{3}/)*[0-9]{3}"
_PATH_RE = re.compile(
    rf"tile/(?P<level>entries|0|[1-9][0-9]?)/(?P<index>{_GROUP})(?:\.p/(?P<width>[1-9][0-9]{{0,2}}))?"
)


def parse_path(path: str) -> Tile | EntryBundle:
    """The tile or entry bundle a ``tile/…`` path names (strict: one spelling per tile).

    Raises:
        FormatError: if ``path`` is not a tile path.
    """
    m = _PATH_RE.fullmatch(path)
    if m is None:
        raise FormatError(f"not a tile path: {path!r}")
    index = int(m["index"].replace("x", "").replace("/", ""))
    width = int(m["width"]) if m["width"] else TILE_WIDTH
    level = m["level"]
    try:
        item: Tile | EntryBundle = (
            EntryBundle(index, width) if level == "entries" else Tile(int(level), index, width)
        )
        canonical = item.path
    except ValueError as e:
        raise FormatError(f"not a tile path: {path!r}: {e}") from e
    if canonical != path:  # a leading group of x000, or width 256 written as a partial
        raise FormatError(f"not the canonical tile path: {path!r} (it is {canonical!r})")
    return item


def level_width(size: int, level: int) -> int:
    """How many hashes level ``level`` of the tiles of a tree of ``size`` holds."""
    return size >> (TILE_HEIGHT * level)


def tiles_at_level(size: int, level: int, start: int = 0) -> Iterator[Tile]:
    """The tiles of level ``level`` for a tree of ``size`` leaves, from tile ``start`` on."""
    count = level_width(size, level)
    full, partial = divmod(count, TILE_WIDTH)
    for index in range(start, full):
        yield Tile(level, index)
    if partial and start <= full:
        yield Tile(level, full, partial)


def tiles(size: int) -> list[Tile]:
    """Every tile (full and partial) that represents the tree of ``size`` leaves.

    For 70,000 leaves: 273 full and one 112-wide tile at level 0, one full and
    one 17-wide at level 1, one 1-wide at level 2 (the spec's example).
    """
    out: list[Tile] = []
    level = 0
    while level_width(size, level):
        out.extend(tiles_at_level(size, level))
        level += 1
    return out


def new_tiles(old_size: int, new_size: int) -> list[Tile]:
    """The tiles to write when the tree grows from ``old_size`` to ``new_size``.

    That is every tile of the new tree that did not exist, with the same
    width, in the old one: the tiles a publisher writes incrementally.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"a tree grows, it does not go from {old_size} to {new_size}")
    out: list[Tile] = []
    level = 0
    while level_width(new_size, level):
        old, new = level_width(old_size, level), level_width(new_size, level)
        if new != old:
            out.extend(tiles_at_level(new_size, level, start=old // TILE_WIDTH))
        level += 1
    return out


def entry_bundles(size: int, old_size: int = 0) -> list[EntryBundle]:
    """The entry bundles of the tree of ``size``, or those new since ``old_size``."""
    if not 0 <= old_size <= size:
        raise ValueError(f"a tree grows, it does not go from {old_size} to {size}")
    if old_size == size:
        return []
    return [EntryBundle(t.index, t.width) for t in tiles_at_level(size, 0, old_size // TILE_WIDTH)]


def tile_of_node(level: int, index: int) -> tuple[Tile, int]:
    """The full tile that stores node ``(level, index)`` (``level`` a multiple of 8), and where.

    Raises:
        ValueError: if nodes of ``level`` are not stored in tiles.
    """
    if level % TILE_HEIGHT:
        raise ValueError(f"tiles store Merkle levels 0, 8, 16…, not {level}")
    return Tile(level // TILE_HEIGHT, index // TILE_WIDTH), index % TILE_WIDTH


def split_hashes(data: bytes, tile: Tile) -> list[bytes]:
    """The hashes in a tile's bytes, checking there are exactly ``tile.width``.

    Raises:
        FormatError: if the data is not ``width`` hashes.
    """
    if len(data) != tile.width * HASH_SIZE:
        raise FormatError(f"{tile.path}: {len(data)} bytes, expected {tile.width * HASH_SIZE}")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry as a big-endian uint16 length and its bytes.

    Raises:
        ValueError: an entry longer than 65,535 bytes, or more than 256 entries.
    """
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise ValueError(f"an entry bundle holds 1 to {TILE_WIDTH} entries")
    parts = []
    for e in entries:
        if len(e) > MAX_ENTRY_SIZE:
            raise ValueError(f"a log entry is at most {MAX_ENTRY_SIZE} bytes, not {len(e)}")
        parts.append(len(e).to_bytes(2, "big") + e)
    return b"".join(parts)


def decode_bundle(data: bytes, bundle: EntryBundle) -> list[bytes]:
    """The entries of an entry bundle, checking there are exactly ``bundle.width``.

    Raises:
        FormatError: a truncated bundle, trailing bytes, or the wrong count.
    """
    entries, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise FormatError(f"{bundle.path}: truncated entry length at byte {pos}")
        n = int.from_bytes(data[pos : pos + 2], "big")
        if pos + 2 + n > len(data):
            raise FormatError(f"{bundle.path}: truncated entry at byte {pos}")
        entries.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    if len(entries) != bundle.width:
        raise FormatError(f"{bundle.path}: {len(entries)} entries, expected {bundle.width}")
    return entries
