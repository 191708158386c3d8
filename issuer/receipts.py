"""Receipts (spec §6): the registry's signature over a canonical record's digest.

A receipt signs the 32 raw bytes of ``canonical_sha256`` (``signed_message``
``canonical_sha256_bytes``), as the live registry does; the format is fixed
by the published bundle, so it carries no domain-separation tag.
``first_computed_at`` is set once, when the record is first built;
``last_reissued_at`` moves each time the receipt is re-signed (key rotation,
compromise recovery), and nothing else changes meaning.
"""

from __future__ import annotations

import base64
import binascii
import operator
import re
from datetime import datetime
from typing import Any

from issuer import __version__
from issuer._signatures import SIGNATURE_STATUS
from issuer._time import format_micros, parse_micros
from issuer.errors import FormatError, VerificationError
from issuer.keys import Signer, verify
from issuer.keys.keyset import KeySet
from issuer.reasons import Reason

KIND = "pith_receipt"
RECEIPT_VERSION = "0.3"
SIGNED_MESSAGE = "canonical_sha256_bytes"
BUILDER_VERSION = f"issuer-{__version__}"

FIELDS = (
    "kind",
    "receipt_version",
    "algorithm",
    "key_id",
    "public_key_fingerprint",
    "canonical_sha256",
    "signed_message",
    "signature_b64",
    "signature_status",
    "signed_at",
    "first_computed_at",
    "last_reissued_at",
    "builder_version",
)

_HEX64 = re.compile(r"[0-9a-f]{64}")


def sign_receipt(
    canonical_sha256: str,
    signer: Signer,
    now: datetime,
    first_computed_at: datetime | None = None,
    builder_version: str = BUILDER_VERSION,
) -> dict[str, Any]:
    """Sign a new receipt for ``canonical_sha256``.

    Args:
        canonical_sha256: the record's digest (lowercase hex).
        signer: a checked signer.
        now: the signing time; also ``last_reissued_at``.
        first_computed_at: when the record was first computed; ``now`` for a new record.
        builder_version: the software that built the record.
    """
    if not _HEX64.fullmatch(canonical_sha256):
        raise ValueError("canonical_sha256 must be 64 lowercase hex characters")
    key = signer.public_key
    signature = signer.sign(bytes.fromhex(canonical_sha256))
    stamp = format_micros(now)
    return {
        "kind": KIND,
        "receipt_version": RECEIPT_VERSION,
        "algorithm": "ed25519",
        "key_id": key.key_id,
        "public_key_fingerprint": key.fingerprint,
        "canonical_sha256": canonical_sha256,
        "signed_message": SIGNED_MESSAGE,
        "signature_b64": base64.b64encode(signature).decode("ascii"),
        "signature_status": SIGNATURE_STATUS,
        "signed_at": stamp,
        "first_computed_at": stamp
        if first_computed_at is None
        else format_micros(first_computed_at),
        "last_reissued_at": stamp,
        "builder_version": builder_version,
    }


def reissue_receipt(receipt: dict[str, Any], signer: Signer, now: datetime) -> dict[str, Any]:
    """Re-sign ``receipt``: ``first_computed_at`` stays, ``last_reissued_at`` moves.

    Raises:
        FormatError: if ``receipt`` is malformed.
    """
    check_receipt_shape(receipt)
    return sign_receipt(
        receipt["canonical_sha256"],
        signer,
        now,
        first_computed_at=parse_micros(receipt["first_computed_at"]),
        builder_version=receipt["builder_version"],
    )


_SIGNATURE_B64_LENGTH = 88  # canonical base64 of 64 bytes
_FIELD_SET = frozenset(FIELDS)
_FIXED = (
    ("kind", KIND),
    ("receipt_version", RECEIPT_VERSION),
    ("algorithm", "ed25519"),
    ("signed_message", SIGNED_MESSAGE),
    ("signature_status", SIGNATURE_STATUS),
)
_FIXED_VALUES = tuple(value for _, value in _FIXED)
_fixed_values = operator.itemgetter(*(name for name, _ in _FIXED))


