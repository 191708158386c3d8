"""Ed25519 with the acceptance rules the spec pins (§1), made fast.

Signatures are accepted exactly as OpenSSL accepts them (RFC 8032:
cofactorless, ``S < L``, canonical ``R``). Public keys are checked once, when
a key record is loaded: a non-canonical encoding, a point not on the curve or
a point of small order is refused, because OpenSSL alone would accept some of
them and verifiers must all compute the same state.

Speed: libsodium (PyNaCl) verifies about twice as fast as OpenSSL but is
stricter (it also rejects small-order ``R``). On the C2SP CCTV vectors,
everything libsodium accepts OpenSSL accepts too, so :func:`verify` asks
libsodium first and asks OpenSSL only when libsodium says no: the result is
OpenSSL's, and the common case costs libsodium's price. A test checks the
equivalence on every CCTV and Wycheproof vector.
"""

from __future__ import annotations

from functools import lru_cache

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

KEY_SIZE = 32
SIGNATURE_SIZE = 64

_P = 2**255 - 19
_D = (-121665 * pow(121666, -1, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


class PointError(ValueError):
    """A public key encoding the registry refuses; the message says why."""


def _decode(encoded: bytes) -> tuple[int, int]:
    """Decode a point per RFC 8032 §5.1.3, refusing non-canonical encodings."""
    if len(encoded) != KEY_SIZE:
        raise PointError(f"an Ed25519 public key is {KEY_SIZE} bytes, not {len(encoded)}")
    value = int.from_bytes(encoded, "little")
    sign = value >> 255
    y = value & ((1 << 255) - 1)
    if y >= _P:
        raise PointError("non-canonical encoding (y is not reduced mod p)")
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = (u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P)) % _P
    if (v * x * x - u) % _P:
        if (v * x * x + u) % _P:
            raise PointError("not a point on the curve")
        x = (x * _SQRT_M1) % _P
    if x == 0 and sign:
        raise PointError("non-canonical encoding (x is zero but the sign bit is set)")
    if x & 1 != sign:
        x = _P - x
    return x, y


def _double(x: int, y: int) -> tuple[int, int]:
    xx, yy, xy = x * x % _P, y * y % _P, x * y % _P
    dxy = _D * xx * yy % _P
    return (2 * xy * pow(1 + dxy, -1, _P)) % _P, ((yy + xx) * pow(1 - dxy, -1, _P)) % _P


@lru_cache(maxsize=256)
def check_public_key(encoded: bytes) -> None:
    """Refuse a public key that is non-canonical, off the curve, or of small order.

    Raises:
        PointError: naming the problem.
    """
    x, y = _decode(encoded)
    for _ in range(3):  # 8·P: the identity exactly when P is in the small (torsion) subgroup
        x, y = _double(x, y)
    if x == 0 and y == 1:
        raise PointError("small-order point (it would accept forged signatures)")


@lru_cache(maxsize=64)
def _openssl_key(public_key: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(public_key)


@lru_cache(maxsize=1024)
def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature, with OpenSSL's acceptance rules.

    The key must already have passed :func:`check_public_key` (key records do
    this when loaded). Results are cached: a verifier meets the same receipt
    signature in several steps, and the answer cannot change.
    """
    if len(signature) != SIGNATURE_SIZE or len(public_key) != KEY_SIZE:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except nacl.exceptions.BadSignatureError:
        pass
    else:
        return True
    try:
        _openssl_key(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
