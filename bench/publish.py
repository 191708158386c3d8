"""Benchmark ``pith publish``: files/s and MB/s against a bare write loop of the same bytes.

Usage: python bench/publish.py [--records N]   (default 100,000)

A registry of N synthetic records is issued first (not timed). Then the tree
is published into an empty directory (timed: merge, build and sign each
bundle, render the page, write four files atomically), then published again
(timed: nothing changed, so every record is only checked). The floor, in the
same run, writes the very same files' bytes with a bare open/write loop into
another directory: no rename, no sync, no work.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _synth import write_snapshot

from issuer.keys import SeedSigner
from issuer.pipeline import Issuer
from issuer.publish import publish
from issuer.store import open_store

NOW = datetime(2026, 5, 17, tzinfo=UTC)


def bare_write_loop(tree: Path, target: Path) -> tuple[int, int, float]:
    """Write every file of ``tree`` again under ``target``; only the writes are timed."""
    files = 0
    size = 0
    elapsed = 0.0
    for path in tree.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        data = path.read_bytes()
        out = target / path.relative_to(tree)
        start = time.perf_counter()
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "wb") as f:
            f.write(data)
        elapsed += time.perf_counter() - start
        files += 1
        size += len(data)
    start = time.perf_counter()
    os.sync()  # the publish run syncs once too
    return files, size, elapsed + time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    n = args.records
    snapshot = write_snapshot(Path(__file__).parent / "out" / f"snapshot-{n}.json", n)
    signer = SeedSigner("bench", os.urandom(32))
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent / "out") as tmp:
        root = Path(tmp)
        with open_store(root / "registry.sqlite3") as store:
            Issuer(store, signer, lambda: NOW, workers=os.cpu_count() or 1).run([str(snapshot)])
            start = time.perf_counter()
            first = publish(store, root / "site", signer, base_url="https://pith.example", now=NOW)
            publish_s = time.perf_counter() - start
            start = time.perf_counter()
            second = publish(store, root / "site", signer, base_url="https://pith.example", now=NOW)
            again_s = time.perf_counter() - start
        files, size, floor_s = bare_write_loop(root / "site", root / "floor")
    mb = first.bytes / 1e6
    print(f"published {first.records:,} records: {first.files:,} files, {mb:,.0f} MB")
    print(
        f"publish: {publish_s:,.1f} s = {first.files / publish_s:,.0f} files/s, "
        f"{mb / publish_s:,.1f} MB/s, {first.records / publish_s:,.0f} records/s"
    )
    print(
        f"floor (bare write loop, same {files:,} files, {size / 1e6:,.0f} MB): {floor_s:,.1f} s = "
        f"{files / floor_s:,.0f} files/s, {size / 1e6 / floor_s:,.1f} MB/s"
    )
    print(f"ratio publish/floor (files/s): {(first.files / publish_s) / (files / floor_s):.2f}")
    print(
        f"second run, nothing changed: {again_s:,.1f} s "
        f"({second.unchanged:,} unchanged, {second.written} written)"
    )


if __name__ == "__main__":
    main()
