"""The verifier's trusted key set, and the published key document (spec §5, §10).

Trust comes only from here: the keys shipped in the package (``keys/``, the
registry's published set) plus whatever the caller adds explicitly. Keys
that arrive inside a bundle are hints, never trust.

A key file may hold one key record, a list of records, or the
``pith-signing-key.json`` document that ``pith keys export`` writes:
``{"document_type": "pith_signing_keys", "document_version": "1.0", "keys": [...]}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from issuer import cjson
from issuer.errors import FormatError, VerificationError
from issuer.keys._public import PublicKey
from issuer.reasons import Reason

DOCUMENT_TYPE = "pith_signing_keys"
DOCUMENT_VERSION = "1.0"


def shipped_keys_dir() -> Path:
    """Where the published key set lives: in the installed package, or the checkout's ``keys/``."""
    packaged = resources.files("issuer") / "_trusted_keys"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "keys"


class KeySet:
    """A set of trusted public keys, by key id."""

    def __init__(self, keys: Iterable[PublicKey] = ()) -> None:
        self._keys: dict[str, PublicKey] = {}
        for key in keys:
            self.add(key)

    def __iter__(self) -> Iterator[PublicKey]:
        return iter(sorted(self._keys.values(), key=lambda k: k.key_id))

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def add(self, key: PublicKey) -> None:
        """Trust ``key``.

        Raises:
            FormatError: if a different key is already trusted under the same id.
        """
        known = self._keys.get(key.key_id)
        if known is not None and known.raw != key.raw:
            raise FormatError(f"two different keys are both called {key.key_id}")
        if known is None or (known.rotates_at is None and key.rotates_at is not None):
            self._keys[key.key_id] = key

    def get(self, key_id: str) -> PublicKey | None:
        """The trusted key called ``key_id``, if any."""
        return self._keys.get(key_id)

    def require(self, key_id: object, fingerprint: object, signed_at: datetime | None) -> PublicKey:
        """The trusted key a signature names, valid at ``signed_at``.

        Raises:
            VerificationError: unknown key, fingerprint mismatch, or a signature
                made at or after the key's ``rotates_at``.
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
        rotates = key.rotates
        if rotates is not None and signed_at is not None and signed_at >= rotates:
            raise VerificationError(
                f"signed at {signed_at.isoformat()} by key {key.key_id}, which rotated at "
                f"{key.rotates_at}",
                reason=Reason.KEY_NOT_VALID,
            )
        return key

    def to_document(self) -> dict[str, Any]:
        """The ``pith-signing-key.json`` document listing every key."""
        return {
            "document_type": DOCUMENT_TYPE,
            "document_version": DOCUMENT_VERSION,
            "keys": [k.to_dict() for k in self],
        }

    @classmethod
    def shipped(cls) -> KeySet:
        """The registry's published keys, as shipped with the toolkit."""
        return cls.load(shipped_keys_dir())

    @classmethod
    def load(cls, path: Path) -> KeySet:
        """Keys from a directory of key files, or from one key file.

        Raises:
            FormatError: unreadable or malformed key file (named).
        """
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        keys = cls()
        for file in files:
            for key in load_key_file(file):
                keys.add(key)
        return keys

    def merged(self, other: KeySet) -> KeySet:
        """A new set with the keys of both."""
        return KeySet([*self, *other])


def parse_key_document(data: Any, where: str) -> list[PublicKey]:
    """Keys from a parsed key record, list of records, or key document.

    Raises:
        FormatError: naming ``where`` and the problem.
    """
    if isinstance(data, dict) and data.get("document_type") == DOCUMENT_TYPE:
        if data.get("document_version") != DOCUMENT_VERSION:
            raise FormatError(f"{where}: unsupported key document version")
        data = data.get("keys")
    records = data if isinstance(data, list) else [data]
    try:
        return [PublicKey.from_dict(r) for r in records]
    except FormatError as e:
        raise FormatError(f"{where}: {e.message}", hint=e.hint) from e


def load_key_file(path: Path) -> list[PublicKey]:
    """Keys from one file.

    Raises:
        FormatError: unreadable or malformed.
    """
    try:
        data = cjson.loads(path.read_bytes())
    except OSError as e:
        raise FormatError(f"cannot read key file {path}: {e.strerror}") from e
    except FormatError as e:
        raise FormatError(f"{path}: {e.message}") from e
    return parse_key_document(data, str(path))
