"""A verifier's trust: the shipped keys, the keys it was handed, and what it has seen before.

This is the whole of what ``pith verify`` trusts, built in one place so that
a command, a test or another program gets the same answer:

1. the key records and statements shipped with the toolkit, plus each
   ``--keys`` file or directory;
2. trust from a pinned root alone, or from every key given (see
   :mod:`issuer.keys._trust` for the fail-closed rules);
3. refused if it rolls back what this verifier has seen
   (:mod:`issuer.keys._seen`), then what it newly establishes is remembered.

Remembering is best effort: a read-only home still verifies, and the caller
is told why nothing was remembered so it can warn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from issuer.keys._seen import SEEN_FILE, check_rollback, load_seen, remember
from issuer.keys.keyset import KeySet, load_material, shipped_keys_dir


def seen_keys_path(home: Path) -> Path:
    """Where a verifier with home ``home`` remembers the key statements it has seen."""
    return Path(home) / SEEN_FILE


def verifier_keys(extra: Sequence[Path] = (), trust_root: str | None = None) -> KeySet:
    """The shipped keys plus each of ``extra`` (directory or file), statements applied.

    With ``trust_root`` (key id or fingerprint), only that key is trusted
    outright; the others count only when reached from it by rotation
    statements signed by both keys.

    Raises:
        FormatError: an unreadable or malformed key file, or an unknown trust root.
        VerificationError: a key statement that cannot be trusted.
    """
    material = load_material(shipped_keys_dir())
    for path in extra:
        material.extend(load_material(path))
    root = material.find(trust_root) if trust_root is not None else None
    return KeySet.trusting(material, root)


@dataclass(frozen=True)
class VerifierTrust:
    """The keys to verify with, and whether the seen-keys memory could be updated."""

    keys: KeySet
    seen_path: Path
    remembered: bool
    """Whether something new was added to the seen-keys file."""
    not_remembered: str | None = None
    """Why the seen-keys file could not be written, if it could not."""


def verifier_trust(extra: Sequence[Path], trust_root: str | None, seen_path: Path) -> VerifierTrust:
    """The verifier's key set, refused if it rolls back what was seen at ``seen_path``.

    Raises:
        FormatError: a malformed key file or seen-keys file, or an unknown trust root.
        VerificationError: a key statement that cannot be trusted (``bad_key_statement``),
            or an older key set than one seen before (``key_rollback``).
    """
    keys = verifier_keys(extra, trust_root)
    seen = load_seen(seen_path)
    check_rollback(keys, seen)
    try:
        remembered = remember(keys, seen_path, seen)
    except OSError as e:
        return VerifierTrust(keys, seen_path, False, e.strerror or str(e))
    return VerifierTrust(keys, seen_path, remembered)
