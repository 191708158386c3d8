"""Rollback protection: a verifier remembers the rotations and revocations it has accepted.

TUF clients refuse root metadata older than the version they hold. Pith key
documents carry no signed version number, so the rule here is the one
Certificate Transparency applies to log views: a new view must *extend*
what was seen. Every accepted rotation (old fingerprint → new fingerprint)
and revocation is remembered in ``$PITH_HOME/seen-keys.json``; a key set
that trusts a key this verifier has seen rotate, but lacks that rotation (or
rotates it elsewhere: a fork), or lacks a revocation seen before, is refused.

Only keys in the current set are compared, so a set about other keys does
not trip over memories of this one. The file holds fingerprints only, no
secrets. Delete it to forget on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from issuer import cjson
from issuer._fs import atomic_write, locked
from issuer.errors import VerificationError
from issuer.keys._documents import malformed, read_document
from issuer.keys.keyset import KeySet
from issuer.reasons import Reason

SEEN_FILE = "seen-keys.json"
DOCUMENT_TYPE = "pith_seen_key_statements"


@dataclass
class Seen:
    """Fingerprints of rotations (from → to) and of revoked keys."""

    rotations: dict[str, str] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, keys: KeySet) -> Seen:
        """What ``keys`` establishes."""
        return cls(
            {r.from_key.fingerprint: r.to_key.fingerprint for r in keys.rotations},
            {r.key.fingerprint for r in keys.revocations},
        )

    def to_dict(self) -> dict[str, Any]:
        """The file's content."""
        return {
            "document_type": DOCUMENT_TYPE,
            "rotations": [{"from": f, "to": t} for f, t in sorted(self.rotations.items())],
            "revoked": sorted(self.revoked),
        }


def load_seen(path: Path) -> Seen:
    """The remembered statements (none if the file does not exist).

    Raises:
        FormatError: the file is unreadable or not a seen-keys file.
    """
    what, hint = "seen-keys file", "delete it to forget what was seen"
    try:
        data = read_document(path, what, hint=hint)
    except FileNotFoundError:
        return Seen()
    try:
        if data["document_type"] != DOCUMENT_TYPE:
            raise TypeError
        rotations = {_fingerprint(r["from"]): _fingerprint(r["to"]) for r in data["rotations"]}
        revoked = {_fingerprint(f) for f in data["revoked"]}
    except (KeyError, TypeError) as e:
        raise malformed(path, what, f"not a {DOCUMENT_TYPE} document", hint=hint) from e
    return Seen(rotations, revoked)


def _fingerprint(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _rollback(message: str) -> VerificationError:
    return VerificationError(message, reason=Reason.KEY_ROLLBACK, step="keys")


def check_rollback(keys: KeySet, seen: Seen) -> None:
    """Refuse ``keys`` if it is older than (or forks from) what was seen.

    Raises:
        VerificationError: reason ``key_rollback``.
    """
    names = {k.fingerprint: k.key_id for k in keys}
    now = Seen.of(keys)
    hint = "use the newest key document (--keys pith-signing-key.json)"
    for old, new in sorted(seen.rotations.items()):
        if old not in names:
            continue
        got = now.rotations.get(old)
        if got is None:
            raise _rollback(
                f"this key set does not know that {names[old]} ({old}) rotated to {new}, which "
                f"this verifier has seen: refusing an older key set; {hint}"
            )
        if got != new:
            raise _rollback(
                f"this key set rotates {names[old]} ({old}) to {got}, but this verifier has seen "
                f"it rotate to {new}: the key forked"
            )
    for fingerprint in sorted(seen.revoked):
        if fingerprint in names and fingerprint not in now.revoked:
            raise _rollback(
                f"this key set does not know that {names[fingerprint]} ({fingerprint}) was "
                f"revoked, which this verifier has seen: refusing an older key set; {hint}"
            )


def remember(keys: KeySet, path: Path, seen: Seen) -> bool:
    """Add what ``keys`` establishes to the file; whether anything was new.

    The file is read again under a lock (``FILE.lock``) before it is written,
    so what another verifier added since ``seen`` was read is kept.

    Raises:
        OSError: the file cannot be written.
        FormatError: the file became unreadable or malformed since ``seen`` was read.
    """
    now = Seen.of(keys)
    if Seen({**seen.rotations, **now.rotations}, seen.revoked | now.revoked) == seen:
        return False
    with locked(path):
        current = load_seen(path)
        merged = Seen({**current.rotations, **now.rotations}, current.revoked | now.revoked)
        if merged == current:
            return False
        atomic_write(path, cjson.dumps(merged.to_dict()) + b"\n", mode=0o644)
    return True
