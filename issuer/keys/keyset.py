"""The verifier's trusted key set, and the published key document (spec §5, §10).

Trust comes only from here: the keys shipped in the package (``keys/``, the
registry's published set) plus whatever the caller adds explicitly. Keys
that arrive inside a bundle are hints, never trust.

A key file may hold one key record, a list of records, one signed key
statement (a DSSE envelope, see :mod:`issuer.keys._statements`), or the
``pith-signing-key.json`` document that ``pith keys export`` writes:
``{"document_type": "pith_signing_keys", "document_version": "1.0", "keys": [...],
"rotation_statements": [...], "revocation_statements": [...]}``.

Keys given explicitly are trusted outright; statements then shorten their
windows (rotation), add the keys they rotate to, and revoke (§10, and
:mod:`issuer.keys._trust` for the rules). With a pinned root, only the root
is trusted outright and everything else must be reached by rotation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from issuer.errors import FormatError, VerificationError
from issuer.keys._documents import read_document
from issuer.keys._public import PublicKey, fingerprint_b32
from issuer.keys._statements import (
    Revocation,
    Rotation,
    Statement,
    is_statement,
    parse_statement,
)
from issuer.keys._trust import earliest, follow
from issuer.reasons import Reason

DOCUMENT_TYPE = "pith_signing_keys"
DOCUMENT_VERSION = "1.0"


def shipped_keys_dir() -> Path:
    """Where the published key set lives: in the installed package, or the checkout's ``keys/``."""
    packaged = resources.files("issuer") / "_trusted_keys"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "keys"


def shipped_material() -> Material:
    """The published key records and statements shipped with the toolkit, not yet trusted.

    Raises:
        FormatError: a malformed shipped key file.
    """
    return load_material(shipped_keys_dir())


@dataclass
class Material:
    """Key records and statements as read from files, before any trust is decided."""

    keys: list[PublicKey] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)

    def extend(self, other: Material) -> None:
        """Add ``other``'s keys and statements."""
        self.keys.extend(other.keys)
        self.statements.extend(other.statements)

    def find(self, wanted: str) -> PublicKey:
        """The key named by id, hex fingerprint or base32 fingerprint.

        Raises:
            FormatError: if none or several keys match.
        """
        text = wanted.strip()
        lowered = text.lower()
        found = {
            k.raw: k
            for k in self.keys
            if text in (k.key_id, fingerprint_b32(k.raw))
            or (_HEX_FP.fullmatch(lowered) and lowered == k.fingerprint)
        }
        if len(found) != 1:
            raise FormatError(
                f"{len(found) or 'no'} known key(s) match the trust root {wanted!r}",
                hint="give a key id or fingerprint of a key in the shipped keys or --keys",
            )
        return next(iter(found.values()))


_HEX_FP = re.compile(r"[0-9a-f]{32}")


