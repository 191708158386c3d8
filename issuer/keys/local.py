"""The operator's own keys: public records and the signer URI of each, under a home directory.

``$PITH_HOME`` (default ``$XDG_DATA_HOME/pith``, i.e. ``~/.local/share/pith``) holds
``keys/KEY_ID.json`` (the public key records, as published), the signed
statements ``keys/rotation-from-KEY_ID.json`` and ``keys/revocation-KEY_ID.json``,
and ``signers.json`` (which signer URI holds each private key, and which key
is current). None of these holds a secret: a URI with a ``pin-value`` is refused.

A key rotates at most once (a second rotation from the same key would be a
fork, which verifiers refuse), hence one rotation file per old key.

Every change (generate, rotate, revoke) holds an exclusive lock on
``keys.lock`` in the home for its whole run, from reading the current state
to the last write, and every file is replaced atomically
(:func:`issuer._fs.atomic_write`). Two commands at once cannot interleave: the
second is refused at once with :class:`KeyAccessError`, and the home is
always in a state that one of them left.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

from issuer import cjson
from issuer._fs import atomic_write
from issuer._time import format_seconds
from issuer.errors import FormatError, KeyAccessError, UsageError, VerificationError
from issuer.keys._documents import malformed, read_document
from issuer.keys._public import PublicKey, validate_key_id
from issuer.keys._signer import SecretsHandler, Signer
from issuer.keys._statements import (
    Revocation,
    Rotation,
    parse_statement,
    sign_revocation,
    sign_rotation,
)
from issuer.keys.keyset import KeySet, load_key_file

HOME_ENV = "PITH_HOME"
_MODULE_PATH = re.compile(r"[?&;]module-path=([^&;]*)")
LOCK_FILE = "keys.lock"


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
    """Refuse a signer URI that carries a secret, or names a module by where the command runs.

    Checked before any key is made with it.

    Raises:
        KeyAccessError: if the URI holds a PIN, or names a PKCS#11 module by a relative path.
    """
    if "pin-value=" in signer_uri:
        raise KeyAccessError(
            "refusing to store a signer URI that contains a PIN",
            hint="use pin-source=FILE or PITH_PKCS11_PIN instead of pin-value",
        )
    module = _MODULE_PATH.search(signer_uri)
    if module is not None and "/" in module[1] and not unquote(module[1]).startswith("/"):
        # dlopen resolves it against each later command's directory: another library there runs.
        raise KeyAccessError(
            f"refusing to store a signer URI whose module-path is relative ({module[1]})",
            hint="give the PKCS#11 module's absolute path, e.g. "
            "module-path=/usr/lib/softhsm/libsofthsm2.so",
        )


def storable_uri(signer_uri: str) -> str:
    """``signer_uri`` as it is recorded: no secret in it, a ``file:`` path made absolute.

    A relative key file path would name another file when the next command
    runs from another directory.

    Raises:
        KeyAccessError: if the URI holds a PIN or a relative PKCS#11 module path.
    """
    check_storable(signer_uri)
    scheme, _, body = signer_uri.partition(":")
    if scheme != "file" or not body:
        return signer_uri
    path = body.removeprefix("//")
    return f"file:{os.path.abspath(os.path.expanduser(path))}"


class SecretsFor(Protocol):
    """Makes the secrets handler for one key's signer (the CLI names both in its prompt)."""

    def __call__(self, key_id: str, signer_uri: str, *, new: bool = False) -> SecretsHandler:
        """The handler for ``key_id`` at ``signer_uri``; ``new`` when the key is being made."""


@dataclass(frozen=True)
class RotationDone:
    """What :meth:`LocalKeys.rotate` did."""

    rotation: Rotation
    new_key: PublicKey
    signer_uri: str
    statement: Path


@dataclass(frozen=True)
class RevocationDone:
    """What :meth:`LocalKeys.revoke` did."""

    revocation: Revocation
    signed_by: PublicKey
    statement: Path


