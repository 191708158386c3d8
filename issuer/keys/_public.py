"""Public key records and signer objects, exactly as the registry publishes them (spec §5).

A key record is loaded strictly: both encodings of the key must agree, both
fingerprints must be the ones the key implies, and the key itself must pass
the canonical, not-small-order check of :mod:`issuer.keys._ed25519`. A
record that fails any of these is refused, never repaired.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from issuer._time import format_seconds, parse_wire_time
from issuer.errors import FormatError
from issuer.keys._ed25519 import KEY_SIZE, PointError, check_public_key

ALGORITHM = "ed25519"
FORMAT = "raw"
SIGNER_ID = "pith.science"
SIGNER_TYPE = "pith_registry"
DEFAULT_BASE_URL = "https://pith.science"
DEFAULT_NOTES = (
    "Pith uses this Ed25519 key to sign canonical record SHA-256 digests. Verify with: "
    "ed25519_verify(public_key, message=canonical_sha256_bytes, "
    "signature=base64decode(signature_b64))."
)

# Key ids name files (keys/KEY_ID.json) and keyring entries (SERVICE/KEY_ID),
# so they are restricted to characters that are safe in both.
KEY_ID_RE = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")

_FIELDS = (
    "key_id",
    "algorithm",
    "format",
    "public_key_b64",
    "public_key_hex",
    "fingerprint_sha256_b32_first128bits",
    "fingerprint_sha256_hex",
    "rotates_at",
    "url",
    "notes",
)


def validate_key_id(key_id: object) -> str:
    """Return ``key_id`` if it is a valid key id.

    Raises:
        FormatError: naming the rule it breaks.
    """
    if not isinstance(key_id, str) or not KEY_ID_RE.fullmatch(key_id) or ".." in key_id:
        raise FormatError(
            f"invalid key id {key_id!r}",
            hint="use lower-case letters, digits, '.', '_' and '-', at most 64 characters, "
            "e.g. pith-v2-2026-11",
        )
    return key_id


# Every signature a verifier checks names its key's fingerprint, and KeySet.require compares
# it with the trusted key's: remembered per key (a pure function of its bytes), not re-hashed.
@functools.lru_cache(maxsize=256)
def fingerprint_hex(raw: bytes) -> str:
    """Hex of the first 16 bytes of SHA-256(raw key): ``public_key_fingerprint``."""
    return hashlib.sha256(raw).digest()[:16].hex()


def fingerprint_b32(raw: bytes) -> str:
    """First 26 base32 characters of SHA-256(raw key) (130 bits, as the registry publishes)."""
    return base64.b32encode(hashlib.sha256(raw).digest()).decode("ascii")[:26]


@dataclass(frozen=True)
class PublicKey:
    """One published Ed25519 key.

    Attributes:
        key_id: the key's name, e.g. ``pith-v1-2026-05``.
        raw: the 32 raw public key bytes.
        rotates_at: when signatures by this key stop counting (wire time), or None.
        url: where the registry publishes its keys.
        notes: free text.
        unrecognized_fields: fields this version does not know, kept for round trips.
    """

    key_id: str
    raw: bytes
    rotates_at: str | None = None
    url: str = f"{DEFAULT_BASE_URL}/pith-signing-key.json"
    notes: str = DEFAULT_NOTES
    unrecognized_fields: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        validate_key_id(self.key_id)
        try:
            check_public_key(self.raw)
        except PointError as e:
            raise FormatError(f"key {self.key_id}: public key refused: {e}") from e
        if self.rotates_at is not None:
            parse_wire_time(self.rotates_at)

    def __repr__(self) -> str:
        return f"PublicKey({self.key_id!r}, {self.fingerprint})"

    @property
    def fingerprint(self) -> str:
        """``public_key_fingerprint``: hex of the first 16 bytes of SHA-256(raw key)."""
        return fingerprint_hex(self.raw)

    @property
    def rotates(self) -> datetime | None:
        """``rotates_at`` as a datetime."""
        return None if self.rotates_at is None else parse_wire_time(self.rotates_at)

    def with_rotation(self, when: datetime | None) -> PublicKey:
        """A copy with ``rotates_at`` set (or cleared)."""
        return PublicKey(
            self.key_id,
            self.raw,
            None if when is None else format_seconds(when),
            self.url,
            self.notes,
            dict(self.unrecognized_fields),
        )

    def signer_dict(self) -> dict[str, str]:
        """The ``signer`` object of an event signed with this key."""
        return {
            "signer_id": SIGNER_ID,
            "signer_type": SIGNER_TYPE,
            "key_id": self.key_id,
            "public_key_fingerprint": self.fingerprint,
        }

    def to_dict(self) -> dict[str, Any]:
        """The key record, as published."""
        return {
            "key_id": self.key_id,
            "algorithm": ALGORITHM,
            "format": FORMAT,
            "public_key_b64": base64.b64encode(self.raw).decode("ascii"),
            "public_key_hex": self.raw.hex(),
            "fingerprint_sha256_b32_first128bits": fingerprint_b32(self.raw),
            "fingerprint_sha256_hex": self.fingerprint,
            "rotates_at": self.rotates_at,
            "url": self.url,
            "notes": self.notes,
            **self.unrecognized_fields,
        }

    @classmethod
    def from_dict(cls, data: Any) -> PublicKey:
        """Load a key record strictly.

        Raises:
            FormatError: if any field is missing, malformed or inconsistent.
        """
        if not isinstance(data, dict):
            raise FormatError("key record: expected an object")
        missing = [f for f in _FIELDS if f not in data]
        key_id = data.get("key_id")
        where = f"key record {key_id!r}" if isinstance(key_id, str) else "key record"
        if missing:
            raise FormatError(f"{where}: missing {', '.join(missing)}")
        if data["algorithm"] != ALGORITHM or data["format"] != FORMAT:
            raise FormatError(
                f"{where}: unsupported algorithm/format {data['algorithm']!r}/{data['format']!r}"
            )
        raw = _decode_key(data, where)
        expected = {
            "fingerprint_sha256_hex": fingerprint_hex(raw),
            "fingerprint_sha256_b32_first128bits": fingerprint_b32(raw),
        }
        for name, value in expected.items():
            if data[name] != value:
                raise FormatError(f"{where}: {name} does not match the key")
        for name in ("url", "notes"):
            if not isinstance(data[name], str):
                raise FormatError(f"{where}: {name} must be a string")
        rotates_at = data["rotates_at"]
        if rotates_at is not None and not isinstance(rotates_at, str):
            raise FormatError(f"{where}: rotates_at must be a time or null")
        return cls(
            key_id=validate_key_id(key_id),
            raw=raw,
            rotates_at=rotates_at,
            url=data["url"],
            notes=data["notes"],
            unrecognized_fields={k: v for k, v in data.items() if k not in _FIELDS},
        )


def _decode_key(data: dict[str, Any], where: str) -> bytes:
    b64, hx = data["public_key_b64"], data["public_key_hex"]
    if not isinstance(b64, str) or not isinstance(hx, str):
        raise FormatError(f"{where}: public_key_b64 and public_key_hex must be strings")
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as e:
        raise FormatError(f"{where}: public_key_b64 is not base64") from e
    if len(raw) != KEY_SIZE:
        raise FormatError(f"{where}: public key is {len(raw)} bytes, expected {KEY_SIZE}")
    if hx != raw.hex():
        raise FormatError(f"{where}: public_key_hex does not match public_key_b64")
    if base64.b64encode(raw).decode("ascii") != b64:
        raise FormatError(f"{where}: public_key_b64 is not canonical base64")
    return raw
