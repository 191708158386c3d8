"""The operator's own keys: public records and the signer URI of each, under a home directory.

``$PITH_HOME`` (default ``$XDG_DATA_HOME/pith``, i.e. ``~/.local/share/pith``) holds
``keys/KEY_ID.json`` (the public key records, as published), the signed
statements ``keys/rotation-from-KEY_ID.json`` and ``keys/revocation-KEY_ID.json``,
and ``signers.json`` (which signer URI holds each private key, and which key
is current). None of these holds a secret: a URI with a ``pin-value`` is refused.

A key rotates at most once (a second rotation from the same key would be a
fork, which verifiers refuse), hence one rotation file per old key.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from issuer import cjson
from issuer._fs import atomic_write
from issuer.errors import FormatError, KeyAccessError
from issuer.keys._public import PublicKey, validate_key_id
from issuer.keys._statements import Revocation, Rotation, parse_statement
from issuer.keys.keyset import KeySet, load_key_file

HOME_ENV = "PITH_HOME"


def default_home() -> Path:
    """``$PITH_HOME``, else ``$XDG_DATA_HOME/pith``, else ``~/.local/share/pith``."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "pith"


def default_signer_uri(key_id: str) -> str:
    """Where ``pith keys generate`` puts a key by default: the OS keyring."""
    return f"keyring:pith/{key_id}"


def check_storable(signer_uri: str) -> None:
    """Refuse a signer URI that carries a secret, before any key is made with it.

    Raises:
        KeyAccessError: if the URI holds a PIN.
    """
    if "pin-value=" in signer_uri:
        raise KeyAccessError(
            "refusing to store a signer URI that contains a PIN",
            hint="use pin-source=FILE or PITH_PKCS11_PIN instead of pin-value",
        )


