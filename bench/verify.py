"""Benchmark bundle verification against the bare Ed25519 verify floor.

Usage: python bench/verify.py [--bundles N]   (default 2,000)

Builds N bundles (record_created with receipt + graph_snapshot, signed by a
test key), writes them to a directory, then measures in the same run:
- the library: issuer.verify.verify_bundle_bytes over each file's bytes;
- the CLI: `pith verify --keys KEYS DIR` as a subprocess (start-up included);
- the floor: bare libsodium verification of the same number of signatures
  (4 per bundle: receipt, two events, bundle), and OpenSSL's for reference.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nacl.bindings
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from issuer import cjson
from issuer.keys.keyset import KeySet
from issuer.verify import verify_bundle_bytes
from tests import factory

SIGNATURES_PER_BUNDLE = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundles", type=int, default=2_000)
    n = parser.parse_args().bundles
    key = factory.signer(1)
    keys = KeySet([key.public_key])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bundles"
        folder.mkdir()
        datas = []
        for i in range(n):
            data = cjson.dumps(factory.bundle(factory.record(i + 1), key))
            (folder / f"{i}.json").write_bytes(data)
            datas.append(data)
        (Path(tmp) / "keys.json").write_text(json.dumps(keys.to_document()))

        msgs = [bytes([i % 256]) * 32 for i in range(n * SIGNATURES_PER_BUNDLE)]
        sigs = [key.sign(m) for m in msgs]
        raw = key.public_key.raw
        start = time.perf_counter()
        for m, s in zip(msgs, sigs, strict=True):
            nacl.bindings.crypto_sign_open(s + m, raw)
        sodium = len(msgs) / (time.perf_counter() - start)
        openssl_key = Ed25519PublicKey.from_public_bytes(raw)
        start = time.perf_counter()
        for m, s in zip(msgs, sigs, strict=True):
            openssl_key.verify(s, m)
        openssl = len(msgs) / (time.perf_counter() - start)

        start = time.perf_counter()
        for data in datas:
            verify_bundle_bytes(data, keys)
        library = n / (time.perf_counter() - start)

        pith = Path(sys.executable).with_name("pith")
        start = time.perf_counter()
        subprocess.run(
            [str(pith), "verify", "--keys", str(Path(tmp) / "keys.json"), str(folder)],
            check=True,
            capture_output=True,
        )
        cli = n / (time.perf_counter() - start)

    floor = sodium / SIGNATURES_PER_BUNDLE
    print(f"{n:,} bundles, {SIGNATURES_PER_BUNDLE} signatures each")
    print(f"floor: bare libsodium verify  {sodium:10,.0f} signatures/s = {floor:8,.0f} bundles/s")
    print(f"       bare OpenSSL verify    {openssl:10,.0f} signatures/s")
    print(f"library verify_bundle_bytes   {library:10,.0f} bundles/s   ratio {library / floor:.2f}")
    print(f"CLI pith verify DIR           {cli:10,.0f} bundles/s   ratio {cli / floor:.2f}")


if __name__ == "__main__":
    main()
