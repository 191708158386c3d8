"""Benchmark bundle verification: bundles/s against floors and the JWS peer.

Usage: python bench/verify.py [--bundles N] [--cli-bundles M] [--quick]
(default 2,000 bundles; --quick: 200; the CLI rows verify M files, default N)

Builds N bundles (record_created with receipt + graph_snapshot, signed by a
test key), writes them to a directory (M files, the N bundles over and over:
start-up is paid once per run, so a large directory shows what --jobs
scales to), then measures in the same run:
- the library: issuer.verify.verify_bundle_bytes over each bundle's bytes, one
  process, best of ``LIBRARY_ROUNDS`` passes;
- the CLI: `pith verify --keys KEYS DIR --jobs 1` as a subprocess (start-up
  included), and with `--jobs 2` when this version of pith has that option;
- floors (bench/_floors.py): libsodium verification of 32-byte messages on 1
  and 2 processes, 4 signatures per bundle (receipt, two events, bundle);
- the JWS peer: joserfc verifying the same bundles' bytes as JWS compact
  serializations (one signature per bundle), on 1 and 2 processes;
- the cost of log proofs (issue #16: < 10 % slower than without): the same
  bundles, each carrying an inclusion proof of its three leaves, verified by
  the library (CPU time, batches of the two kinds interleaved, best of
  ``ROUNDS``), once all against one checkpoint (as a publication: the
  checkpoint's signature is checked once per process) and once with a
  checkpoint of its own per bundle (its signature checked for every bundle).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _floors

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from issuer import cjson, tlog
from issuer._time import parse_micros
from issuer.bundles import sign_bundle
from issuer.keys import SeedSigner
from issuer.keys.keyset import KeySet
from issuer.verify import verify_bundle_bytes
from tests import factory

SIGNATURES_PER_BUNDLE = 4
LIBRARY_ROUNDS = 3  # passes of the library over the bundles; the best counts
ROUNDS = 7  # interleaved rounds of the proof comparison; the best of each kind counts
ORIGIN = "bench.example/log"


def _cli(pith: Path, keys: Path, folder: Path, n: int, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [str(pith), "verify", "--keys", str(keys), str(folder), *extra],
        check=True,
        capture_output=True,
    )
    return n / (time.perf_counter() - start)


def _cli_rows(datas: list[bytes], keys: KeySet, files: int) -> tuple[float, float | None]:
    """Bundles/s of ``pith verify DIR --jobs 1`` and ``--jobs 2`` over ``files`` files."""
    pith = Path(sys.executable).with_name("pith")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bundles"
        folder.mkdir()
        for i in range(files):
            (folder / f"{i}.json").write_bytes(datas[i % len(datas)])
        keys_file = Path(tmp) / "keys.json"
        keys_file.write_text(json.dumps(keys.to_document()))
        help_text = subprocess.run(
            [str(pith), "verify", "--help"], capture_output=True, text=True, check=True
        ).stdout
        has_jobs = "--jobs" in help_text
        cli = _cli(pith, keys_file, folder, files, *(["--jobs", "1"] if has_jobs else []))
        jobs2 = _cli(pith, keys_file, folder, files, "--jobs", "2") if has_jobs else None
    return cli, jobs2


def _with_proofs(bundles: list[dict[str, Any]], key: SeedSigner, *, shared: bool) -> list[bytes]:
    """``bundles`` re-signed with an inclusion proof of each leaf, in one log of them all.

    ``shared``: every proof is against the checkpoint of the whole log; otherwise
    each bundle's against the checkpoint made right after its own leaves.
    """
    leaves = [
        tlog.bundle_entries(b["pith_number"], b["canonical_sha256"], b["events"]) for b in bundles
    ]
    tree = tlog.MemoryTree(tlog.leaf_hash(e) for entries in leaves for e in entries)
    note = tlog.sign_checkpoint(ORIGIN, tree.size, tree.root(), key).to_bytes()
    out, first = [], 0
    for bundle, entries in zip(bundles, leaves, strict=True):
        size = tree.size if shared else first + len(entries)
        if not shared:
            note = tlog.sign_checkpoint(ORIGIN, size, tree.root(size), key).to_bytes()
        proofs = [
            tlog.inclusion_object(
                ORIGIN,
                first + k,
                tree_size=size,
                entry=entry,
                proof=tlog.inclusion_proof(tree, first + k, size),
                checkpoint=note,
            )
            for k, entry in enumerate(entries)
        ]
        first += len(entries)
        signed_at = parse_micros(bundle["bundle_signature"]["signed_at"])
        out.append(cjson.dumps(sign_bundle({**bundle, "timestamp_proofs": proofs}, key, signed_at)))
    return out


def _proof_cost(
    report: _floors.Report,
    keys: KeySet,
    key: SeedSigner,
    bundles: list[dict[str, Any]],
    datas: list[bytes],
) -> None:
    """CPU seconds per bundle with and without proofs, interleaved; print the ratios."""
    kinds = {
        "without proofs": datas,
        "with proofs, one checkpoint": _with_proofs(bundles, key, shared=True),
        "with proofs, a checkpoint each": _with_proofs(bundles, key, shared=False),
    }
    best = dict.fromkeys(kinds, float("inf"))
    for _ in range(ROUNDS):
        for name, batch in kinds.items():
            start = time.process_time()
            for data in batch:
                verify_bundle_bytes(data, keys)
            best[name] = min(best[name], (time.process_time() - start) / len(batch))
    base_name, base = next(iter(best.items()))
    report.note(f"{base_name}: {base * 1e6:,.0f} us CPU per bundle")
    for name, seconds in list(best.items())[1:]:
        ratio = seconds / base
        report.ratios[f"{name} / {base_name}"] = ratio
        verdict = "met" if ratio < 1.1 else "NOT met"
        report.note(
            f"{name}: {seconds * 1e6:,.0f} us, {(ratio - 1) * 100:+.1f} % "
            f"(target < +10 %: {verdict})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundles", type=int, default=2_000)
    parser.add_argument("--quick", action="store_true", help="200 bundles")
    parser.add_argument(
        "--cli-bundles", type=int, default=None, help="files the CLI rows verify (default N)"
    )
    args = parser.parse_args()
    n = 200 if args.quick else args.bundles
    files = args.cli_bundles or n
    report = _floors.Report("verify", "bundles/s")
    report.header(
        f"{n:,} bundles ({files:,} files for the CLI), {SIGNATURES_PER_BUNDLE} signatures each"
    )
    key = factory.signer(1)
    keys = KeySet([key.public_key])
    datas, bundles = [], []
    for i in range(n):
        bundle = factory.bundle(factory.record(i + 1), key)
        datas.append(cjson.dumps(bundle))
        bundles.append(bundle)
    library = 0.0
    for _ in range(LIBRARY_ROUNDS):
        start = time.perf_counter()
        for data in datas:
            verify_bundle_bytes(data, keys)
        library = max(library, n / (time.perf_counter() - start))
    cli, jobs2 = _cli_rows(datas, keys, files)
    report.step_done()

    report.measured(library, "library verify_bundle_bytes, 1 process")
    signatures = max(n * SIGNATURES_PER_BUNDLE, 20_000)
    one = _floors.sodium_verify(signatures, 1)
    two = _floors.sodium_verify(signatures, 2)
    report.floor("libsodium verify, 1 process", one, SIGNATURES_PER_BUNDLE, "sig/s")
    report.floor("libsodium verify, 2 processes", two, SIGNATURES_PER_BUNDLE, "sig/s")
    report.peer("joserfc JWS verify, 1 process", _floors.jws_verify(datas, 1))
    _proof_cost(report, keys, key, bundles, datas)
    report.note(
        f"CLI pith verify DIR --jobs 1, {files:,} files (start-up included): {cli:,.0f} bundles/s"
    )
    report.ratios["cli / libsodium 1 process"] = cli / (one / SIGNATURES_PER_BUNDLE)
    if jobs2 is None:
        report.note("pith verify has no --jobs option yet: the 2-process figure is not measured")
    else:
        report.note(f"CLI pith verify DIR --jobs 2, {files:,} files: {jobs2:,.0f} bundles/s")
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