def check_receipt_shape(receipt: Any) -> None:
    """Check every field is present with the fixed values and well-formed types.

    Raises:
        FormatError: naming the first problem.
    """
    if not isinstance(receipt, dict):
        raise FormatError("receipt: expected an object")
    if receipt.keys() != _FIELD_SET:
        missing = [f for f in FIELDS if f not in receipt]
        extra = sorted(set(receipt) - set(FIELDS))
        raise FormatError(f"receipt: missing {missing}, unexpected {extra}")
    for name, value in () if _fixed_values(receipt) == _FIXED_VALUES else _FIXED:
        if receipt[name] != value:
            raise FormatError(f"receipt: {name} is {receipt[name]!r:.80}, expected {value!r}")
    if not isinstance(receipt["canonical_sha256"], str) or not _HEX64.fullmatch(
        receipt["canonical_sha256"]
    ):
        raise FormatError("receipt: canonical_sha256 is not a lowercase SHA-256 hex")
    for name in ("signed_at", "first_computed_at", "last_reissued_at"):
        parse_micros(receipt[name])
    for name in ("key_id", "public_key_fingerprint", "builder_version", "signature_b64"):
        if not isinstance(receipt[name], str):
            raise FormatError(f"receipt: {name} must be a string")


def decode_signature(text: object, where: str) -> bytes:
    """Strict base64 of a 64-byte signature.

    Raises:
        FormatError: if ``text`` is not canonical base64 of 64 bytes.
    """
    if not isinstance(text, str):
        raise FormatError(f"{where}: signature_b64 must be a string")
    if len(text) == _SIGNATURE_B64_LENGTH and text.isascii():
        # The common case, without base64's pure-Python validation: text that is
        # exactly the canonical encoding of what it decodes to is accepted below too.
        try:
            raw = binascii.a2b_base64(text)
        except binascii.Error:
            pass  # the strict decode below says why
        else:
            if binascii.b2a_base64(raw, newline=False) == text.encode() and len(raw) == 64:  # noqa: PLR2004
                return raw
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise FormatError(f"{where}: signature_b64 is not base64") from e
    if len(raw) != 64 or base64.b64encode(raw).decode("ascii") != text:  # noqa: PLR2004
        raise FormatError(f"{where}: signature_b64 is not a canonical 64-byte signature")
    return raw


def verify_receipt(
    receipt: Any, canonical_sha256: str, keys: KeySet, *, countersigned: bool = False
) -> None:
    """Verify a receipt against the record digest it must cover and the trusted keys.

    ``countersigned``: the receipt sits inside an event whose signature, by a
    valid unrevoked key, has been checked. That key vouches for the receipt,
    so the receipt's own key being revoked since does not void it (spec §10:
    not trusted on its *own* say-so); the signature itself must still verify.

    Raises:
        VerificationError: malformed receipt (reason ``malformed_receipt``), wrong
            digest, unknown or invalid key, or a bad signature.
    """
    try:
        check_receipt_shape(receipt)
        signature = decode_signature(receipt["signature_b64"], "receipt")
    except FormatError as e:
        raise VerificationError(e.message, reason=Reason.MALFORMED_RECEIPT, step="receipt") from e
    if receipt["canonical_sha256"] != canonical_sha256:
        raise VerificationError(
            "receipt covers a different canonical_sha256 than the record",
            reason=Reason.RECEIPT_DIGEST_MISMATCH,
            step="receipt",
        )
    key = keys.require(
        receipt["key_id"],
        receipt["public_key_fingerprint"],
        parse_micros(receipt["signed_at"]),
        countersigned=countersigned,
    )
    if not verify(key.raw, bytes.fromhex(canonical_sha256), signature):
        raise VerificationError(
            f"receipt signature does not verify under key {key.key_id}",
            reason=Reason.BAD_RECEIPT_SIGNATURE,
            step="receipt",
        )
