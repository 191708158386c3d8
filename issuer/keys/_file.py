"""``file:PATH``: an encrypted PKCS#8 key file.

The file is always encrypted (PKCS#8 with the best encryption pyca/cryptography
offers), written atomically with mode 0600, and refused when it is readable
by anyone but its owner, as OpenSSH refuses a private key with loose
permissions. The passphrase comes from the secrets handler: the CLI reads
``PITH_KEY_PASSPHRASE`` or prompts.
"""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer._fs import atomic_write
from issuer.errors import KeyAccessError
from issuer.keys._public import PublicKey
from issuer.keys._signer import SecretsHandler, SeedSigner, Signer, disable_core_dumps

SCHEME = "file"
MIN_PASSPHRASE = 8


def path_of(uri: str) -> Path:
    """``file:PATH`` → PATH (``~`` expanded).

    Raises:
        KeyAccessError: if the URI has no path.
    """
    body = uri.removeprefix(f"{SCHEME}:").removeprefix("//")
    if not body:
        raise KeyAccessError(f"malformed file URI {uri!r}", hint="use file:PATH")
    return Path(body).expanduser()


def _passphrase(secrets: SecretsHandler, path: Path) -> bytes:
    phrase = secrets("passphrase")
    if len(phrase) < MIN_PASSPHRASE:
        raise KeyAccessError(f"passphrase for {path} is shorter than {MIN_PASSPHRASE} characters")
    return phrase.encode("utf-8")


class FileSigner(SeedSigner):
    """A seed kept in an encrypted PKCS#8 file."""

    scheme = SCHEME

    @classmethod
    def load(cls, uri: str, public_key: PublicKey, secrets: SecretsHandler) -> Signer:
        """Decrypt the key file.

        Raises:
            KeyAccessError: missing file, loose permissions, wrong passphrase, not Ed25519.
        """
        path = path_of(uri)
        disable_core_dumps()
        try:
            info = path.stat()
        except OSError as e:
            raise KeyAccessError(f"cannot read key file {path}: {e.strerror}") from e
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyAccessError(
                f"key file {path} is accessible by others (mode {stat.S_IMODE(info.st_mode):o})",
                hint=f"chmod 600 {path}",
            )
        data = path.read_bytes()
        try:
            key = serialization.load_pem_private_key(data, _passphrase(secrets, path))
        except (ValueError, TypeError) as e:
            # cryptography says "Bad decrypt" or "password was not given"; neither
            # message carries key material.
            raise KeyAccessError(
                f"cannot decrypt key file {path}: wrong passphrase or not an encrypted PKCS#8 key"
            ) from e
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyAccessError(f"key file {path} does not hold an Ed25519 key")
        seed = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return cls(public_key.key_id, seed)

    @classmethod
    def generate(cls, uri: str, key_id: str, secrets: SecretsHandler) -> Signer:
        """Create an encrypted key file (mode 0600); never overwrite one.

        Raises:
            KeyAccessError: the file exists, or the passphrase is too short.
        """
        path = path_of(uri)
        if path.exists():
            raise KeyAccessError(
                f"key file {path} exists already; refusing to overwrite a signing key"
            )
        disable_core_dumps()
        passphrase = _passphrase(secrets, path)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
        try:
            atomic_write(path, pem, mode=0o600)
        except OSError as e:
            raise KeyAccessError(f"cannot write key file {path}: {e.strerror}") from e
        seed = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return cls(key_id, seed)