class LocalKeys:
    """Read and update the operator's key directory."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.keys_dir = self.home / "keys"
        self._config_path = self.home / "signers.json"

    def _config(self) -> dict[str, Any]:
        if not self._config_path.exists():
            return {"current": None, "signers": {}}
        try:
            data = cjson.loads(self._config_path.read_bytes())
        except FormatError as e:
            raise FormatError(f"{self._config_path}: {e.message}") from e
        if not isinstance(data, dict) or not isinstance(data.get("signers"), dict):
            raise FormatError(f"{self._config_path}: not a signers file")
        return data

    def _write_config(self, config: dict[str, Any]) -> None:
        atomic_write(self._config_path, cjson.dumps(config) + b"\n", mode=0o600)

    def keys(self) -> KeySet:
        """Every local public key, with the local rotations and revocations applied.

        Raises:
            FormatError: a malformed key file.
            VerificationError: a statement that does not verify.
        """
        return KeySet.load(self.keys_dir) if self.keys_dir.is_dir() else KeySet()

    def rotation_path(self, key_id: str) -> Path:
        """Where the rotation statement from ``key_id`` is kept."""
        return self.keys_dir / f"rotation-from-{validate_key_id(key_id)}.json"

    def revocation_path(self, key_id: str) -> Path:
        """Where the revocation statement of ``key_id`` is kept."""
        return self.keys_dir / f"revocation-{validate_key_id(key_id)}.json"

    def rotation_from(self, key_id: str) -> Rotation | None:
        """The rotation statement from ``key_id``, if it has rotated (signatures not checked).

        Raises:
            FormatError: a malformed statement file.
        """
        path = self.rotation_path(key_id)
        if not path.exists():
            return None
        statement = next(iter(load_key_file(path).statements), None)
        if not isinstance(statement, Rotation):
            raise FormatError(f"{path} does not hold a rotation statement")
        return statement

    def signing_key(self, now: datetime) -> PublicKey:
        """The key to sign with at ``now``.

        The current key, or, until a scheduled rotation to it takes effect, the key it
        rotates from.

        Raises:
            KeyAccessError: if no key has been generated yet.
        """
        keys = self.keys()
        key = self.current()
        while True:
            before = next((r for r in keys.rotations if r.to_key.raw == key.raw), None)
            if before is None or before.rotates_at <= now:
                return keys.get(key.key_id) or key
            key = self.get(before.from_key.key_id)

    def record_rotation(self, envelope: dict[str, Any], new_signer_uri: str) -> Rotation:
        """Keep a signed rotation: the new key becomes current, the old record gets ``rotates_at``.

        Written in an order that a rerun can finish: the new key, the statement,
        then the old key's record and the current key.

        Raises:
            KeyAccessError: the old key already rotated to another key.
        """
        rotation = parse_statement(envelope)
        assert isinstance(rotation, Rotation)  # noqa: S101 - built by sign_rotation
        old = self.get(rotation.from_key.key_id)
        done = self.rotation_from(old.key_id)
        if done is not None and done.to_key.raw != rotation.to_key.raw:
            raise KeyAccessError(
                f"{old.key_id} already rotated to {done.to_key.key_id}",
                hint="a key rotates once; rotate the current key instead",
            )
        new = self.keys().get(rotation.to_key.key_id) or PublicKey(
            rotation.to_key.key_id, rotation.to_key.raw, url=old.url
        )
        self.add(new, new_signer_uri)
        if done is None:
            atomic_write(self.rotation_path(old.key_id), cjson.dumps(envelope) + b"\n", mode=0o644)
        self.add(old.with_rotation(rotation.rotates_at), None)
        config = self._config()
        config["current"] = new.key_id
        self._write_config(config)
        return rotation

    def record_revocation(self, envelope: dict[str, Any]) -> Revocation:
        """Keep a signed revocation.

        Raises:
            KeyAccessError: the key is revoked already.
        """
        revocation = parse_statement(envelope)
        assert isinstance(revocation, Revocation)  # noqa: S101 - built by sign_revocation
        path = self.revocation_path(revocation.key.key_id)
        if path.exists():
            raise KeyAccessError(f"{revocation.key.key_id} is revoked already ({path})")
        atomic_write(path, cjson.dumps(envelope) + b"\n", mode=0o644)
        return revocation

    def get(self, key_id: str) -> PublicKey:
        """The local key ``key_id``.

        Raises:
            KeyAccessError: if there is no such key.
        """
        key = self.keys().get(validate_key_id(key_id))
        if key is None:
            raise KeyAccessError(
                f"no key {key_id} in {self.keys_dir}",
                hint="list keys with: pith keys list",
            )
        return key

    def signer_uri(self, key_id: str) -> str:
        """The signer URI recorded for ``key_id``.

        Raises:
            KeyAccessError: if none is recorded.
        """
        uri = self._config()["signers"].get(key_id)
        if not isinstance(uri, str):
            raise KeyAccessError(f"no signer recorded for key {key_id} in {self._config_path}")
        return uri

    def current(self) -> PublicKey:
        """The key new signatures are made with.

        Raises:
            KeyAccessError: if no key has been generated yet.
        """
        current = self._config().get("current")
        if not isinstance(current, str):
            raise KeyAccessError(
                f"no signing key in {self.home}",
                hint="create one with: pith keys generate KEY_ID",
            )
        return self.get(current)

    def add(self, key: PublicKey, signer_uri: str | None, *, make_current: bool = False) -> None:
        """Record ``key`` (and where its private key is); never replace a different key.

        Raises:
            KeyAccessError: a different key has this id, or the URI holds a PIN.
        """
        if signer_uri is not None:
            check_storable(signer_uri)
        existing = self.keys().get(key.key_id)
        if existing is not None and existing.raw != key.raw:
            raise KeyAccessError(f"a different key {key.key_id} exists in {self.keys_dir}")
        atomic_write(
            self.keys_dir / f"{key.key_id}.json", cjson.dumps(key.to_dict()) + b"\n", mode=0o644
        )
        config = self._config()
        if signer_uri is not None:
            config["signers"][key.key_id] = signer_uri
        if make_current or config.get("current") is None:
            config["current"] = key.key_id
        self._write_config(config)

    def list(self) -> list[tuple[PublicKey, str | None, bool]]:
        """(key, signer URI or None, is current) for every local key."""
        config = self._config()
        return [
            (key, config["signers"].get(key.key_id), key.key_id == config.get("current"))
            for key in self.keys()
        ]
