"""Note keys as C2SP signed-note writes them: ``name+keyid+base64(type || key)``.

A verifier key ("vkey") names a key, its 4-byte key id and its signature type.
The key id is ``SHA-256(name || 0x0A || type || public key)[:4]``, and a
vkey whose id is not that one is refused, as Go's ``note.NewVerifier`` does.
Two types are used here: ``0x01`` Ed25519 note signatures (the log) and
``0x04`` timestamped Ed25519 cosignatures (witnesses). The private key form
``PRIVATE+KEY+name+keyid+base64(type || seed)`` is read only to reproduce the
Go example and for tests; registry keys sign through :class:`issuer.keys.Signer`.

This module parses and formats keys; what a signature covers is for
:mod:`._note` and :mod:`._cosignature` to say.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from issuer.errors import FormatError
from issuer.keys import PointError, SeedSigner, Signer, check_public_key

ED25519 = 0x01
"""Signature type of an Ed25519 note signature (c2sp.org/signed-note)."""
COSIGNATURE_ED25519 = 0x04
"""Signature type of a timestamped Ed25519 cosignature (c2sp.org/tlog-cosignature)."""
KEY_ID_SIZE = 4
_TYPES = {ED25519: "Ed25519 note signature", COSIGNATURE_ED25519: "Ed25519 cosignature"}
_PRIVATE_PREFIX = "PRIVATE+KEY+"
# \s on str is Unicode whitespace, as str.isspace(); a lone surrogate (a command-line
# byte that is not UTF-8) is not text, and a name is hashed as UTF-8.
_NAME_RE = re.compile(r"[^\s+\ud800-\udfff]+")


def is_valid_name(name: str) -> bool:
    """Whether ``name`` may name a note key: non-empty Unicode text, no space, no ``+``."""
    return _NAME_RE.fullmatch(name) is not None


def _is_hex_id(text: str) -> bool:
    return len(text) == 2 * KEY_ID_SIZE and all(c in "0123456789abcdef" for c in text)


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """The 4-byte key id: ``SHA-256(name || 0x0A || type || public key)[:4]``."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()
    return digest[:KEY_ID_SIZE]


def decode_b64(text: str, what: str) -> bytes:
    """Strict standard base64: padded, no stray characters, one encoding per value.

    Raises:
        FormatError: naming ``what``.
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise FormatError(f"{what} is not base64") from e
    if base64.b64encode(raw).decode() != text:
        raise FormatError(f"{what} is not canonical base64")
    return raw


@dataclass(frozen=True)
class VerifierKey:
    """A public note key: name, key id, signature type and the 32-byte Ed25519 key."""

    name: str
    key_id: bytes
    sig_type: int
    public_key: bytes

    @classmethod
    def parse(cls, vkey: str) -> VerifierKey:
        """Read ``name+keyid+base64(type || key)``, checking the key id and the key.

        Raises:
            FormatError: a malformed vkey, an unsupported type, a key id that does
                not match, or a key refused by the Ed25519 point checks.
        """
        parts = vkey.split("+", 2)  # names never hold a '+'; base64 may
        if len(parts) != 3 or not is_valid_name(parts[0]):  # noqa: PLR2004 - three fields
            raise FormatError(
                f"not a note verifier key: {vkey!r}", hint="expected NAME+KEYID+BASE64"
            )
        name, hex_id, rest = parts
        if not _is_hex_id(hex_id):
            raise FormatError(f"verifier key {name}: the key id must be 8 lowercase hex digits")
        kid = bytes.fromhex(hex_id)
        raw = decode_b64(rest, f"verifier key {name}")
        if not raw or raw[0] not in _TYPES:
            raise FormatError(
                f"verifier key {name}: unsupported signature type",
                hint="supported: 0x01 Ed25519 (log keys), 0x04 Ed25519 cosignature (witnesses)",
            )
        key = cls.of(name, raw[0], raw[1:])
        if key.key_id != kid:
            raise FormatError(f"verifier key {name}: key id {hex_id} is not the key's id")
        return key

    @classmethod
    def of(cls, name: str, sig_type: int, public_key: bytes) -> VerifierKey:
        """The key of ``name`` and ``public_key`` for signatures of ``sig_type``.

        Raises:
            FormatError: if the name or the Ed25519 key cannot be used.
        """
        if not is_valid_name(name):
            raise FormatError(f"invalid note key name {name!r}: empty, a space or a '+'")
        if sig_type not in _TYPES:
            raise FormatError(f"note key {name}: unsupported signature type {sig_type:#04x}")
        try:
            check_public_key(public_key)
        except PointError as e:
            raise FormatError(f"note key {name}: {e}") from e
        return cls(name, key_id(name, sig_type, public_key), sig_type, public_key)

    @property
    def type_name(self) -> str:
        """What the key signs, in words."""
        return _TYPES[self.sig_type]

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([self.sig_type]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


@dataclass(frozen=True)
class NoteSigner:
    """Signs for one note key: its name, signature type and a signer holding the private key.

    ``signer`` is any :class:`issuer.keys.Signer`, so log and witness keys live
    wherever the other keys do (keyring, file, PKCS#11).
    """

    name: str
    sig_type: int
    signer: Signer

    @property
    def verifier_key(self) -> VerifierKey:
        """The public key other parties configure to verify these signatures."""
        return VerifierKey.of(self.name, self.sig_type, self.signer.public_key.raw)

    @classmethod
    def parse_private(cls, skey: str) -> NoteSigner:
        """Read a Go private note key ``PRIVATE+KEY+name+keyid+base64(type || seed)``.

        Raises:
            FormatError: a malformed key or a key id that does not match.
        """
        if not skey.startswith(_PRIVATE_PREFIX):
            raise FormatError("not a private note key (no PRIVATE+KEY+ prefix)")
        parts = skey.removeprefix(_PRIVATE_PREFIX).split("+", 2)
        if len(parts) != 3 or not is_valid_name(parts[0]) or not _is_hex_id(parts[1]):  # noqa: PLR2004
            raise FormatError("malformed private note key")
        name, hex_id, rest = parts
        raw = decode_b64(rest, f"private note key {name}")
        if len(raw) != 33 or raw[0] not in _TYPES:  # noqa: PLR2004 - type byte + 32-byte seed
            raise FormatError(f"private note key {name}: not a type byte and an Ed25519 seed")
        signer = cls(name, raw[0], SeedSigner(f"note-{hex_id}", raw[1:]))
        if signer.verifier_key.key_id.hex() != hex_id:
            raise FormatError(f"private note key {name}: key id {hex_id} is not the key's id")
        return signer
