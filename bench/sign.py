"""Benchmark receipts/s through each signer backend against a bare cryptography sign loop.

Usage: python bench/sign.py [--receipts N]   (default 20,000; the HSM runs N/10)

The floor is pyca/cryptography (OpenSSL) signing the same 32-byte digests in
a bare loop, measured in the same run. Each backend builds and signs whole
receipts (issuer.receipts.sign_receipt), so the ratio shows what the receipt
format and the Signer interface cost on top of the signature itself.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import nacl.bindings
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


def libsodium_floor(n: int) -> float:
    _, secret = nacl.bindings.crypto_sign_seed_keypair(os.urandom(32))
    msgs = [bytes.fromhex(d) for d in digests(n)]
    start = time.perf_counter()
    for m in msgs:
        nacl.bindings.crypto_sign(m, secret)
    return n / (time.perf_counter() - start)


def receipts(signer: Signer, n: int) -> float:
    ds = digests(n)
    start = time.perf_counter()
    for d in ds:
        sign_receipt(d, signer, NOW)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receipts", type=int, default=20_000)
    n = parser.parse_args().receipts
    base = floor(n)
    fastest = libsodium_floor(n)
    print(f"floor: cryptography (OpenSSL) Ed25519 sign, bare loop: {base:,.0f} signatures/s")
    print(f"fastest Ed25519 here: libsodium (PyNaCl), bare loop: {fastest:,.0f} signatures/s")
    with tempfile.TemporaryDirectory() as tmp:
        secrets = {"passphrase": "benchmark passphrase", "pin": "1234"}
        rows: list[tuple[str, Signer, int]] = [
            ("memory (libsodium)", SeedSigner("bench", os.urandom(32)), n)
        ]
        uri = f"file:{Path(tmp) / 'k.pem'}"
        made = Signer.generate_at(uri, "bench-file", secrets.__getitem__)
        loaded = Signer.from_uri(uri, made.public_key, secrets.__getitem__)
        rows.append(("file (encrypted PKCS#8)", loaded, n))
        if shutil.which("softhsm2-util"):
            conf = Path(tmp) / "softhsm2.conf"
            (Path(tmp) / "tokens").mkdir()
            conf.write_text(f"directories.tokendir = {Path(tmp) / 'tokens'}\n")
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
        for name, signer, count in rows:
            rate = receipts(signer, count)
            print(
                f"{name:26s} {rate:10,.0f} receipts/s  ratio to cryptography {rate / base:.2f}"
                f", to libsodium {rate / fastest:.2f}"
            )
    print(
        "(keyring signs through the same libsodium path as memory and file once the seed is loaded)"
    )


if __name__ == "__main__":
    main()
