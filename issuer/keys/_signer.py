"""One signing interface for every place a private key can live, chosen by URI.

``Signer.from_uri("keyring:…" | "file:…" | "pkcs11:…", public_key, secrets)``
dispatches through :data:`SIGNER_SCHEMES`, which ``issuer.keys`` fills in
(the PKCS#11 backend is imported only when used). Every signer is checked
against the public key the caller trusts before it signs anything: the key
it holds must be that key, and a test signature must verify.

The library never prompts. It asks a :data:`SecretsHandler` for a secret by
name (``"passphrase"``, ``"pin"``); the CLI passes one that reads an
environment variable or asks on the terminal.
"""

from __future__ import annotations

import logging
import os
import re
import resource
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import nacl.bindings

from issuer.errors import KeyAccessError, SigningError
from issuer.keys._ed25519 import SIGNATURE_SIZE, verify
from issuer.keys._public import PublicKey, validate_key_id

logger = logging.getLogger(__name__)

SecretsHandler = Callable[[str], str]
"""Returns the secret called ``name`` (``"passphrase"``, ``"pin"``), e.g. by prompting."""

SEED_SIZE = 32
_PIN_VALUE = re.compile(r"(pin-value=)[^;&]*")


def shown_uri(signer_uri: str) -> str:
    """``signer_uri`` as a message or prompt may show it: a PIN in it is masked."""
    return _PIN_VALUE.sub(r"\1***", signer_uri)


def no_secrets(name: str) -> str:
    """A secrets handler for non-interactive use: there are none to give.

    Raises:
        KeyAccessError: always.
    """
    raise KeyAccessError(f"a {name} is needed and none was given")


def disable_core_dumps() -> None:
    """Stop this process from writing core dumps, which could hold key material."""
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):  # pragma: no cover - not permitted on this system
        logger.warning("could not disable core dumps")


class Signer(ABC):
    """Makes Ed25519 signatures with one key, wherever the private key lives."""

    scheme: ClassVar[str]

    def __init__(self, public_key: PublicKey) -> None:
        self.public_key = public_key

    def __repr__(self) -> str:  # never the key material
        return f"{type(self).__name__}(key_id={self.public_key.key_id!r})"

    @property
    def key_id(self) -> str:
        """The id of the key this signer signs with."""
        return self.public_key.key_id

    @abstractmethod
    def _sign(self, message: bytes) -> bytes:
        """Backend signature over ``message``."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing open
        """Release what the backend holds open (a token session); in-memory seeds need nothing."""

    def __enter__(self) -> Signer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` (a 32-byte digest in every Pith format).

        Raises:
            SigningError: if the backend fails or returns something that is not a signature.
        """
        try:
            signature = self._sign(message)
        except (KeyAccessError, SigningError):
            raise
        except Exception as e:
            raise SigningError(f"{self.scheme} signer for {self.key_id} failed: {e}") from e
        if len(signature) != SIGNATURE_SIZE:
            raise SigningError(f"{self.scheme} signer returned {len(signature)} bytes")
        return signature

    def check(self, expected: PublicKey) -> None:
        """Refuse to sign unless this signer holds ``expected`` and its signatures verify.

        Raises:
            KeyAccessError: if the key differs from the one the caller trusts.
        """
        if expected.raw != self.public_key.raw or expected.key_id != self.public_key.key_id:
            raise KeyAccessError(
                f"the {self.scheme} signer holds key {self.public_key.key_id} "
                f"({self.public_key.fingerprint}), not {expected.key_id} ({expected.fingerprint})",
                hint="check the signer URI: it must point at the private key of that key id",
            )
        challenge = os.urandom(32)
        if not verify(expected.raw, challenge, self.sign(challenge)):
            raise KeyAccessError(
                f"the {self.scheme} signer for {expected.key_id} makes signatures that "
                "do not verify under its public key"
            )

    @classmethod
    @abstractmethod
    def load(cls, uri: str, public_key: PublicKey, secrets: SecretsHandler) -> Signer:
        """Open the private key of ``public_key`` that ``uri`` names."""

    @classmethod
    @abstractmethod
    def generate(cls, uri: str, key_id: str, secrets: SecretsHandler) -> Signer:
        """Create a new key at ``uri`` named ``key_id``; never overwrite an existing one."""

    @staticmethod
    def from_uri(uri: str, public_key: PublicKey, secrets: SecretsHandler = no_secrets) -> Signer:
        """The checked signer for ``public_key`` at ``uri``.

        Raises:
            KeyAccessError: unknown scheme, key unavailable, or not the expected key.
        """
        signer = signer_class(uri).load(uri, public_key, secrets)
        try:
            signer.check(public_key)
        except BaseException:
            signer.close()
            raise
        return signer

    @staticmethod
    def generate_at(uri: str, key_id: str, secrets: SecretsHandler = no_secrets) -> Signer:
        """Generate a new key named ``key_id`` at ``uri``.

        Raises:
            KeyAccessError: unknown scheme, backend unavailable, or the key exists already.
        """
        validate_key_id(key_id)
        signer = signer_class(uri).generate(uri, key_id, secrets)
        try:
            signer.check(signer.public_key)
        except BaseException:
            signer.close()
            raise
        return signer


