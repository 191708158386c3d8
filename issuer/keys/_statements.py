"""Signed key statements: rotation (old key → new key) and revocation, as DSSE envelopes.

These are the first objects the toolkit signs that the live registry's
format does not fix, so they bind their type into the signed bytes: each is
a DSSE envelope (``payloadType``, base64 ``payload``, ``signatures``) and
every signature is over DSSE's pre-authentication encoding

    ``DSSEv1 SP LEN(type) SP type SP LEN(body) SP body``

(lengths in ASCII decimal). A rotation signature can therefore never be
replayed as a receipt, an event or a bundle signature, all of which sign a
bare 32-byte digest, nor as a revocation.

The verifier checks signatures over the exact payload bytes, then parses
them (verify, then parse); the payload must also be canonical JSON, so one
statement has one encoding. ``keyid`` in a signature is a hint only: which
keys must have signed is decided from the payload.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from issuer import cjson
from issuer._time import format_seconds, parse_seconds
from issuer.errors import FormatError
from issuer.keys._ed25519 import verify
from issuer.keys._public import (
    ALGORITHM,
    PublicKey,
    fingerprint_hex,
    validate_key_id,
)
from issuer.keys._signer import Signer

ROTATION_TYPE = "application/vnd.pith.key-rotation.v1+json"
REVOCATION_TYPE = "application/vnd.pith.key-revocation.v1+json"
_ENVELOPE_FIELDS = {"payloadType", "payload", "signatures"}
_KEY_REF_FIELDS = ("key_id", "algorithm", "public_key_hex", "fingerprint_sha256_hex")
_ROTATION_FIELDS = {"from_key", "to_key", "rotates_at", "issued_at"}
_REVOCATION_FIELDS = {"key", "compromised_since", "reason", "issued_at"}
MAX_REASON = 1000


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what every statement signature covers."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def key_ref(key: PublicKey) -> dict[str, str]:
    """How a statement names a key: its id, and the key itself (not just a hash of it)."""
    return {
        "key_id": key.key_id,
        "algorithm": ALGORITHM,
        "public_key_hex": key.raw.hex(),
        "fingerprint_sha256_hex": key.fingerprint,
    }


def _parse_key_ref(data: Any, where: str) -> PublicKey:
    if not isinstance(data, dict) or set(data) != set(_KEY_REF_FIELDS):
        raise FormatError(f"{where}: a key is named by {', '.join(_KEY_REF_FIELDS)}")
    if data["algorithm"] != ALGORITHM:
        raise FormatError(f"{where}: algorithm {data['algorithm']!r} is not {ALGORITHM}")
    hx = data["public_key_hex"]
    if not isinstance(hx, str) or len(hx) != 64 or hx != hx.lower():  # noqa: PLR2004
        raise FormatError(f"{where}: public_key_hex is not 32 bytes of lowercase hex")
    try:
        raw = bytes.fromhex(hx)
    except ValueError as e:
        raise FormatError(f"{where}: public_key_hex is not hex") from e
    if data["fingerprint_sha256_hex"] != fingerprint_hex(raw):
        raise FormatError(f"{where}: fingerprint_sha256_hex does not match the key")
    return PublicKey(validate_key_id(data["key_id"]), raw)


@dataclass(frozen=True)
class Rotation:
    """``from_key`` stops signing at ``rotates_at``; ``to_key`` carries on. Signed by both."""

    from_key: PublicKey
    to_key: PublicKey
    rotates_at: datetime
    issued_at: datetime
    envelope: dict[str, Any] = field(compare=False)
    body: bytes = b""  # the canonical payload: one statement, however it was base64-encoded

    def __str__(self) -> str:
        return f"rotation {self.from_key.key_id} → {self.to_key.key_id}"


@dataclass(frozen=True)
class Revocation:
    """``key`` is compromised; nothing it signed counts on its own say-so."""

    key: PublicKey
    compromised_since: datetime
    reason: str
    issued_at: datetime
    envelope: dict[str, Any] = field(compare=False)
    body: bytes = b""

    def __str__(self) -> str:
        return f"revocation of {self.key.key_id}"


Statement = Rotation | Revocation


def _envelope(payload_type: str, payload: dict[str, Any], signers: list[Signer]) -> dict[str, Any]:
    body = cjson.dumps(payload)
    message = pae(payload_type, body)
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(body).decode("ascii"),
        "signatures": [
            {"keyid": s.key_id, "sig": base64.b64encode(s.sign(message)).decode("ascii")}
            for s in signers
        ],
    }


def sign_rotation(
    old: Signer, new: Signer, *, rotates_at: datetime, issued_at: datetime
) -> dict[str, Any]:
    """A rotation statement from ``old``'s key to ``new``'s, signed by both."""
    if old.public_key.raw == new.public_key.raw:
        raise ValueError("a key cannot rotate to itself")
    payload = {
        "from_key": key_ref(old.public_key),
        "to_key": key_ref(new.public_key),
        "rotates_at": format_seconds(rotates_at),
        "issued_at": format_seconds(issued_at),
    }
    return _envelope(ROTATION_TYPE, payload, [old, new])


def sign_revocation(
    revoked: PublicKey,
    signer: Signer,
    *,
    compromised_since: datetime,
    reason: str,
    issued_at: datetime,
) -> dict[str, Any]:
    """A revocation of ``revoked``, signed by another (still trusted) key."""
    if signer.public_key.raw == revoked.raw:
        raise ValueError("a revocation is signed by a key other than the revoked one")
    if not reason.strip() or len(reason) > MAX_REASON:
        raise ValueError(f"a revocation needs a reason of 1 to {MAX_REASON} characters")
    payload = {
        "key": key_ref(revoked),
        "compromised_since": format_seconds(compromised_since),
        "reason": reason,
        "issued_at": format_seconds(issued_at),
    }
    return _envelope(REVOCATION_TYPE, payload, [signer])


def _b64(text: Any, where: str) -> bytes:
    """Standard or URL-safe base64, as DSSE requires verifiers to accept."""
    if not isinstance(text, str):
        raise FormatError(f"{where} must be a base64 string")
    url_safe, standard = ("-" in text or "_" in text), ("+" in text or "/" in text)
    if url_safe and standard:
        raise FormatError(f"{where} mixes the standard and URL-safe base64 alphabets")
    alphabet = "-_" if url_safe else "+/"
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=alphabet, validate=True)
    except (binascii.Error, ValueError) as e:
        raise FormatError(f"{where} is not base64") from e


@dataclass(frozen=True)
class _Opened:
    payload_type: str
    body: bytes
    signatures: tuple[bytes, ...]


def _open(envelope: Any, where: str) -> _Opened:
    if not isinstance(envelope, dict) or set(envelope) != _ENVELOPE_FIELDS:
        raise FormatError(
            f"{where}: a statement is a DSSE envelope (payloadType, payload, signatures)"
        )
    payload_type = envelope["payloadType"]
    if payload_type not in (ROTATION_TYPE, REVOCATION_TYPE):
        raise FormatError(f"{where}: unsupported payloadType {payload_type!r}")
    sigs = envelope["signatures"]
    if not isinstance(sigs, list) or not sigs:
        raise FormatError(f"{where}: signatures must be a non-empty list")
    raw_sigs = []
    for i, sig in enumerate(sigs):
        if not isinstance(sig, dict) or "sig" not in sig or not set(sig) <= {"sig", "keyid"}:
            raise FormatError(f"{where}: signatures[{i}] must hold sig (and optionally keyid)")
        raw_sigs.append(_b64(sig["sig"], f"{where}: signatures[{i}].sig"))
    return _Opened(payload_type, _b64(envelope["payload"], f"{where}: payload"), tuple(raw_sigs))


def signed_by(envelope: dict[str, Any], key: PublicKey) -> bool:
    """Whether one of the envelope's signatures verifies under ``key`` (PAE over the payload)."""
    opened = _open(envelope, "statement")
    message = pae(opened.payload_type, opened.body)
    return any(verify(key.raw, message, sig) for sig in opened.signatures)


