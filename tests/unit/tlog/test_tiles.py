"""C2SP tlog-tiles arithmetic, entry bundles, and the incremental appender."""

from __future__ import annotations

import pytest

from issuer.errors import FormatError
from issuer.tlog import (
    TILE_WIDTH,
    Appender,
    EntryBundle,
    MemoryTree,
    Tile,
    TileReader,
    consistency_proof,
    decode_bundle,
    encode_bundle,
    entry_bundles,
    inclusion_proof,
    index_path,
    leaf_hash,
    new_tiles,
    parse_path,
    split_hashes,
    subtree_hash,
    tile_of_node,
    tiles,
)


@pytest.mark.parametrize(
    ("index", "path"),
    [(0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_index_paths(index: int, path: str) -> None:
    assert index_path(index) == path


@pytest.mark.parametrize(
    ("item", "path"),
    [
        (Tile(0, 1234067), "tile/0/x001/x234/067"),
        (Tile(2, 5, 17), "tile/2/005.p/17"),
        (Tile(63, 0, 1), "tile/63/000.p/1"),
        (EntryBundle(1000), "tile/entries/x001/000"),
        (EntryBundle(3, 255), "tile/entries/003.p/255"),
    ],
)
def test_paths_round_trip(item: Tile | EntryBundle, path: str) -> None:
    assert item.path == path
    assert parse_path(path) == item


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/1",
        "tile/0/0001",
        "tile/00/001",
        "tile/64/001",
        "tile/0/x000/001",
        "tile/0/001/x002",
        "tile/0/001.p/0",
        "tile/0/001.p/256",
        "tile/0/001.p/012",
        "tile/0/001.p/",
        "tile/entries/001.p/300",
        "tile/-1/001",
        "/tile/0/001",
        "tile/0/001/",
    ],
)
def test_non_canonical_tile_paths_are_refused(path: str) -> None:
    with pytest.raises(FormatError):
        parse_path(path)


def test_the_spec_example_of_70000_leaves() -> None:
    assert tiles(70_000) == [
        *(Tile(0, i) for i in range(273)),
        Tile(0, 273, 112),
        Tile(1, 0),
        Tile(1, 1, 17),
        Tile(2, 0, 1),
    ]


def test_a_tree_of_256_has_a_full_tile_and_a_partial_level_1_tile() -> None:
    assert tiles(256) == [Tile(0, 0), Tile(1, 0, 1)]
    assert tiles(0) == []


@pytest.mark.parametrize(
    ("old", "new"), [(0, 1), (0, 256), (255, 256), (256, 257), (300, 600), (5, 70_000), (7, 7)]
)
def test_new_tiles_are_exactly_those_not_in_the_old_tree(old: int, new: int) -> None:
    assert set(new_tiles(old, new)) == set(tiles(new)) - set(tiles(old))
    assert set(entry_bundles(new, old)) == {
        EntryBundle(t.index, t.width) for t in set(tiles(new)) - set(tiles(old)) if t.level == 0
    }


def test_a_tree_does_not_shrink() -> None:
    with pytest.raises(ValueError):
        new_tiles(5, 4)
    with pytest.raises(ValueError):
        entry_bundles(4, 5)


def test_tile_of_node() -> None:
    assert tile_of_node(0, 300) == (Tile(0, 1), 44)
    assert tile_of_node(8, 3) == (Tile(1, 0), 3)
    with pytest.raises(ValueError):
        tile_of_node(3, 0)


def test_entry_bundles_round_trip_and_are_strict() -> None:
    entries = [b"", b"a", b"\x00" * 300]
    data = encode_bundle(entries)
    assert data[:5] == b"\x00\x00\x00\x01a"
    assert decode_bundle(data, EntryBundle(0, 3)) == entries
    for bad in (data[:-1], data + b"\x00", data + b"\x00\x05"):
        with pytest.raises(FormatError):
            decode_bundle(bad, EntryBundle(0, 3))
    with pytest.raises(FormatError):
        decode_bundle(data, EntryBundle(0, 4))
    with pytest.raises(ValueError):
        encode_bundle([b"x" * 65_536])


def test_split_hashes_checks_the_width() -> None:
    assert split_hashes(b"\x01" * 64, Tile(0, 0, 2)) == [b"\x01" * 32] * 2
    with pytest.raises(FormatError):
        split_hashes(b"\x01" * 64, Tile(0, 0, 3))


# --- appender --------------------------------------------------------------


def _entries(n: int) -> list[bytes]:
    return [i.to_bytes(4, "big") for i in range(n)]


def _run(n: int) -> tuple[Appender, dict[str, bytes]]:
    out: dict[str, bytes] = {}

    def sink(item: Tile | EntryBundle, data: bytes) -> None:
        assert item.path not in out, "a tile is emitted once"
        out[item.path] = data

    appender = Appender(sink)
    appender.append_entries(_entries(n))
    return appender, out


def _expected_tiles(tree: MemoryTree, size: int) -> dict[str, bytes]:
    """Every tile of ``size`` from the tree's nodes, per the spec's formula."""
    out = {}
    for tile in tiles(size):
        level = 8 * tile.level
        first = tile.index * TILE_WIDTH
        out[tile.path] = b"".join(tree.node(level, first + i) for i in range(tile.width))
    return out


BIG = 70_000


@pytest.fixture(scope="module")
def reference() -> MemoryTree:
    """The reference tree of BIG leaves; smaller trees are its prefixes."""
    return MemoryTree(leaf_hash(e) for e in _entries(BIG))


@pytest.mark.parametrize("n", [0, 1, 255, 256, 257, 65_536, BIG])
def test_appender_root_and_tiles_match_the_reference_tree(reference: MemoryTree, n: int) -> None:
    appender, emitted = _run(n)
    tree = reference
    assert appender.size == n
    assert appender.root() == tree.root(n)
    published = emitted | {item.path: data for item, data in appender.partial_tiles()}
    expected = _expected_tiles(tree, n)
    hash_tiles = {p: d for p, d in published.items() if not p.startswith("tile/entries/")}
    assert hash_tiles == expected
    bundles = {p: d for p, d in published.items() if p.startswith("tile/entries/")}
    entries = _entries(n)
    assert set(bundles) == {b.path for b in entry_bundles(n)}
    for path, data in bundles.items():
        item = parse_path(path)
        assert isinstance(item, EntryBundle)
        start = item.index * TILE_WIDTH
        assert decode_bundle(data, item) == entries[start : start + item.width]


def test_only_full_tiles_are_emitted() -> None:
    _, emitted = _run(600)
    assert sorted(emitted) == ["tile/0/000", "tile/0/001", "tile/entries/000", "tile/entries/001"]


def test_appender_resumes_from_its_state() -> None:
    first, _ = _run(BIG)
    partial: list[list[bytes]] = [[] for _ in range(3)]
    for item, data in first.partial_tiles():
        if isinstance(item, Tile):
            partial[item.level] = split_hashes(data, item)
    pending = _entries(70_000)[70_000 - 70_000 % 256 :]
    resumed = Appender(
        size=70_000, frontier=first.frontier, partial=partial, pending_entries=pending
    )
    resumed.append_entries(i.to_bytes(4, "big") for i in range(70_000, 70_100))
    whole, _ = _run(70_100)
    assert resumed.root() == whole.root()
    assert resumed.partial_tiles() == whole.partial_tiles()


@pytest.mark.parametrize(
    "state",
    [
        {"size": 3, "frontier": [b"\x00" * 32]},
        {"size": 1, "frontier": [b"\x00" * 32], "partial": [[]]},
        {"size": 0, "pending_entries": [b"x"]},
        {"size": 256, "frontier": [b"\x00" * 32], "partial": [[]]},
    ],
    ids=["frontier-count", "partial-width", "pending-entries", "missing-level-1"],
)
def test_inconsistent_appender_state_is_refused(state: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Appender(**state)  # type: ignore[arg-type]


def test_appender_refuses_bad_input() -> None:
    appender = Appender()
    with pytest.raises(ValueError):
        appender.append_hashes([b"short"])
    with pytest.raises(ValueError):
        appender.append_entries([b"x" * 65_536])
    assert appender.size == 0


# --- proofs from tiles -----------------------------------------------------


def test_proofs_from_tiles_are_the_proofs_from_the_tree(reference: MemoryTree) -> None:
    size = BIG
    appender, emitted = _run(size)
    published = emitted | {item.path: data for item, data in appender.partial_tiles()}
    fetched: list[str] = []

    def fetch(tile: Tile) -> bytes:
        fetched.append(tile.path)
        return published[tile.path]

    reader = TileReader(size, fetch)
    assert subtree_hash(reader, 0, size) == reference.root(size) == appender.root()
    for index in (0, 1, 255, 256, 65_535, 65_536, 69_999):
        assert inclusion_proof(reader, index, size) == inclusion_proof(reference, index, size)
    for size1 in (1, 256, 1000, 65_536, 69_999):
        assert consistency_proof(reader, size1, size) == consistency_proof(reference, size1, size)
    assert len(fetched) == len(set(fetched)), "each tile is fetched once"


def test_a_tile_reader_refuses_nodes_beyond_the_tree() -> None:
    reader = TileReader(300, lambda tile: b"\x00" * (32 * tile.width))
    assert reader.node(0, 299) == b"\x00" * 32
    for level, index in ((0, 300), (8, 1), (9, 0), (2, 75), (0, -1)):
        with pytest.raises(ValueError):
            reader.node(level, index)


def test_a_short_tile_is_a_format_error() -> None:
    reader = TileReader(300, lambda tile: b"\x00" * 32)
    with pytest.raises(FormatError):
        reader.node(0, 5)


@pytest.mark.parametrize("size", [1, 5, 256, 300, 700])
def test_every_complete_subtree_read_from_tiles_is_the_trees(size: int) -> None:
    tree = MemoryTree(leaf_hash(e) for e in _entries(size))
    published = _expected_tiles(tree, size)
    reader = TileReader(size, lambda tile: published[tile.path], keep=1)
    for level in range(size.bit_length()):
        for index in range(size >> level):
            assert reader.node(level, index) == tree.node(level, index), (level, index)


def test_a_tile_is_hashed_up_once_while_kept_and_the_reader_keeps_at_most_keep() -> None:
    size = 700
    tree = MemoryTree(leaf_hash(e) for e in _entries(size))
    published = _expected_tiles(tree, size)
    fetched: list[str] = []

    def fetch(tile: Tile) -> bytes:
        fetched.append(tile.path)
        return published[tile.path]

    reader = TileReader(size, fetch, keep=2)
    for level in range(8):  # every subtree within the first tile: one fetch
        for index in range(256 >> level):
            reader.node(level, index)
    assert fetched == ["tile/0/000"]
    reader.node(0, 256)  # a second tile: both kept
    reader.node(0, 0)
    assert fetched == ["tile/0/000", "tile/0/001"]
    reader.node(0, 512)  # a third: the reader starts again, and fetches what it needs anew
    reader.node(0, 0)
    assert fetched == ["tile/0/000", "tile/0/001", "tile/0/002.p/188", "tile/0/000"]
