"""Ed25519 public-key checks (spec §1) that mutation testing found unpinned.

See docs/mutation.md. A verifier must refuse exactly the keys the spec refuses:
every small-order point, every non-canonical encoding, every point off the
curve, each with a message saying which; and it must decode a valid key to the
right point, sign bit included.
"""

from __future__ import annotations

import pytest

from issuer.keys._ed25519 import _D, _P, PointError, _decode, _double, check_public_key

# The base point B of RFC 8032 §5.1 and its encoding (y, sign bit clear).
B_X = 15112221349535400772501151409588531511454012693041857206046113283949847762202
B_Y = 46316835694926478169428394003475163141307993866256225615783033603165251855960
B = bytes.fromhex("58" + "66" * 31)

# The eight points of small order (1, 2, 4, 4, 8, 8, 8, 8), as libsodium lists them.
SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
]
SIGN = 1 << 255


def _encoded(y: int, *, sign: bool = False) -> bytes:
    return (y | (SIGN if sign else 0)).to_bytes(32, "little")


def _refusal(encoded: bytes) -> str:
    with pytest.raises(PointError) as e:
        check_public_key(encoded)
    return str(e.value)


@pytest.mark.parametrize("point", SMALL_ORDER)
def test_every_small_order_point_is_refused(point: str) -> None:
    assert _refusal(bytes.fromhex(point)) == (
        "small-order point (it would accept forged signatures)"
    )


def test_the_base_point_decodes_to_itself_and_its_negation_by_the_sign_bit() -> None:
    assert _encoded(B_Y) == B
    assert _decode(B) == (B_X, B_Y)
    assert _decode(_encoded(B_Y, sign=True)) == (_P - B_X, B_Y)
    check_public_key(B)
    check_public_key(_encoded(B_Y, sign=True))


@pytest.mark.parametrize(
    ("encoded", "message"),
    [
        (B[:31], "an Ed25519 public key is 32 bytes, not 31"),
        (B + b"\x00", "an Ed25519 public key is 32 bytes, not 33"),
        (_encoded(_P), "non-canonical encoding (y is not reduced mod p)"),
        (_encoded(_P + 1), "non-canonical encoding (y is not reduced mod p)"),
        (_encoded(2), "not a point on the curve"),
        (_encoded(1, sign=True), "non-canonical encoding (x is zero but the sign bit is set)"),
        (_encoded(_P - 1, sign=True), "non-canonical encoding (x is zero but the sign bit is set)"),
    ],
    ids=["31 bytes", "33 bytes", "y = p", "y = p + 1", "off the curve", "-0 at y=1", "-0 at y=-1"],
)
def test_a_bad_encoding_is_refused_saying_why(encoded: bytes, message: str) -> None:
    assert _refusal(encoded) == message


def _on_curve(x: int, y: int) -> bool:
    """-x² + y² = 1 + d·x²·y² (mod p), the twisted Edwards curve of RFC 8032 §5.1."""
    return (-x * x + y * y - 1 - _D * x * x * y * y) % _P == 0


def test_doubling_a_point_of_large_order_stays_on_the_curve() -> None:
    """The small-order check doubles three times; a wrong y would leave the curve."""
    assert _on_curve(B_X, B_Y)
    x, y = B_X, B_Y
    for _ in range(3):
        x, y = _double(x, y)
        assert _on_curve(x, y)
        assert (x, y) != (0, 1)