class LocalKeys:
    """Read and update the operator's key directory."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.keys_dir = self.home / "keys"
        self._config_path = self.home / "signers.json"
        self._lock_depth = 0

    @contextlib.contextmanager
    def changing(self) -> Iterator[None]:
        """Hold the exclusive lock on the key home (re-entrant within this object).

        Raises:
            KeyAccessError: another process holds it, or the home cannot be locked.
        """
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        path = self.home / LOCK_FILE
        try:
            # keys/ too, not by atomic_write with the umask's mode: under 002 it was
            # group-writable, and a key added there is one `pith keys export` publishes.
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.keys_dir.mkdir(exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise KeyAccessError(f"cannot lock the key home {self.home}: {e.strerror}") from e
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as e:
                raise KeyAccessError(
                    f"another pith command is changing the keys in {self.home}; "
                    "nothing was changed",
                    hint="wait for it to finish, check the result with pith keys list, "
                    "then run this command again if it is still needed",
                ) from e
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0
        finally:
            os.close(fd)  # closing releases the lock, as does the process dying

    def _config(self) -> dict[str, Any]:
        what = "signers file"
        try:
            data = read_document(self._config_path, what)
        except FileNotFoundError:
            return {"current": None, "signers": {}}
        if not isinstance(data, dict) or not isinstance(data.get("signers"), dict):
            raise malformed(self._config_path, what, 'not {"current": …, "signers": {…}}')
        current = data.get("current")
        if current is not None and not isinstance(current, str):
            raise malformed(self._config_path, what, "current is not a key id")
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

    def key_to_sign_with(self, key_id: str | None, now: datetime) -> PublicKey:
        """The key a signature made at ``now`` uses: ``key_id``, else the one signing then.

        A key whose signatures made at ``now`` would not count (rotated away,
        revoked) is refused here, before anything is signed with it.

        Raises:
            KeyAccessError: no such key, or the key cannot sign at ``now``.
        """
        key = self.get(key_id) if key_id else self.signing_key(now)
        try:
            return self.keys().require(key.key_id, key.fingerprint, now)
        except VerificationError as e:
            raise KeyAccessError(
                f"refusing to sign with {key.key_id}: {e.message}",
                hint="sign with the current key (see pith keys list)",
            ) from e

    def generate(
        self, key_id: str, signer_uri: str | None, url: str, secrets: SecretsFor
    ) -> tuple[PublicKey, str]:
        """Make a new key at ``signer_uri`` (default: the keyring) and record it.

        Returns:
            The public key record and the signer URI as recorded.

        Raises:
            KeyAccessError: the key exists, the home is busy, or the signer refuses.
        """
        with self.changing():
            if self.keys().get(key_id) is not None:
                raise KeyAccessError(f"key {key_id} exists already in {self.keys_dir}")
            uri = storable_uri(signer_uri or default_signer_uri(key_id))
            # Closed once used: a PKCS#11 login outlives its signer otherwise (the process's).
            with Signer.generate_at(uri, key_id, secrets(key_id, uri, new=True)) as made:
                key = PublicKey(key_id, made.public_key.raw, url=url)
            self.add(key, uri)
            return key, uri

    def rotate(
        self,
        to: str,
        *,
        signer_uri: str | None,
        at: datetime | None,
        now: datetime,
        old_secrets: SecretsFor,
        new_secrets: SecretsFor,
    ) -> RotationDone:
        """Rotate the current key to ``to`` at ``at`` (default ``now``), signed by both keys.

        ``to`` is generated at ``signer_uri`` (default: the keyring), or, if it
        exists already, opened there (default: where it was recorded). Running
        it again after a crash finishes the rotation.

        Raises:
            UsageError: ``at`` is in the past or not after the rotation into the current key,
                or ``to`` is the current key.
            KeyAccessError: the home is busy, a key or signer is unavailable.
        """
        with self.changing(), contextlib.ExitStack() as opened:
            when = now if at is None else at
            if when < now:
                raise UsageError(
                    "--at is in the past: signatures the key made since would stop counting",
                    hint="after a compromise, rotate now and revoke: pith keys revoke KEY_ID",
                )
            old = self.current()
            if old.key_id == to:
                raise UsageError(f"{to} is the current key already")
            keys = self.keys()
            into_old = next((r for r in keys.rotations if r.to_key.raw == old.raw), None)
            if into_old is not None and when <= into_old.rotates_at:
                raise UsageError(
                    f"--at must be after {format_seconds(into_old.rotates_at)}, when "
                    f"{into_old.from_key.key_id} rotates to {old.key_id}"
                )
            old_uri = self.signer_uri(old.key_id)
            old_signer = opened.enter_context(
                Signer.from_uri(old_uri, old, old_secrets(old.key_id, old_uri))
            )
            existing = keys.get(to)
            if existing is not None:
                uri = storable_uri(signer_uri or self.signer_uri(to))
                new_signer = opened.enter_context(
                    Signer.from_uri(uri, existing, new_secrets(to, uri))
                )
            else:
                uri = storable_uri(signer_uri or default_signer_uri(to))
                new_signer = opened.enter_context(
                    Signer.generate_at(uri, to, new_secrets(to, uri, new=True))
                )
                # Recorded at once: a run that dies before the statement is written
                # leaves a key the rerun opens, not one it refuses to overwrite.
                self.add(PublicKey(to, new_signer.public_key.raw, url=old.url), uri)
            done = self.rotation_from(old.key_id)
            envelope = (
                done.envelope
                if done is not None and done.to_key.raw == new_signer.public_key.raw
                else sign_rotation(old_signer, new_signer, rotates_at=when, issued_at=now)
            )
            rotation = self.record_rotation(envelope, uri)
            new_key = self.get(to)
            return RotationDone(rotation, new_key, uri, self.rotation_path(old.key_id))

    def revoke(
        self,
        key_id: str,
        *,
        compromised_since: datetime,
        reason: str,
        now: datetime,
        secrets: SecretsFor,
    ) -> RevocationDone:
        """Revoke ``key_id``, signed by the key signing at ``now`` (which must be another key).

        Raises:
            UsageError: ``compromised_since`` is in the future, or no reason is given.
            KeyAccessError: the home is busy, ``key_id`` is the key signing now, or is
                revoked already.
        """
        with self.changing():
            if compromised_since > now:
                raise UsageError("--compromised-since is in the future")
            if not reason.strip():
                raise UsageError("--reason must say what happened")
            target = self.get(key_id)
            signing = self.signing_key(now)
            if signing.key_id == key_id:
                raise KeyAccessError(
                    f"{key_id} is the key signing now; a revocation is signed by another key",
                    hint="rotate first: pith keys rotate --to NEW_KEY_ID, then revoke",
                )
            path = self.revocation_path(key_id)
            if path.exists():
                raise KeyAccessError(f"{key_id} is revoked already ({path})")
            uri = self.signer_uri(signing.key_id)
            with Signer.from_uri(uri, signing, secrets(signing.key_id, uri)) as signer:
                envelope = sign_revocation(
                    target,
                    signer,
                    compromised_since=compromised_since,
                    reason=reason,
                    issued_at=now,
                )
            return RevocationDone(self.record_revocation(envelope), signing, path)

    def record_rotation(self, envelope: dict[str, Any], new_signer_uri: str) -> Rotation:
        """Keep a signed rotation: the new key becomes current, the old record gets ``rotates_at``.

        Written in an order that a rerun can finish: the new key, the statement,
        then the old key's record and the current key.

        Raises:
            KeyAccessError: the old key already rotated to another key, or the home is busy.
        """
        with self.changing():
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
                atomic_write(
                    self.rotation_path(old.key_id), cjson.dumps(envelope) + b"\n", mode=0o644
                )
            self.add(old.with_rotation(rotation.rotates_at), None)
            config = self._config()
            config["current"] = new.key_id
            self._write_config(config)
            return rotation

    def record_revocation(self, envelope: dict[str, Any]) -> Revocation:
        """Keep a signed revocation.

        Raises:
            KeyAccessError: the key is revoked already, or the home is busy.
        """
        with self.changing():
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

        A relative ``file:`` path is recorded absolute.

        Raises:
            KeyAccessError: a different key has this id, the URI holds a PIN, or the
                home is busy.
        """
        with self.changing():
            uri = None if signer_uri is None else storable_uri(signer_uri)
            existing = self.keys().get(key.key_id)
            if existing is not None and existing.raw != key.raw:
                raise KeyAccessError(f"a different key {key.key_id} exists in {self.keys_dir}")
            atomic_write(
                self.keys_dir / f"{key.key_id}.json",
                cjson.dumps(key.to_dict()) + b"\n",
                mode=0o644,
            )
            config = self._config()
            if uri is not None:
                config["signers"][key.key_id] = uri
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
