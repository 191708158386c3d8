"""Benchmark ``pith reissue``: records/s re-signed, against floors and the JWS peer.

Usage: python bench/reissue.py [--records N] [--workers W] [--quick]
(default 200,000 records, one worker per CPU; --quick: 5,000)

A registry of N synthetic records is issued with one in-memory key (not
timed), then every receipt and event is re-signed under a second key with
:func:`issuer.reissue.reissue` and W worker processes. In the same run
(bench/_floors.py): libsodium signing of 32-byte digests on 1 and 2
processes (2 signatures per record: the receipt and the record_created
event), and the JWS peer, joserfc signing the same records (their snapshot
lines) as JWS compact serializations on W processes. A second, no-op run
shows the cost of walking a registry that is already current (what a
resumed run skips through).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _floors
from _synth import write_snapshot

from issuer.keys import SeedSigner
from issuer.pipeline import Issuer
from issuer.reissue import reissue
from issuer.store import open_store

SIGNATURES_PER_RECORD = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help="5,000 records")
    args = parser.parse_args()
    n = 5_000 if args.quick else args.records
    report = _floors.Report("reissue", "records/s")
    report.header(f"{n:,} records, {_floors.processes(args.workers)}")
    snapshot = write_snapshot(Path(__file__).parent / "out" / f"snapshot-{n}.json", n)
    issued_at = datetime(2026, 5, 17, tzinfo=UTC)
    with (
        tempfile.TemporaryDirectory(dir=snapshot.parent) as tmp,
        open_store(Path(tmp) / "r.sqlite3") as store,
    ):
        old = SeedSigner("bench-old", os.urandom(32))
        Issuer(store, old, lambda: issued_at, workers=args.workers).run([str(snapshot)])
        new = SeedSigner("bench-new", os.urandom(32))
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        start, cpu = time.perf_counter(), time.process_time()
        summary = reissue(store, new, now=issued_at + timedelta(days=30), workers=args.workers)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool, reaped on return
        workers_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
        start = time.perf_counter()
        again = reissue(store, new, now=issued_at + timedelta(days=31), workers=args.workers)
        noop = time.perf_counter() - start
        report.step_done()
    report.measured(
        summary.records / elapsed,
        f"{summary.records:,} records ({summary.receipts:,} receipts, "
        f"{summary.events:,} events) in {elapsed:,.1f} s",
    )
    _floors.signing_floors_and_peer(report, n, SIGNATURES_PER_RECORD, snapshot, args.workers)
    report.note(
        f"CPU: writer (this process) {cpu / summary.records * 1e6:,.0f} us/record, "
        f"workers (all) {workers_cpu / summary.records * 1e6:,.0f} us/record"
    )
    report.note(
        f"second run (everything current, {again.receipts_current:,} receipts skipped): "
        f"{noop:,.1f} s = {again.records / noop:,.0f} records/s"
    )
    report.target("libsodium sign, 2 processes", 0.35, "reissue >= 0.35 of the 2-process floor")
    report.finish()


if __name__ == "__main__":
    main()
