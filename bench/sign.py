"""Benchmark receipts/s through each signer backend against floors and the JWS peer.

Usage: python bench/sign.py [--receipts N] [--quick]   (default 20,000; --quick: 2,000;
the HSM runs N/10)

Each backend builds and signs whole receipts (issuer.receipts.sign_receipt)
on one process, so the ratios show what the receipt format and the Signer
interface cost on top of the signature itself. In the same run
(bench/_floors.py): libsodium signing of 32-byte digests on 1 and 2
processes (one signature per receipt), pyca/cryptography (OpenSSL) in a bare
loop for reference, and the JWS peer, joserfc signing the same receipts'
content (the digest and time) as JWS compact serializations on one process.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import _floors
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer.keys import SeedSigner, Signer
from issuer.receipts import sign_receipt

NOW = datetime(2026, 5, 17, tzinfo=UTC)


def digests(n: int) -> list[str]:
    return [hashlib.sha256(i.to_bytes(8, "big")).hexdigest() for i in range(n)]


def floor(n: int) -> float:
    key = Ed25519PrivateKey.generate()
    msgs = [bytes.fromhex(d) for d in digests(n)]
    start = time.perf_counter()
    for m in msgs:
        key.sign(m)
    return n / (time.perf_counter() - start)


def receipts(signer: Signer, n: int) -> float:
    ds = digests(n)
    start = time.perf_counter()
    for d in ds:
        sign_receipt(d, signer, NOW)
    return n / (time.perf_counter() - start)


def _backends(tmp: Path, n: int) -> list[tuple[str, Signer, int]]:
    secrets = {"passphrase": "benchmark passphrase", "pin": "1234"}
    rows: list[tuple[str, Signer, int]] = [
        ("memory (libsodium)", SeedSigner("bench", os.urandom(32)), n)
    ]
    uri = f"file:{tmp / 'k.pem'}"
    made = Signer.generate_at(uri, "bench-file", secrets.__getitem__)
    loaded = Signer.from_uri(uri, made.public_key, secrets.__getitem__)
    rows.append(("file (encrypted PKCS#8)", loaded, n))
    if shutil.which("softhsm2-util"):
        conf = tmp / "softhsm2.conf"
        (tmp / "tokens").mkdir()
        conf.write_text(f"directories.tokendir = {tmp / 'tokens'}\n")
        os.environ["SOFTHSM2_CONF"] = str(conf)
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                "pith",
                "--pin",
                "1234",
                "--so-pin",
                "5678",
            ],
            check=True,
            capture_output=True,
        )
        hsm = "pkcs11:token=pith;object=bench?module-path=/usr/lib/softhsm/libsofthsm2.so"
        rows.append(
            (
                "pkcs11 (SoftHSM2)",
                Signer.generate_at(hsm, "bench", secrets.__getitem__),
                max(n // 10, 100),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receipts", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="2,000 receipts")
    args = parser.parse_args()
    n = 2_000 if args.quick else args.receipts
    report = _floors.Report("sign", "receipts/s")
    report.header(f"{n:,} receipts per backend, 1 process")
    rates: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, signer, count in _backends(Path(tmp), n):
            rates.append((name, receipts(signer, count)))
    report.step_done()
    report.measured(rates[0][1], rates[0][0])
    signatures = max(n, 20_000)
    report.floor("libsodium sign, 1 process", _floors.sodium_sign(signatures, 1))
    report.floor("libsodium sign, 2 processes", _floors.sodium_sign(signatures, 2))
    report.floor("OpenSSL sign, bare loop, 1 process", floor(signatures))
    payloads = [
        json.dumps({"canonical_sha256": d, "issued_at": "2026-05-17T00:00:00Z"}).encode()
        for d in digests(n)
    ]
    peer = _floors.jws_sign(payloads, 1)
    report.peer("joserfc JWS sign, 1 process", peer)
    one = report.ratios["libsodium sign, 1 process"] / rates[0][1]  # 1 / floor rate
    for name, rate in rates[1:]:
        report.note(
            f"{name:26s} {rate:10,.0f} receipts/s   ratio to libsodium {rate * one:.2f}, "
            f"to the peer {rate / peer:.2f}"
        )
    report.note("(keyring signs through the same libsodium path as memory once the seed is loaded)")
    report.finish()


if __name__ == "__main__":
    main()
