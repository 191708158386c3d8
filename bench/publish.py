"""Benchmark ``pith publish``: files/s against a bare write loop of the same files, and the peer.

Usage: python bench/publish.py [--records N] [--quick]   (default 100,000; --quick: 2,000)

A registry of N synthetic records is issued first (not timed). Then the tree
is published into an empty directory (timed: merge, build and sign each
bundle, render the page, write the files atomically), then published again
(timed: nothing changed). In the same run (bench/_floors.py):
- the floor writes the very same files' bytes into another directory as
  publish does (tmp file + rename per file, directories created once, one
  sync), with no other work; the ratio is floor time over publish time;
- the JWS peer: joserfc signing each record's published bundle.json bytes
  as a JWS compact serialization, on one process as publish runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import _floors
from _synth import write_snapshot

from issuer.keys import SeedSigner
from issuer.pipeline import Issuer
from issuer.publish import publish
from issuer.store import open_store

NOW = datetime(2026, 5, 17, tzinfo=UTC)
PEER_SAMPLE = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="2,000 records")
    args = parser.parse_args()
    n = 2_000 if args.quick else args.records
    report = _floors.Report("publish", "records/s")
    report.header(f"{n:,} records, 1 process")
    snapshot = write_snapshot(Path(__file__).parent / "out" / f"snapshot-{n}.json", n)
    signer = SeedSigner("bench", os.urandom(32))
    with tempfile.TemporaryDirectory(dir=snapshot.parent) as tmp:
        root = Path(tmp)
        with open_store(root / "registry.sqlite3") as store:
            Issuer(store, signer, lambda: NOW, workers=os.cpu_count() or 1).run([str(snapshot)])
            # First the same tree with the log left out (no tiles, no proofs in the
            # bundles): issue 16 asks publishing with proofs to cost < 20 % more than without.
            with _without_log():
                start, cpu = time.perf_counter(), time.process_time()
                publish(store, root / "plain", signer, base_url="https://pith.example", now=NOW)
                plain_s, plain_cpu = time.perf_counter() - start, time.process_time() - cpu
            start, cpu = time.perf_counter(), time.process_time()
            first = publish(store, root / "site", signer, base_url="https://pith.example", now=NOW)
            publish_s, publish_cpu = time.perf_counter() - start, time.process_time() - cpu
            start = time.perf_counter()
            second = publish(store, root / "site", signer, base_url="https://pith.example", now=NOW)
            again_s = time.perf_counter() - start
            report.step_done()
        files = _floors.tree_files(root / "site")
        floor_s = _floors.write_loop(files, root / "floor")
        bundles = [
            data for rel, data in files if rel.parts[0] == "pith" and rel.name == "bundle.json"
        ]
    size = sum(len(data) for _, data in files)
    files_per_record = len(files) / max(first.records, 1)
    report.measured(
        first.records / publish_s,
        f"{len(files):,} files, {size / 1e6:,.0f} MB in {publish_s:,.1f} s = "
        f"{len(files) / publish_s:,.0f} files/s",
    )
    report.floor(
        "write loop, tmp + rename per file",
        len(files) / floor_s,
        per=files_per_record,
        unit=f"files/s ({size / 1e6 / floor_s:,.0f} MB/s)",
    )
    report.peer("joserfc JWS sign of bundle.json, 1 process", _floors.jws_sign(bundles, 1))
    report.note(
        f"second run, nothing changed: {again_s:,.1f} s "
        f"({second.unchanged:,} unchanged, {second.written:,} written)"
    )
    report.note(
        f"without the log (no tiles, no proofs): {plain_s:,.1f} s, {plain_cpu:,.1f} s CPU; "
        f"with it {publish_s / plain_s - 1:+.1%} by the clock, "
        f"{publish_cpu / plain_cpu - 1:+.1%} in CPU time (issue 16 target: < +20 %)"
    )
    report.target("write loop, tmp + rename per file", 0.5, "publish >= 0.5 of the write loop")
    report.finish()


@contextlib.contextmanager
def _without_log() -> Iterator[None]:
    """Publishing with the log's tiles and bundle proofs switched off (a baseline only)."""
    with (
        mock.patch("issuer.publish.write_tiles", lambda *_args, **_kw: None),
        mock.patch("issuer.publish._Run.proofs", lambda _self, _number: []),
    ):
        yield


if __name__ == "__main__":
    main()