SIGNER_SCHEMES: dict[str, Callable[[], type[Signer]]] = {}
"""URI scheme → loader of its Signer class; filled in by ``issuer.keys``."""


def signer_class(uri: str) -> type[Signer]:
    """The Signer class for ``uri``'s scheme.

    Raises:
        KeyAccessError: if the scheme is unknown or its backend is not installed.
    """
    scheme, sep, _ = uri.partition(":")
    if not sep or scheme not in SIGNER_SCHEMES:
        # Only the scheme, when there is one: a PIN may follow it, spelled any way.
        raise KeyAccessError(
            f"unknown signer URI scheme {scheme!r}"
            if sep
            else f"unknown signer URI {shown_uri(uri)!r}",
            hint="use keyring:SERVICE/KEY_ID, file:PATH or pkcs11:… (RFC 7512)",
        )
    return SIGNER_SCHEMES[scheme]()


class _Secret:
    """Holds key bytes so that no repr, vars() or traceback shows them."""

    __slots__ = ("value",)

    def __init__(self, value: bytes) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<redacted>"


class SeedSigner(Signer):
    """A signer holding an Ed25519 seed in process memory (libsodium signs).

    The keyring and file backends load their seed and sign through this
    class. Used directly, it is the in-memory signer of tests and benchmarks.
    """

    scheme = "memory"

    def __init__(self, key_id: str, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise KeyAccessError(f"an Ed25519 private key seed is {SEED_SIZE} bytes")
        raw, secret = nacl.bindings.crypto_sign_seed_keypair(seed)
        super().__init__(PublicKey(key_id, raw))
        self._secret = _Secret(secret)

    def _sign(self, message: bytes) -> bytes:
        signed: bytes = nacl.bindings.crypto_sign(message, self._secret.value)
        return signed[:SIGNATURE_SIZE]

    def worker_args(self) -> tuple[str, bytes]:
        """(key id, seed) to rebuild this signer in a worker process of the issuance pipeline.

        The seed goes to the worker over a pipe, never to disk or a log.
        """
        return self.key_id, self._secret.value[:SEED_SIZE]

    @classmethod
    def load(cls, uri: str, public_key: PublicKey, secrets: SecretsHandler) -> Signer:
        """In-memory keys have no URI.

        Raises:
            KeyAccessError: always.
        """
        raise KeyAccessError("in-memory signers are created directly, not from a URI")

    @classmethod
    def generate(cls, uri: str, key_id: str, secrets: SecretsHandler) -> Signer:
        """A fresh random in-memory key (``uri`` is ignored)."""
        return cls(key_id, os.urandom(SEED_SIZE))
