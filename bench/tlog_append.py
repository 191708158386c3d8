"""Benchmark appending leaves to the transparency log and building their tiles.

Usage: python bench/tlog_append.py [--leaves N] [--entry-size B] [--write DIR]
(default 1,000,000 leaves of 285-byte entries, the size of a proposed leaf entry).

The appender (issuer.tlog.Appender) hashes each entry as an RFC 6962 leaf,
folds it into the frontier, and emits every full tile (level 0 and up) and
entry bundle as bytes; the partial ones are built at the end, as for a
checkpoint. With --write, tiles are also written to DIR as a publisher would.
The floor is the same hashing in a bare hashlib.sha256 loop, measured in the
same run: one leaf hash per entry and one node hash per leaf (a tree of n
leaves has n - 1 interior nodes). Target (issue 16): >= 200k leaves/s. Rates
are given by the wall clock and per CPU second of this process, since the
second is what a shared, busy machine still measures faithfully.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

from issuer.tlog import Appender, EntryBundle, Tile


def entries(n: int, size: int) -> list[bytes]:
    pad = b"p" * max(0, size - 8)
    return [i.to_bytes(8, "big") + pad for i in range(n)]


def floor(data: list[bytes]) -> tuple[float, float]:
    sha256 = hashlib.sha256
    start, cpu = time.perf_counter(), time.process_time()
    h = b""
    for e in data:
        h = sha256(b"\x00" + e).digest()
    for _ in range(len(data) - 1):
        h = sha256(b"\x01" + h + h).digest()
    return _rates(len(data), start, cpu)


def _rates(n: int, start: float, cpu: float) -> tuple[float, float]:
    """(leaves/s by the wall clock, leaves/s by this process's CPU time)."""
    return n / (time.perf_counter() - start), n / (time.process_time() - cpu)


def append(data: list[bytes], out: Path | None) -> tuple[tuple[float, float], int, int, bytes]:
    tiles: dict[str, bytes] = {}

    def sink(item: Tile | EntryBundle, blob: bytes) -> None:
        tiles[item.path] = blob

    start, cpu = time.perf_counter(), time.process_time()
    appender = Appender(sink)
    appender.append_entries(data)
    for item, blob in appender.partial_tiles():
        tiles[item.path] = blob
    root = appender.root()
    if out is not None:
        for path, blob in tiles.items():
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob)
    rates = _rates(len(data), start, cpu)
    level0 = sum(1 for p in tiles if p.startswith("tile/0/"))
    return rates, level0, len(tiles), root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--entry-size", type=int, default=285)
    parser.add_argument("--write", type=Path, default=None, help="write the tiles under DIR")
    args = parser.parse_args()
    data = entries(args.leaves, args.entry_size)
    floor_wall, floor_cpu = floor(data)
    (wall, cpu), level0, total, root = append(data, args.write)
    print(f"leaves: {args.leaves:,} of {args.entry_size} bytes; root {root.hex()}")
    print(f"tiles: {level0:,} level-0 tiles, {total:,} tiles and entry bundles in all")
    print(f"appender: {wall:,.0f} leaves/s wall, {cpu:,.0f} per CPU second (target >= 200,000)")
    print(
        f"floor (bare hashlib.sha256 loop, same hashes): {floor_wall:,.0f} leaves/s wall, "
        f"{floor_cpu:,.0f} per CPU second"
    )
    print(f"ratio appender/floor: {wall / floor_wall:.2f} wall, {cpu / floor_cpu:.2f} CPU")


if __name__ == "__main__":
    main()
