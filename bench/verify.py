"""Benchmark bundle verification: bundles/s against floors and the JWS peer.

Usage: python bench/verify.py [--bundles N] [--quick]   (default 2,000; --quick: 200)

Builds N bundles (record_created with receipt + graph_snapshot, signed by a
test key), writes them to a directory, then measures in the same run:
- the library: issuer.verify.verify_bundle_bytes over each file's bytes, one process;
- the CLI: `pith verify --keys KEYS DIR` as a subprocess (start-up included),
  and with `--jobs 2` when this version of pith has that option;
- floors (bench/_floors.py): libsodium verification of 32-byte messages on 1
  and 2 processes, 4 signatures per bundle (receipt, two events, bundle);
- the JWS peer: joserfc verifying the same bundles' bytes as JWS compact
  serializations (one signature per bundle), on 1 and 2 processes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _floors

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from issuer import cjson
from issuer.keys.keyset import KeySet
from issuer.verify import verify_bundle_bytes
from tests import factory

SIGNATURES_PER_BUNDLE = 4


def _cli(pith: Path, keys: Path, folder: Path, n: int, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [str(pith), "verify", "--keys", str(keys), str(folder), *extra],
        check=True,
        capture_output=True,
    )
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundles", type=int, default=2_000)
    parser.add_argument("--quick", action="store_true", help="200 bundles")
    args = parser.parse_args()
    n = 200 if args.quick else args.bundles
    report = _floors.Report("verify", "bundles/s")
    report.header(f"{n:,} bundles, {SIGNATURES_PER_BUNDLE} signatures each")
    key = factory.signer(1)
    keys = KeySet([key.public_key])
    pith = Path(sys.executable).with_name("pith")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bundles"
        folder.mkdir()
        datas = []
        for i in range(n):
            data = cjson.dumps(factory.bundle(factory.record(i + 1), key))
            (folder / f"{i}.json").write_bytes(data)
            datas.append(data)
        keys_file = Path(tmp) / "keys.json"
        keys_file.write_text(json.dumps(keys.to_document()))

        start = time.perf_counter()
        for data in datas:
            verify_bundle_bytes(data, keys)
        library = n / (time.perf_counter() - start)
        cli = _cli(pith, keys_file, folder, n)
        help_text = subprocess.run(
            [str(pith), "verify", "--help"], capture_output=True, text=True, check=True
        ).stdout
        jobs2 = _cli(pith, keys_file, folder, n, "--jobs", "2") if "--jobs" in help_text else None
        report.step_done()

    report.measured(library, "library verify_bundle_bytes, 1 process")
    signatures = max(n * SIGNATURES_PER_BUNDLE, 20_000)
    one = _floors.sodium_verify(signatures, 1)
    two = _floors.sodium_verify(signatures, 2)
    report.floor("libsodium verify, 1 process", one, SIGNATURES_PER_BUNDLE, "sig/s")
    report.floor("libsodium verify, 2 processes", two, SIGNATURES_PER_BUNDLE, "sig/s")
    report.peer("joserfc JWS verify, 1 process", _floors.jws_verify(datas, 1))
    report.note(f"CLI pith verify DIR (start-up included): {cli:,.0f} bundles/s")
    report.ratios["cli / libsodium 1 process"] = cli / (one / SIGNATURES_PER_BUNDLE)
    if jobs2 is None:
        report.note("pith verify has no --jobs option yet: the 2-process figure is not measured")
    else:
        report.note(f"CLI pith verify DIR --jobs 2: {jobs2:,.0f} bundles/s")
        floor_one = one / SIGNATURES_PER_BUNDLE
        report.ratios["jobs 2 / libsodium 1 process"] = jobs2 / floor_one
        report.note(f"  ratio to the 1-process floor {jobs2 / floor_one:.2f}")
        report.peer("joserfc JWS verify, 2 processes", _floors.jws_verify(datas, 2), rate_of=jobs2)
    report.target("libsodium verify, 1 process", 0.5, "library >= 0.5 of the 1-process floor")
    if jobs2 is not None:
        report.target("jobs 2 / libsodium 1 process", 0.8, "--jobs 2 >= 0.8 of the 1-process floor")
    report.finish()


if __name__ == "__main__":
    main()
