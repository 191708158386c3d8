"""Benchmark ``pith derive`` against json + hashlib over the same lines, and the JWS peer.

Usage: python bench/derive.py [--records N] [--samples] [--quick]
(default 200,000 synthetic lines; --samples: the real lines of
examples/snapshot-sample.jsonl repeated to N; --quick: 5,000)

Prints records/s for the library path (read → canonical record → Pith number →
aliases → canonical JSON output line), the floor measured in the same run
(``json.loads`` + three SHA-256 per line, bench/_floors.py), and their ratio.
Derive signs nothing; the peer row is joserfc signing the same lines as JWS on
one process, to set the derivation cost beside what one signature costs a JWS
issuer. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import itertools
import time
from datetime import UTC, datetime
from pathlib import Path

import _floors
from _synth import write_snapshot

from issuer.derive import Derivation, derive_files

PEER_SAMPLE = 20_000
SAMPLES = Path(__file__).resolve().parents[1] / "examples" / "snapshot-sample.jsonl"


def repeated_samples(path: Path, count: int) -> Path:
    """Write the real sample lines, repeated, to ``count`` lines at ``path``."""
    lines = [line.rstrip(b"\n") + b"\n" for line in SAMPLES.read_bytes().splitlines() if line]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.writelines(itertools.islice(itertools.cycle(lines), count))
    return path


def ours(path: Path) -> float:
    fixed = datetime(2026, 1, 1, tzinfo=UTC)
    start = time.perf_counter()
    n = 0
    for outcome in derive_files([str(path)], lambda: fixed):
        if isinstance(outcome, Derivation):
            outcome.to_json()  # the CLI's output line
            n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--samples", action="store_true", help="real sample lines, repeated")
    parser.add_argument("--quick", action="store_true", help="5,000 records")
    args = parser.parse_args()
    n = 5_000 if args.quick else args.records
    report = _floors.Report("derive", "records/s")
    out = Path(__file__).parent / "out"
    if args.samples:
        report.header(f"{n:,} lines: {SAMPLES.name} repeated, 1 process")
        path = repeated_samples(out / f"samples-{n}.json", n)
    else:
        report.header(f"{n:,} synthetic snapshot lines, 1 process")
        path = write_snapshot(out / f"snapshot-{n}.json", n)
    report.note(f"input: {path.stat().st_size / 1e6:,.0f} MB")
    report.measured(ours(path), "library derive_files + canonical JSON output line")
    report.step_done()
    report.floor("json.loads + 3 sha256", _floors.json_hashlib(path))
    with path.open("rb") as f:
        lines = list(itertools.islice(f, PEER_SAMPLE))
    report.peer("joserfc JWS sign, 1 process", _floors.jws_sign(lines, 1))
    report.target("json.loads + 3 sha256", 0.4, "derive >= 0.4 of json + hashlib")
    report.finish()


if __name__ == "__main__":
    main()
