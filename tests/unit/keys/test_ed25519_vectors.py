"""Ed25519 acceptance is pinned (spec §1): Wycheproof, C2SP CCTV and RFC 8032 through our code."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from issuer.keys import PointError, SeedSigner, check_public_key, verify
from tests.conftest import VECTORS

WYCHEPROOF = json.loads((VECTORS / "wycheproof/ed25519_test.json").read_text())
CCTV = json.loads((VECTORS / "cctv-ed25519/ed25519vectors.json").read_text())


def _wycheproof_cases() -> list[Any]:
    return [
        pytest.param(group["publicKey"]["pk"], test, id=f"tc{test['tcId']}")
        for group in WYCHEPROOF["testGroups"]
        for test in group["tests"]
    ]


@pytest.mark.parametrize(("pk", "test"), _wycheproof_cases())
def test_wycheproof(pk: str, test: dict[str, Any]) -> None:
    raw = bytes.fromhex(pk)
    check_public_key(raw)  # every Wycheproof key is a proper key
    ok = verify(raw, bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"]))
    assert test["result"] in {"valid", "invalid"}
    assert ok is (test["result"] == "valid"), test["comment"]


def test_wycheproof_is_all_there() -> None:
    assert WYCHEPROOF["numberOfTests"] == len(_wycheproof_cases()) == 151


def _openssl(pk: bytes, msg: bytes, sig: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(pk).verify(sig, msg)
    except (InvalidSignature, ValueError):
        return False
    return True


@pytest.mark.parametrize("vector", CCTV, ids=[f"cctv{v['number']}" for v in CCTV])
def test_cctv(vector: dict[str, Any]) -> None:
    """Keys: refused exactly when small-order or non-canonical. Signatures: exactly as OpenSSL."""
    pk, sig, msg = (
        bytes.fromhex(vector["key"]),
        bytes.fromhex(vector["sig"]),
        vector["msg"].encode(),
    )
    flags = set(vector["flags"] or [])
    must_refuse_key = bool(flags & {"low_order_A", "non_canonical_A"})
    if must_refuse_key:
        with pytest.raises(PointError):
            check_public_key(pk)
    else:
        check_public_key(pk)
    assert verify(pk, msg, sig) is _openssl(pk, msg, sig)


def test_cctv_covers_the_libsodium_openssl_difference() -> None:
    """Small-order R with a good key: libsodium says no, OpenSSL (and so the spec) says yes."""
    cases = [v for v in CCTV if set(v["flags"] or []) == {"low_order_R"}]
    assert cases
    for v in cases:
        pk, sig, msg = bytes.fromhex(v["key"]), bytes.fromhex(v["sig"]), v["msg"].encode()
        check_public_key(pk)
        assert verify(pk, msg, sig)


RFC8032 = (VECTORS / "rfc8032-openssl/evppkey_ecx.txt").read_text()


def _rfc8032_sign_cases() -> list[Any]:
    section = RFC8032.split("Title = ED25519 tests from RFC8032", 1)[1].split("Title =", 1)[0]
    keys = {
        name: base64.b64decode("".join(body.split()))[-32:]
        for name, body in re.findall(
            r"PrivateKey=(ED25519-\d)\n-----BEGIN PRIVATE KEY-----\n(.*?)-----END", section, re.S
        )
    }
    cases = re.findall(
        r"OneShotDigestSign = NULL\nKey = (ED25519-\d)\nInput = (\S*)\nOutput = ([0-9a-f]+)",
        section,
    )
    return [
        pytest.param(keys[k], b"" if i == '""' else bytes.fromhex(i), bytes.fromhex(o), id=k)
        for k, i, o in cases
    ]


@pytest.mark.parametrize(("seed", "msg", "expected"), _rfc8032_sign_cases())
def test_rfc8032_signatures_are_reproduced(seed: bytes, msg: bytes, expected: bytes) -> None:
    signer = SeedSigner("rfc8032", seed)
    assert signer.sign(msg) == expected
    assert verify(signer.public_key.raw, msg, expected)
    assert not verify(signer.public_key.raw, msg + b"x", expected)


def test_rfc8032_has_five_cases() -> None:
    assert len(_rfc8032_sign_cases()) == 5
