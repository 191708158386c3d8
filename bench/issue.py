"""Benchmark ``pith issue`` at scale: records/s, peak RSS, against the bare signing floor.

Usage: python bench/issue.py [--records N] [--workers W]   (default 1,000,000)

A generator writes N synthetic snapshot lines in the real format; they are
issued into a fresh SQLite registry with an in-memory key. In the same run,
the floor is bare libsodium signing of the same number of signatures (2 per
record: receipt and record_created event) on the same cores. Peak RSS is
sampled during the run at 10%, 50% and 100% of the input, to show that
memory stays flat as the input grows.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import nacl.bindings
import psutil
from _synth import write_snapshot

from issuer.keys import SeedSigner
from issuer.pipeline import Issuer, IssueSummary
from issuer.store import open_store

SIGNATURES_PER_RECORD = 2


def _sign_many(count: int) -> int:
    _, secret = nacl.bindings.crypto_sign_seed_keypair(os.urandom(32))
    msg = bytes(32)
    for _ in range(count):
        nacl.bindings.crypto_sign(msg, secret)
    return count


def floor(signatures: int, workers: int) -> float:
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_sign_many, [signatures // workers] * workers))
    return signatures / (time.perf_counter() - start)


class _Sampler:
    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.samples: list[tuple[float, float]] = []
        self.process = psutil.Process()

    def start(self, total_bytes: int | None) -> None:
        self.total = total_bytes or 1

    def advance(self, bytes_done: int, summary: IssueSummary) -> None:
        self.done += bytes_done
        self.samples.append((self.done / self.total, self.process.memory_info().rss / 1e6))

    def finish(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    n = args.records
    snapshot = write_snapshot(Path(__file__).parent / "out" / f"snapshot-{n}.json", n)
    print(f"input: {n:,} synthetic snapshot lines, {snapshot.stat().st_size / 1e9:.2f} GB")
    sign_floor = floor(n * SIGNATURES_PER_RECORD // 10, args.workers)  # a tenth is enough to time
    fixed = datetime(2026, 5, 17, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        sampler = _Sampler(1)
        with open_store(Path(tmp) / "registry.sqlite3") as store:
            issuer = Issuer(
                store,
                SeedSigner("bench", os.urandom(32)),
                lambda: fixed,
                progress=sampler,
                workers=args.workers,
            )
            start = time.perf_counter()
            summary = issuer.run([str(snapshot)])
            elapsed = time.perf_counter() - start
        db_size = (Path(tmp) / "registry.sqlite3").stat().st_size
    rate = summary.issued / elapsed
    floor_records = sign_floor / SIGNATURES_PER_RECORD
    size = f"registry {db_size / 1e9:.2f} GB"
    print(f"issued {summary.issued:,} records in {elapsed:,.0f} s: {rate:,.0f} records/s ({size})")
    cores = f"{args.workers} core(s)"
    print(f"floor: bare libsodium signing on {cores}: {sign_floor:,.0f} signatures/s", end="")
    print(f" = {floor_records:,.0f} records/s")
    print(f"ratio issue/floor: {rate / floor_records:.2f}")
    print(f"projected for 2.9M arXiv records: {2_900_000 / rate / 60:.1f} min")
    for mark in (0.1, 0.5, 1.0):
        rss = next((r for f, r in sampler.samples if f >= mark), sampler.samples[-1][1])
        print(f"RSS at {mark:>4.0%} of input: {rss:,.0f} MB")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
