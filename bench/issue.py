"""Benchmark ``pith issue`` at scale: records/s and peak RSS, against floors and the JWS peer.

Usage: python bench/issue.py [--records N] [--workers W] [--quick]
(default 1,000,000 records, one worker per CPU; --quick: 5,000)

A generator writes N synthetic snapshot lines in the real format; they are
issued into a fresh SQLite registry with an in-memory key. In the same run
(bench/_floors.py): libsodium signing of 32-byte digests on 1 and 2 processes
(2 signatures per record: receipt and record_created event), and the JWS
peer, joserfc signing the same snapshot lines as JWS compact serializations
(one per record) on W processes. RSS is sampled at 10%, 50% and 100% of the
input, to show that memory stays flat as the input grows.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import _floors
import psutil
from _synth import write_snapshot

from issuer.keys import SeedSigner
from issuer.pipeline import Issuer, IssueSummary
from issuer.store import open_store

SIGNATURES_PER_RECORD = 2


class _Sampler:
    def __init__(self) -> None:
        self.total = 1
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
    parser.add_argument("--quick", action="store_true", help="5,000 records")
    args = parser.parse_args()
    n = 5_000 if args.quick else args.records
    report = _floors.Report("issue", "records/s")
    report.header(f"{n:,} records, {_floors.processes(args.workers)}")
    snapshot = write_snapshot(Path(__file__).parent / "out" / f"snapshot-{n}.json", n)
    report.note(f"input: {snapshot.stat().st_size / 1e9:.2f} GB of synthetic snapshot lines")
    fixed = datetime(2026, 5, 17, tzinfo=UTC)
    with tempfile.TemporaryDirectory(dir=snapshot.parent) as tmp:
        sampler = _Sampler()
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
            report.step_done()
        db_size = sum(p.stat().st_size for p in Path(tmp).iterdir())
    rate = summary.issued / elapsed
    report.measured(rate, f"{summary.issued:,} in {elapsed:,.1f} s")
    _floors.signing_floors_and_peer(report, n, SIGNATURES_PER_RECORD, snapshot, args.workers)
    report.note(f"registry {db_size / 1e9:.2f} GB = {db_size / summary.issued:,.0f} B/record")
    report.note(f"projected: 1M records {1e6 / rate:,.0f} s, 2.9M {2.9e6 / rate / 60:.1f} min")
    for mark in (0.1, 0.5, 1.0):
        rss = next((r for f, r in sampler.samples if f >= mark), sampler.samples[-1][1])
        report.note(f"RSS at {mark:>4.0%} of input: {rss:,.0f} MB")
    report.target("libsodium sign, 2 processes", 0.35, "issue >= 0.35 of the 2-process floor")
    report.finish()


if __name__ == "__main__":
    main()
