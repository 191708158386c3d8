"""``keyring:SERVICE/KEY_ID``: the seed in the operating system's keyring (the default).

The seed is stored base64-encoded under (SERVICE, KEY_ID) by whatever backend
the ``keyring`` package selects (Secret Service, macOS Keychain, Windows
Credential Locker). Backends that would keep it in plain text, and the
"fail" backend of a machine with none, are refused with a clear error: this
never falls back to plaintext silently.
"""

from __future__ import annotations

import base64
import binascii
import os

import keyring
import keyring.errors

from issuer.errors import KeyAccessError
from issuer.keys._public import PublicKey, validate_key_id
from issuer.keys._signer import (
    SEED_SIZE,
    SecretsHandler,
    SeedSigner,
    Signer,
    disable_core_dumps,
    shown_uri,
)

SCHEME = "keyring"
_PREFIX = "pith-ed25519-seed-v1:"
# Backends that store secrets unencrypted (keyrings.alt's files), or not at all.
_REFUSED_MODULES = {"keyrings.alt.file", "keyring.backends.fail", "keyring.backends.null"}

ALTERNATIVES = (
    "install and unlock a keyring (e.g. gnome-keyring or KWallet over Secret Service), "
    "or use an encrypted key file (--signer file:PATH) or an HSM (--signer pkcs11:…)"
)


def parse(uri: str) -> tuple[str, str]:
    """``keyring:SERVICE/KEY_ID`` → (SERVICE, KEY_ID).

    Raises:
        KeyAccessError: if the URI is malformed.
    """
    body = uri.removeprefix(f"{SCHEME}:")
    service, sep, key_id = body.rpartition("/")
    if not sep or not service or not key_id:
        raise KeyAccessError(
            f"malformed keyring URI {shown_uri(uri)!r}", hint="use keyring:SERVICE/KEY_ID"
        )
    return service, validate_key_id(key_id)


def _backend() -> keyring.backend.KeyringBackend:
    backend = keyring.get_keyring()
    # A chainer tries its backends in turn: every one of them must be acceptable.
    chain = (
        list(getattr(backend, "backends", []))
        if "chainer" in type(backend).__module__
        else [backend]
    )
    if not chain or any(type(b).__module__ in _REFUSED_MODULES for b in chain):
        raise KeyAccessError(
            f"no usable keyring on this machine (keyring selected {type(backend).__name__})",
            hint=ALTERNATIVES,
        )
    return backend


class KeyringSigner(SeedSigner):
    """A seed kept in the OS keyring."""

    scheme = SCHEME

    @classmethod
    def load(cls, uri: str, public_key: PublicKey, secrets: SecretsHandler) -> Signer:
        """Read the seed for ``uri`` from the keyring.

        Raises:
            KeyAccessError: no usable keyring, no such entry, or a corrupt entry.
        """
        service, key_id = parse(uri)
        if key_id != public_key.key_id:
            raise KeyAccessError(
                f"signer URI {shown_uri(uri)!r} names key {key_id}, not {public_key.key_id}"
            )
        disable_core_dumps()
        try:
            stored = _backend().get_password(service, key_id)
        except keyring.errors.KeyringError as e:
            raise KeyAccessError(f"keyring unavailable: {e}", hint=ALTERNATIVES) from e
        if stored is None:
            raise KeyAccessError(
                f"no key {key_id} in keyring service {service!r}",
                hint=f"generate it with: pith keys generate {key_id} --signer {uri}",
            )
        return cls(key_id, _decode(stored, uri))

    @classmethod
    def generate(cls, uri: str, key_id: str, secrets: SecretsHandler) -> Signer:
        """Create a seed and store it in the keyring under (SERVICE, KEY_ID).

        Raises:
            KeyAccessError: no usable keyring, or an entry exists already.
        """
        service, uri_key_id = parse(uri)
        if uri_key_id != key_id:
            raise KeyAccessError(
                f"signer URI {shown_uri(uri)!r} names key {uri_key_id}, not {key_id}"
            )
        disable_core_dumps()
        backend = _backend()
        try:
            if backend.get_password(service, key_id) is not None:
                raise KeyAccessError(
                    f"keyring service {service!r} already holds key {key_id}; refusing to "
                    "overwrite a signing key",
                    hint="choose a new key id; keys are rotated, never replaced",
                )
            seed = os.urandom(SEED_SIZE)
            backend.set_password(service, key_id, _PREFIX + base64.b64encode(seed).decode())
        except keyring.errors.KeyringError as e:
            raise KeyAccessError(f"keyring unavailable: {e}", hint=ALTERNATIVES) from e
        return cls(key_id, seed)


def _decode(stored: str, uri: str) -> bytes:
    try:
        if not stored.startswith(_PREFIX):
            raise ValueError("unknown entry format")
        seed = base64.b64decode(stored[len(_PREFIX) :], validate=True)
    except (ValueError, binascii.Error) as e:
        raise KeyAccessError(f"keyring entry for {shown_uri(uri)} is not a Pith signing key") from e
    if len(seed) != SEED_SIZE:
        raise KeyAccessError(f"keyring entry for {shown_uri(uri)} is not a Pith signing key")
    return seed
