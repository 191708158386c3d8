"""Benchmark ``pith reissue``: records/s re-signed, against the bare signing floor.

Usage: python bench/reissue.py [--records N] [--workers W]   (default 200,000)

A registry of N synthetic records is issued with one in-memory key (not
timed), then every receipt and event is re-signed under a second key with
:func:`issuer.reissue.reissue` and W worker processes (default: one per
CPU). The floor, measured in the same run, is bare libsodium signing of the
same number of signatures (2 per record: the receipt and the record_created
event) on the same W cores. A second, no-op run shows the cost of walking a
registry that is already current (what a resumed run skips through).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nacl.bindings
from _synth import write_snapshot

from issuer.keys import SeedSigner
from issuer.pipeline import Issuer
from issuer.reissue import reissue
from issuer.store import open_store

SIGNATURES_PER_RECORD = 2


def _sign_many(count: int) -> int:
    _, secret = nacl.bindings.crypto_sign_seed_keypair(os.urandom(32))
    msg = bytes(32)
    for _ in range(count):
        nacl.bindings.crypto_sign(msg, secret)
    return count


def floor(signatures: int, workers: int) -> float:
    """Bare libsodium signatures per second over a 32-byte digest, on ``workers`` cores."""
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_sign_many, [signatures // workers] * workers))
    return signatures / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    n = args.records
    snapshot = write_snapshot(Path(__file__).parent / "out" / f"snapshot-{n}.json", n)
    issued_at = datetime(2026, 5, 17, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp) / "r.sqlite3") as store:
        old = SeedSigner("bench-old", os.urandom(32))
        Issuer(store, old, lambda: issued_at, workers=args.workers).run([str(snapshot)])
        print(f"registry: {store.count():,} records issued with {old.key_id}")
        new = SeedSigner("bench-new", os.urandom(32))
        start = time.perf_counter()
        summary = reissue(store, new, now=issued_at + timedelta(days=30), workers=args.workers)
        elapsed = time.perf_counter() - start
        start = time.perf_counter()
        again = reissue(store, new, now=issued_at + timedelta(days=31), workers=args.workers)
        noop = time.perf_counter() - start
    sign_floor = floor(n * SIGNATURES_PER_RECORD // 10, args.workers)  # a tenth is enough
    rate = summary.records / elapsed
    floor_records = sign_floor / SIGNATURES_PER_RECORD
    print(
        f"reissued {summary.records:,} records ({summary.receipts:,} receipts, "
        f"{summary.events:,} events) in {elapsed:,.1f} s: {rate:,.0f} records/s"
    )
    print(
        f"floor: bare libsodium signing on {args.workers} core(s): {sign_floor:,.0f} signatures/s "
        f"= {floor_records:,.0f} records/s"
    )
    print(f"ratio reissue/floor: {rate / floor_records:.2f}")
    print(
        f"second run (everything current, {again.receipts_current:,} receipts skipped): "
        f"{noop:,.1f} s = {again.records / noop:,.0f} records/s"
    )


if __name__ == "__main__":
    main()
