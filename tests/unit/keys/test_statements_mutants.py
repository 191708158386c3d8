"""Key statements (spec §10) behaviour that mutation testing found unpinned (docs/mutation.md).

What a caller reads when signing is refused, and the exact bounds of a revocation reason.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from issuer import cjson
from issuer.errors import FormatError
from issuer.keys._statements import (
    MAX_REASON,
    ROTATION_TYPE,
    Revocation,
    Rotation,
    _b64,
    parse_statement,
    sign_revocation,
    sign_rotation,
    signed_by,
)
from tests import factory

T0 = factory.T0
DAY = timedelta(days=1)
K1, K2 = factory.signer(1), factory.signer(2)


def test_signing_refusals_say_exactly_why() -> None:
    with pytest.raises(ValueError) as itself:
        sign_rotation(K1, K1, rotates_at=T0, issued_at=T0)
    assert str(itself.value) == "a key cannot rotate to itself"
    with pytest.raises(ValueError) as own:
        sign_revocation(K1.public_key, K1, compromised_since=T0, reason="x", issued_at=T0)
    assert str(own.value) == "a revocation is signed by a key other than the revoked one"
    with pytest.raises(ValueError) as empty:
        sign_revocation(K1.public_key, K2, compromised_since=T0, reason="", issued_at=T0)
    assert str(empty.value) == f"a revocation needs a reason of 1 to {MAX_REASON} characters"


def test_a_reason_of_exactly_the_maximum_length_is_signed_and_parses() -> None:
    reason = "r" * MAX_REASON
    envelope = sign_revocation(K1.public_key, K2, compromised_since=T0, reason=reason, issued_at=T0)
    parsed = parse_statement(envelope)
    assert isinstance(parsed, Revocation)
    assert parsed.reason == reason
    with pytest.raises(ValueError, match="reason"):
        sign_revocation(K1.public_key, K2, compromised_since=T0, reason=reason + "r", issued_at=T0)


def _rotation() -> dict[str, Any]:
    return sign_rotation(K1, K2, rotates_at=T0 + DAY, issued_at=T0)


def _revocation(reason: str = "leaked") -> dict[str, Any]:
    return sign_revocation(
        K1.public_key, K2, compromised_since=T0, reason=reason, issued_at=T0 + DAY
    )


def _payload(envelope: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return payload


def _rewritten(envelope: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> Any:
    payload = _payload(envelope)
    change(payload)
    return {**envelope, "payload": base64.b64encode(cjson.dumps(payload)).decode()}


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        factory.set_path(payload, path, value)

    return change


_DELETE = factory.DELETE
WHERE = "keys/k.json: rotation_statements[0]"
KEY_FIELDS = "key_id, algorithm, public_key_hex, fingerprint_sha256_hex"
K2_HEX = K2.public_key.raw.hex()
SHORT_HEX = K2_HEX[:62]

MALFORMED: dict[str, tuple[Any, str]] = {
    "a signature that is not an object": (
        {**_rotation(), "signatures": [["sig"]]},
        f"{WHERE}: signatures[0] must hold sig (and optionally keyid)",
    ),
    "a signature without sig": (
        {**_rotation(), "signatures": [{"keyid": K1.key_id}]},
        f"{WHERE}: signatures[0] must hold sig (and optionally keyid)",
    ),
    "a signature that is not base64": (
        {**_rotation(), "signatures": [{"sig": "!!"}]},
        f"{WHERE}: signatures[0].sig is not base64",
    ),
    "a signature that is not a string": (
        {**_rotation(), "signatures": [{"sig": 5}]},
        f"{WHERE}: signatures[0].sig must be a base64 string",
    ),
    "a payload that is not base64": (
        {**_rotation(), "payload": "!!"},
        f"{WHERE}: payload is not base64",
    ),
    "a key named by too few fields": (
        _rewritten(_rotation(), _set("from_key.algorithm", _DELETE)),
        f"{WHERE}: from_key: a key is named by {KEY_FIELDS}",
    ),
    "a key that is not an object": (
        _rewritten(_rotation(), _set("to_key", "k2")),
        f"{WHERE}: to_key: a key is named by {KEY_FIELDS}",
    ),
    "another algorithm": (
        _rewritten(_rotation(), _set("to_key.algorithm", "rsa")),
        f"{WHERE}: to_key: algorithm 'rsa' is not ed25519",
    ),
    "upper-case hex": (
        _rewritten(_rotation(), _set("to_key.public_key_hex", K2_HEX.upper())),
        f"{WHERE}: to_key: public_key_hex is not 32 bytes of lowercase hex",
    ),
    "31 bytes of hex": (
        _rewritten(_rotation(), _set("to_key.public_key_hex", SHORT_HEX)),
        f"{WHERE}: to_key: public_key_hex is not 32 bytes of lowercase hex",
    ),
    "hex that is not a string": (
        _rewritten(_rotation(), _set("to_key.public_key_hex", 5)),
        f"{WHERE}: to_key: public_key_hex is not 32 bytes of lowercase hex",
    ),
    "64 characters that are not hex": (
        _rewritten(_rotation(), _set("to_key.public_key_hex", "zz" * 32)),
        f"{WHERE}: to_key: public_key_hex is not hex",
    ),
    "a rotation to itself": (
        _rewritten(_rotation(), lambda p: p.update(to_key=p["from_key"])),
        f"{WHERE}: a key cannot rotate to itself",
    ),
    "a rotation time that is not a time": (
        _rewritten(_rotation(), _set("rotates_at", "soon")),
        f"{WHERE}: rotates_at: ",
    ),
    "an issue time that is not a time": (
        _rewritten(_rotation(), _set("issued_at", "2026-13-01T00:00:00Z")),
        f"{WHERE}: issued_at: ",
    ),
    "a rotation without issued_at": (
        _rewritten(_rotation(), _set("issued_at", _DELETE)),
        f"{WHERE}: rotation fields are from_key, issued_at, rotates_at, to_key",
    ),
    "a revocation without a reason": (
        _rewritten(_revocation(), _set("reason", _DELETE)),
        f"{WHERE}: revocation fields are compromised_since, issued_at, key, reason",
    ),
    "a blank reason": (
        _rewritten(_revocation(), _set("reason", "  ")),
        f"{WHERE}: reason must be text of 1 to {MAX_REASON} characters",
    ),
    "a reason that is not text": (
        _rewritten(_revocation(), _set("reason", 5)),
        f"{WHERE}: reason must be text of 1 to {MAX_REASON} characters",
    ),
    "a reason that is too long": (
        _rewritten(_revocation(), _set("reason", "r" * (MAX_REASON + 1))),
        f"{WHERE}: reason must be text of 1 to {MAX_REASON} characters",
    ),
    "a revoked key named badly": (
        _rewritten(_revocation(), _set("key.algorithm", "rsa")),
        f"{WHERE}: key: algorithm 'rsa' is not ed25519",
    ),
    "a compromise time that is not a time": (
        _rewritten(_revocation(), _set("compromised_since", 0)),
        f"{WHERE}: compromised_since: ",
    ),
    "a revocation issue time that is not a time": (
        _rewritten(_revocation(), _set("issued_at", "")),
        f"{WHERE}: issued_at: ",
    ),
}


@pytest.mark.parametrize(("envelope", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_statement_is_refused_naming_where_and_what(
    envelope: Any, message: str
) -> None:
    with pytest.raises(FormatError) as e:
        parse_statement(envelope, WHERE)
    assert e.value.message.startswith(message)
    if not message.endswith(": "):
        assert e.value.message == message


def test_without_a_location_a_statement_is_called_a_statement() -> None:
    with pytest.raises(FormatError) as parsing:
        parse_statement({"payloadType": ROTATION_TYPE})
    assert parsing.value.message == (
        "statement: a statement is a DSSE envelope (payloadType, payload, signatures)"
    )
    with pytest.raises(FormatError) as checking:
        signed_by({**_rotation(), "signatures": []}, K1.public_key)
    assert checking.value.message == "statement: signatures must be a non-empty list"


def test_a_parsed_statement_keeps_its_times_and_canonical_body() -> None:
    rotation = parse_statement(_rotation())
    assert isinstance(rotation, Rotation)
    assert (rotation.rotates_at, rotation.issued_at) == (
        T0.replace(microsecond=0) + DAY,
        T0.replace(microsecond=0),
    )
    assert rotation.body == base64.b64decode(_rotation()["payload"])
    revocation = parse_statement(_revocation())
    assert isinstance(revocation, Revocation)
    assert (revocation.compromised_since, revocation.issued_at) == (
        T0.replace(microsecond=0),
        T0.replace(microsecond=0) + DAY,
    )
    assert revocation.body == base64.b64decode(_revocation()["payload"])
    assert revocation.key.raw == K1.public_key.raw


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("+/8=", b"\xfb\xff"),
        ("+/8", b"\xfb\xff"),  # padding is optional
        ("-_8", b"\xfb\xff"),  # URL-safe
        ("-w", b"\xfb"),  # URL-safe, only a '-'
        ("_w", b"\xff"),  # URL-safe, only a '_'
    ],
)
def test_both_base64_alphabets_are_read_as_dsse_requires(text: str, raw: bytes) -> None:
    assert _b64(text, "x") == raw
