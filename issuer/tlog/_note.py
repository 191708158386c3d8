"""C2SP signed notes: strict parsing, Ed25519 note signatures, verification.

A signed note is a UTF-8 text ending in a newline, a blank line, then one or
more lines ``— <key name> base64(key id || signature)``. Parsing is strict:
valid UTF-8, no control characters but newline, canonical base64, at most
:data:`MAX_NOTE_SIZE` bytes, :data:`MAX_LINES` lines and
:data:`MAX_SIGNATURES` signatures. Verification follows the spec: signatures
whose name and key id do not both match a configured key are ignored; a
signature by a configured key that does not verify refuses the note, and so
does a note that no configured key signed.

What the text means (a checkpoint) and cosignatures (type 0x04) are left to
:mod:`._checkpoint` and :mod:`._cosignature`.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from issuer.errors import FormatError, VerificationError
from issuer.keys import verify as ed25519_verify
from issuer.reasons import Reason
from issuer.tlog._vkey import ED25519, KEY_ID_SIZE, NoteSigner, VerifierKey, decode_b64
from issuer.tlog._vkey import is_valid_name as _is_valid_name

logger = logging.getLogger(__name__)

MAX_NOTE_SIZE = 64 * 1024
"""Largest note read, in bytes: a checkpoint with 100 Ed25519 signatures is under 15 KiB."""
MAX_LINES = 1024
"""Most lines (text and signatures) in a note."""
MAX_SIGNATURES = 100
"""Most signature lines in a note (Go's limit; the spec asks for at least 16)."""

_DASH = "— "  # U+2014 EM DASH, then a space
_CONTROL_RE = re.compile("[\x00-\x09\x0b-\x1f]")  # ASCII controls but newline


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name, its 4-byte id, and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """The signature line, with its final newline."""
        return f"{_DASH}{self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"

    def is_by(self, key: VerifierKey) -> bool:
        """Whether this signature claims to be by ``key`` (name and key id both match)."""
        return self.name == key.name and self.key_id == key.key_id


def check_text(text: str) -> None:
    """Refuse a note text that is not a valid signed-note text.

    Raises:
        FormatError: empty, not newline-terminated, or with control characters.
    """
    if not text.endswith("\n") or text == "\n":
        raise FormatError("a note text must be non-empty and end with a newline")
    bad = _CONTROL_RE.search(text)
    if bad is not None:
        raise FormatError(f"a note may not contain the control character {ord(bad[0]):#04x}")


@dataclass(frozen=True)
class Note:
    """A signed note: its text (with the final newline) and its signatures, in order."""

    text: str
    signatures: tuple[NoteSignature, ...]

    @classmethod
    def parse(cls, data: bytes) -> Note:
        """Read a signed note, strictly.

        Raises:
            FormatError: for anything that is not a well-formed signed note.
        """
        if len(data) > MAX_NOTE_SIZE:
            raise FormatError(f"a signed note is at most {MAX_NOTE_SIZE} bytes, not {len(data)}")
        try:
            whole = data.decode("utf-8", errors="strict")
        except UnicodeDecodeError as e:
            raise FormatError("a signed note must be UTF-8") from e
        if whole.count("\n") > MAX_LINES:
            raise FormatError(f"a signed note has at most {MAX_LINES} lines")
        check_text(whole)
        split = whole.rfind("\n\n")
        if split < 0:
            raise FormatError("a signed note needs a blank line before its signatures")
        text, block = whole[: split + 1], whole[split + 2 :]
        check_text(text)
        if not block:
            raise FormatError("a signed note needs at least one signature line")
        lines = block[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise FormatError(f"a signed note has at most {MAX_SIGNATURES} signatures")
        return cls(text, tuple(_parse_signature(line) for line in lines))

    def to_bytes(self) -> bytes:
        """The note as served: text, blank line, signature lines."""
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode()

    def signed_by(self, key: VerifierKey) -> list[NoteSignature]:
        """The signatures that claim to be by ``key``."""
        return [s for s in self.signatures if s.is_by(key)]

    def with_signatures(self, *signatures: NoteSignature) -> Note:
        """This note with ``signatures`` added after its own."""
        return Note(self.text, self.signatures + signatures)


def _parse_signature(line: str) -> NoteSignature:
    if not line.startswith(_DASH):
        raise FormatError("a signature line must start with an em dash and a space")
    name, sep, encoded = line.removeprefix(_DASH).partition(" ")
    if not sep or not _is_valid_name(name):
        raise FormatError(f"malformed signature line: {line[:80]!r}")
    raw = decode_b64(encoded, f"the signature by {name}")
    if len(raw) <= KEY_ID_SIZE:
        raise FormatError(f"the signature by {name} is too short")
    return NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def sign_note(text: str, signers: Sequence[NoteSigner]) -> Note:
    """Sign ``text`` with each Ed25519 note key in ``signers``.

    Raises:
        FormatError: if ``text`` cannot be a note text.
        ValueError: if a signer is not of type 0x01 (cosignatures sign another message).
        SigningError, KeyAccessError: from the signers.
    """
    check_text(text)
    signatures = []
    for signer in signers:
        if signer.sig_type != ED25519:
            raise ValueError(f"{signer.name} makes {signer.sig_type:#04x} signatures, not 0x01")
        key = signer.verifier_key
        signatures.append(NoteSignature(key.name, key.key_id, signer.signer.sign(text.encode())))
    note = Note(text, tuple(signatures))
    if Note.parse(note.to_bytes()) != note:  # a text a reader would split elsewhere
        raise FormatError("this text does not round-trip as a signed note")
    return note


def verify_ed25519(note: Note, key: VerifierKey) -> bool:
    """Whether ``note`` carries a signature by ``key`` and every one that claims it verifies.

    Raises:
        VerificationError: with reason ``bad_note_signature``, if a signature
            by ``key`` does not verify.
    """
    found = note.signed_by(key)
    message = note.text.encode()
    for sig in found:
        if not ed25519_verify(key.public_key, message, sig.signature):
            raise VerificationError(
                f"the signature by {key.name} ({key.key_id.hex()}) does not verify",
                reason=Reason.BAD_NOTE_SIGNATURE,
                step="note",
            )
    return bool(found)


def verify_note(note: Note, keys: Sequence[VerifierKey]) -> tuple[VerifierKey, ...]:
    """The keys of ``keys`` (Ed25519, type 0x01) whose signatures on ``note`` verify.

    Signatures by other keys are ignored, as the spec requires.

    Raises:
        VerificationError: ``bad_note_signature`` if a signature by one of
            ``keys`` does not verify, ``no_log_signature`` if none of them signed.
        ValueError: if a key is not an Ed25519 note key.
    """
    verified = []
    for key in keys:
        if key.sig_type != ED25519:
            raise ValueError(f"{key.name} verifies {key.type_name}s, not note signatures")
        if verify_ed25519(note, key):
            verified.append(key)
    if not verified:
        names = ", ".join(k.name for k in keys) or "none given"
        raise VerificationError(
            f"the note carries no signature by a trusted key ({names})",
            reason=Reason.NO_LOG_SIGNATURE,
            step="note",
        )
    return tuple(verified)
