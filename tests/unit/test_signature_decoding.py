"""``decode_signature``: its fast path for canonical text decides exactly as the strict decode.

The reference below is the strict decode alone (``base64.b64decode(validate=True)``,
64 bytes, canonical re-encoding). Each case is an input the fast path could be
fooled by if one of its checks were missing; every one must get the same bytes
or the same message as the reference.
"""

from __future__ import annotations

import base64
import binascii

import pytest

from issuer.errors import FormatError
from issuer.receipts import decode_signature

SIG = bytes(range(64))
CANONICAL = base64.b64encode(SIG).decode("ascii")  # 88 characters, ending "=="


def _reference(text: object, where: str) -> bytes:
    if not isinstance(text, str):
        raise FormatError(f"{where}: signature_b64 must be a string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise FormatError(f"{where}: signature_b64 is not base64") from e
    if len(raw) != 64 or base64.b64encode(raw).decode("ascii") != text:
        raise FormatError(f"{where}: signature_b64 is not a canonical 64-byte signature")
    return raw


def _outcome(decode: object, text: object) -> tuple[str, object]:
    assert callable(decode)
    try:
        return "ok", decode(text, "receipt")
    except FormatError as e:
        return "refused", e.message


CASES = {
    "canonical": CANONICAL,
    # the last character carries 4 bits and 2 unused ones: set them, same bytes decoded
    "unused bits set": CANONICAL[:-3] + chr(ord(CANONICAL[-3]) + 1) + "==",
    "a character outside the alphabet": "!" + CANONICAL[1:],
    "url-safe alphabet": CANONICAL.replace("+", "-").replace("/", "_"),
    "a space inside": CANONICAL[:40] + " " + CANONICAL[41:],
    "a newline inside": CANONICAL[:40] + "\n" + CANONICAL[41:],
    "padding in the middle": CANONICAL[:40] + "=" + CANONICAL[41:],
    "no padding, one character more": CANONICAL[:-2] + "AA",
    "wrong padding": CANONICAL[:-2] + "A=",
    "a non-ASCII character": "é" + CANONICAL[1:],
    "66 bytes, 88 characters": base64.b64encode(bytes(66)).decode("ascii"),
    "65 bytes, 88 characters": base64.b64encode(bytes(65)).decode("ascii"),
    "63 bytes": base64.b64encode(bytes(63)).decode("ascii"),
    "empty": "",
    "not a string": 64,
}


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
def test_the_fast_path_decides_as_the_strict_decode(text: object) -> None:
    assert not isinstance(text, str) or len(text) in (0, 84, 88)
    assert _outcome(decode_signature, text) == _outcome(_reference, text)


def test_the_cases_reach_the_fast_path_and_some_are_refused_there() -> None:
    lengths = {k: len(v) for k, v in CASES.items() if isinstance(v, str)}
    assert sum(n == 88 for n in lengths.values()) >= 10
    assert _outcome(decode_signature, CANONICAL) == ("ok", SIG)
    assert _outcome(decode_signature, CASES["unused bits set"])[0] == "refused"
    assert _outcome(decode_signature, CASES["66 bytes, 88 characters"])[0] == "refused"
    assert _outcome(decode_signature, CASES["a non-ASCII character"])[0] == "refused"