class KeySet:
    """The keys a verifier trusts, by key id, with their validity windows and revocations.

    A key here is *known*: a signature names it and its fingerprint is
    checked. Whether a signature by it *counts* is :meth:`require`'s answer:
    not after the key's ``rotates_at``, and never on the key's own say-so
    once it is revoked.
    """

    def __init__(
        self,
        keys: Iterable[PublicKey] = (),
        *,
        rotations: Iterable[Rotation] = (),
        revocations: Iterable[Revocation] = (),
    ) -> None:
        self._keys: dict[str, PublicKey] = {}
        self._rotations: dict[bytes, Rotation] = {}
        self._revoked: dict[str, Revocation] = {}
        for key in keys:
            self.add(key)
        for rotation in rotations:
            self._rotations[rotation.from_key.raw] = rotation
        for revocation in revocations:
            known = self._revoked.get(revocation.key.key_id)
            if known is None or revocation.compromised_since < known.compromised_since:
                self._revoked[revocation.key.key_id] = revocation

    def __iter__(self) -> Iterator[PublicKey]:
        return iter(sorted(self._keys.values(), key=lambda k: k.key_id))

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    @property
    def rotations(self) -> list[Rotation]:
        """The accepted rotations, oldest first."""
        return sorted(self._rotations.values(), key=lambda r: r.rotates_at)

    @property
    def revocations(self) -> list[Revocation]:
        """The accepted revocations, by key id."""
        return [self._revoked[k] for k in sorted(self._revoked)]

    def revocation(self, key_id: str) -> Revocation | None:
        """The revocation of ``key_id``, if it is revoked."""
        return self._revoked.get(key_id)

    def successor(self, key: PublicKey) -> PublicKey | None:
        """The key ``key`` rotated to, if it did."""
        rotation = self._rotations.get(key.raw)
        return None if rotation is None else self._keys.get(rotation.to_key.key_id)

    def add(self, key: PublicKey) -> None:
        """Trust ``key``; of two records of one key, the earlier ``rotates_at`` wins.

        Raises:
            FormatError: if a different key is already trusted under the same id.
        """
        known = self._keys.get(key.key_id)
        if known is not None and known.raw != key.raw:
            raise FormatError(f"two different keys are both called {key.key_id}")
        self._keys[key.key_id] = key if known is None else earliest(known, key)

    def get(self, key_id: str) -> PublicKey | None:
        """The known key called ``key_id``, if any (revoked keys included)."""
        return self._keys.get(key_id)

    def require(
        self,
        key_id: object,
        fingerprint: object,
        signed_at: datetime | None,
        *,
        countersigned: bool = False,
    ) -> PublicKey:
        """The trusted key a signature names, if a signature by it made at ``signed_at`` counts.

        Args:
            key_id: the key the signature names.
            fingerprint: the fingerprint it names.
            signed_at: when it says it was made.
            countersigned: a valid signature by another, unrevoked key covers this
                one (a receipt inside a re-signed event), so a revocation of
                ``key_id`` does not stop it counting.

        Raises:
            VerificationError: unknown key, fingerprint mismatch, a signature made
                at or after the key's ``rotates_at``, or a revoked key.
        """
        key = self._keys.get(key_id) if isinstance(key_id, str) else None
        if key is None:
            raise VerificationError(
                f"signed by key {key_id!r}, which is not in the trusted key set",
                reason=Reason.UNKNOWN_KEY,
            )
        if fingerprint != key.fingerprint:
            raise VerificationError(
                f"fingerprint {fingerprint!r} is not the fingerprint of key {key.key_id}",
                reason=Reason.FINGERPRINT_MISMATCH,
            )
        revoked = self._revoked.get(key.key_id)
        if revoked is not None and not countersigned:
            raise VerificationError(
                f"signed by key {key.key_id}, revoked as compromised since "
                f"{revoked.compromised_since.isoformat()} ({revoked.reason}); its signatures "
                "do not count on their own, whatever time they claim",
                reason=Reason.KEY_REVOKED,
            )
        rotates = key.rotates
        if rotates is not None and signed_at is not None and signed_at >= rotates:
            raise VerificationError(
                f"signed at {signed_at.isoformat()} by key {key.key_id}, which rotated at "
                f"{key.rotates_at}",
                reason=Reason.KEY_NOT_VALID,
            )
        return key

    def valid_at(self, key: PublicKey, when: datetime) -> bool:
        """Whether a new signature by ``key`` made at ``when`` would count."""
        try:
            self.require(key.key_id, key.fingerprint, when)
        except VerificationError:
            return False
        return True

    def to_document(self) -> dict[str, Any]:
        """The ``pith-signing-key.json`` document: every key and every accepted statement."""
        return {
            "document_type": DOCUMENT_TYPE,
            "document_version": DOCUMENT_VERSION,
            "keys": [k.to_dict() for k in self],
            "rotation_statements": [r.envelope for r in self.rotations],
            "revocation_statements": [r.envelope for r in self.revocations],
        }

    @classmethod
    def shipped(cls) -> KeySet:
        """The registry's published keys, as shipped with the toolkit."""
        return cls.load(shipped_keys_dir())

    @classmethod
    def load(cls, path: Path) -> KeySet:
        """Trust every key in a directory of key files, or in one file, and apply its statements.

        Raises:
            FormatError: unreadable or malformed key file (named).
            VerificationError: a statement that cannot be trusted (``bad_key_statement``).
        """
        return cls.trusting(load_material(path))

    @classmethod
    def trusting(cls, material: Material, root: PublicKey | None = None) -> KeySet:
        """The key set ``material`` establishes: from ``root`` alone, or from all its keys.

        Raises:
            VerificationError: a statement that cannot be trusted (``bad_key_statement``).
        """
        anchors: Sequence[PublicKey] = material.keys if root is None else [root]
        trust = follow(anchors, material.statements, material.keys)
        return cls(trust.keys, rotations=trust.rotations, revocations=trust.revocations)

    def material(self) -> Material:
        """This set's keys and accepted statements, to be trusted again with other material."""
        return Material(list(self), [*self.rotations, *self.revocations])

    def merged(self, other: KeySet) -> KeySet:
        """A new set with the keys, rotations and revocations of both."""
        return KeySet(
            [*self, *other],
            rotations=[*self.rotations, *other.rotations],
            revocations=[*self.revocations, *other.revocations],
        )


def parse_key_document(data: Any, where: str) -> Material:
    """Keys and statements from a parsed key record, list, statement, or key document.

    Raises:
        FormatError: naming ``where`` and the problem.
    """
    material = Material()
    if isinstance(data, dict) and data.get("document_type") == DOCUMENT_TYPE:
        if data.get("document_version") != DOCUMENT_VERSION:
            raise FormatError(f"{where}: unsupported key document version")
        for name in ("rotation_statements", "revocation_statements"):
            listed = data.get(name, [])
            if not isinstance(listed, list):
                raise FormatError(f"{where}: {name} must be a list")
            material.statements += [
                parse_statement(s, f"{where}: {name}[{i}]") for i, s in enumerate(listed)
            ]
        data = data.get("keys")
    elif is_statement(data):
        material.statements.append(parse_statement(data, where))
        return material
    records = data if isinstance(data, list) else [data]
    try:
        material.keys += [PublicKey.from_dict(r) for r in records]
    except FormatError as e:
        raise FormatError(f"{where}: {e.message}", hint=e.hint) from e
    return material


def load_key_file(path: Path) -> Material:
    """Keys and statements from one file.

    Raises:
        FormatError: unreadable or malformed.
    """
    what = "key document"
    try:
        data = read_document(path, what)
    except FileNotFoundError as e:
        raise FormatError(f"cannot read key file {path}: {e.strerror}") from e
    # No RecursionError can come from here: read_document parsed the file with
    # cjson.loads, which refuses nesting past 128 levels, and nothing below recurses.
    try:
        return parse_key_document(data, str(path))
    except FormatError as e:
        raise FormatError(f"malformed {what}: {e.message}", hint=e.hint) from e


def load_material(path: Path) -> Material:
    """Keys and statements from a directory of ``*.json`` files, or from one file.

    Raises:
        FormatError: unreadable or malformed key file (named).
    """
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    material = Material()
    for file in files:
        material.extend(load_key_file(file))
    return material