def parse_statement(envelope: Any, where: str = "statement") -> Statement:
    """Parse a statement strictly; its signatures are checked by the trust builder, not here.

    Raises:
        FormatError: naming ``where`` and the problem.
    """
    opened = _open(envelope, where)
    try:
        payload = cjson.loads(opened.body)
    except FormatError as e:
        raise FormatError(f"{where}: payload: {e.message}") from e
    if not isinstance(payload, dict) or cjson.dumps(payload) != opened.body:
        raise FormatError(f"{where}: the payload is not a canonical JSON object")
    if opened.payload_type == ROTATION_TYPE:
        if set(payload) != _ROTATION_FIELDS:
            raise FormatError(f"{where}: rotation fields are {', '.join(sorted(_ROTATION_FIELDS))}")
        old = _parse_key_ref(payload["from_key"], f"{where}: from_key")
        new = _parse_key_ref(payload["to_key"], f"{where}: to_key")
        if old.raw == new.raw:
            raise FormatError(f"{where}: a key cannot rotate to itself")
        return Rotation(
            old,
            new,
            _time(payload, "rotates_at", where),
            _time(payload, "issued_at", where),
            envelope,
            opened.body,
        )
    if set(payload) != _REVOCATION_FIELDS:
        raise FormatError(f"{where}: revocation fields are {', '.join(sorted(_REVOCATION_FIELDS))}")
    reason = payload["reason"]
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise FormatError(f"{where}: reason must be text of 1 to {MAX_REASON} characters")
    return Revocation(
        _parse_key_ref(payload["key"], f"{where}: key"),
        _time(payload, "compromised_since", where),
        reason,
        _time(payload, "issued_at", where),
        envelope,
        opened.body,
    )


def _time(payload: dict[str, Any], name: str, where: str) -> datetime:
    try:
        return parse_seconds(payload[name])
    except FormatError as e:
        raise FormatError(f"{where}: {name}: {e.message}") from e


def is_statement(data: Any) -> bool:
    """Whether ``data`` looks like a statement envelope (has a ``payloadType``)."""
    return isinstance(data, dict) and "payloadType" in data
