"""Benchmark ``pith derive`` against a floor of json parse + hashlib over the same lines.

Usage: python bench/derive.py [--records N]   (default 200,000)

Prints records/s for the library path (read → canonical record → Pith number →
aliases → canonical JSON output line) and for the floor measured in the same
run, and their ratio. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from _synth import write_snapshot

from issuer import cjson
from issuer.derive import Derivation, derive_files


def floor(path: Path) -> float:
    start = time.perf_counter()
    n = 0
    with path.open("rb") as f:
        for line in f:
            obj = json.loads(line)
            hashlib.sha256(obj["title"].encode()).digest()
            hashlib.sha256(obj["abstract"].encode()).digest()
            hashlib.sha256(line).digest()
            n += 1
    return n / (time.perf_counter() - start)


def ours(path: Path) -> float:
    fixed = datetime(2026, 1, 1, tzinfo=UTC)
    start = time.perf_counter()
    n = 0
    for outcome in derive_files([str(path)], lambda: fixed):
        if isinstance(outcome, Derivation):
            cjson.dumps(outcome.to_dict())
            n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    path = write_snapshot(
        Path(__file__).parent / "out" / f"snapshot-{args.records}.json", args.records
    )
    size = path.stat().st_size
    print(f"input: {args.records:,} synthetic snapshot lines, {size / 1e6:.0f} MB")
    f = floor(path)
    d = ours(path)
    print(f"floor (json.loads + 3x sha256 per line): {f:,.0f} records/s")
    print(f"pith derive (library):                    {d:,.0f} records/s")
    print(f"ratio derive/floor: {d / f:.2f}")


if __name__ == "__main__":
    main()
