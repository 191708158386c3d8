r"""C2SP tlog-cosignature, type 0x04: timestamped Ed25519 witness cosignatures.

A cosigner signs ``cosignature/v1\ntime <timestamp>\n`` followed by the whole
checkpoint body (extension lines included). The note signature is
``key id (4) || timestamp (8, big-endian) || Ed25519 signature (64)``.
:func:`cosign` makes one, :func:`verify_cosignature` checks one. Whether a
witness should cosign (consistency with what it saw before) is the witness's
business, not this module's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from issuer.errors import FormatError, VerificationError
from issuer.keys import verify as ed25519_verify
from issuer.reasons import Reason
from issuer.tlog._note import Note, NoteSignature
from issuer.tlog._vkey import COSIGNATURE_ED25519, NoteSigner, VerifierKey

MAX_TIMESTAMP = 2**63 - 1
_SIGNATURE_SIZE = 8 + 64


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    """The bytes a type 0x04 cosignature signs."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"cosignature timestamp {timestamp} is out of range")
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: who cosigned, and when (POSIX seconds)."""

    key: VerifierKey
    timestamp: int


def cosign(
    checkpoint_text: str, cosigner: NoteSigner, timestamp: int | None = None
) -> NoteSignature:
    """Cosign a checkpoint body now (or at ``timestamp``).

    Raises:
        ValueError: if ``cosigner`` is not a type 0x04 key, or the timestamp is out of range.
        SigningError, KeyAccessError: from the signer.
    """
    if cosigner.sig_type != COSIGNATURE_ED25519:
        raise ValueError(f"{cosigner.name} is not a cosignature (0x04) key")
    when = int(time.time()) if timestamp is None else timestamp
    key = cosigner.verifier_key
    signature = cosigner.signer.sign(cosigned_message(checkpoint_text, when))
    return NoteSignature(key.name, key.key_id, when.to_bytes(8, "big") + signature)


def verify_cosignature(signature: NoteSignature, checkpoint_text: str, key: VerifierKey) -> int:
    """Check one cosignature by ``key`` on a checkpoint body; return its timestamp.

    Raises:
        FormatError: if the signature is not ``timestamp || signature``.
        VerificationError: ``bad_cosignature`` if it does not verify.
        ValueError: if ``key`` is not a cosignature key or did not make ``signature``.
    """
    if key.sig_type != COSIGNATURE_ED25519 or not signature.is_by(key):
        raise ValueError(f"{key.name} is not a cosignature key matching this signature")
    if len(signature.signature) != _SIGNATURE_SIZE:
        raise FormatError(f"the cosignature by {key.name} is not 72 bytes")
    timestamp = int.from_bytes(signature.signature[:8], "big")
    if timestamp > MAX_TIMESTAMP or not ed25519_verify(
        key.public_key, cosigned_message(checkpoint_text, timestamp), signature.signature[8:]
    ):
        raise VerificationError(
            f"the cosignature by witness {key.name} ({key.key_id.hex()}) does not verify",
            reason=Reason.BAD_COSIGNATURE,
            step="cosignatures",
        )
    return timestamp


def cosignatures(note: Note, keys: Sequence[VerifierKey]) -> list[Cosignature]:
    """The verified cosignatures on ``note`` by ``keys``: one per key that cosigned.

    Signatures by other keys are ignored; a cosignature by one of ``keys``
    that does not verify refuses the note.

    Raises:
        FormatError, VerificationError: as :func:`verify_cosignature`.
    """
    found = []
    for key in keys:
        stamps = [verify_cosignature(s, note.text, key) for s in note.signed_by(key)]
        if stamps:
            found.append(Cosignature(key, max(stamps)))
    return found
