"""``file:PATH``: an encrypted PKCS#8 key file.

The file is always encrypted (PKCS#8 with the best encryption pyca/cryptography
offers), written atomically with mode 0600, and refused when it is readable
by anyone but its owner, as OpenSSH refuses a private key with loose
permissions. Like OpenSSH's ``StrictModes``, it is also refused when it is a
symbolic link, or when it or any directory above it could be replaced by
someone else: a directory writable by its group or by everyone (unless it
has the sticky bit, as ``/tmp`` does, which stops others renaming what is
ours). The passphrase comes from the secrets handler: the CLI reads a
passphrase file or descriptor, ``PITH_KEY_PASSPHRASE``, or prompts.
"""

from __future__ import annotations

import os
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
#: The largest key file read. An encrypted PKCS#8 Ed25519 key in PEM is well under 1 KiB.
MAX_KEY_FILE_BYTES = 64 * 1024


def path_of(uri: str) -> Path:
    """``file:PATH`` → PATH (``~`` expanded).

    Raises:
        KeyAccessError: if the URI has no path.
    """
    body = uri.removeprefix(f"{SCHEME}:").removeprefix("//")
    if not body:
        raise KeyAccessError(f"malformed file URI {uri!r}", hint="use file:PATH")
    return Path(body).expanduser()


def check_directories(path: Path) -> None:
    """Refuse a key file whose directory, or any above it, others could write to.

    Symbolic links among the directories are resolved, and the real
    directories checked.

    Raises:
        KeyAccessError: naming the directory, with the ``chmod`` that fixes it.
    """
    directory = Path(os.path.realpath(path.parent))
    for folder in (directory, *directory.parents):
        try:
            mode = folder.stat().st_mode
        except OSError:
            continue  # a directory that does not exist yet is made by us, mode 0700
        if mode & (stat.S_IWGRP | stat.S_IWOTH) and not mode & stat.S_ISVTX:
            raise KeyAccessError(
                f"key file {path} is in {folder}, which others can write to "
                f"(mode {stat.S_IMODE(mode):o}): they could replace the key file",
                hint=f"chmod go-w {folder}, or keep the key in a directory only you can write",
            )


def _write_new(path: Path, data: bytes) -> None:
    """Write a new key file, mode 0600, atomically and durably; never replace one.

    The file is written whole under a temporary name, then linked to ``path``,
    which fails if ``path`` exists: of two commands making the same key file,
    one wins and the other is refused, and neither key is lost.

    Raises:
        KeyAccessError: the file exists already, or cannot be written.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        atomic_write(tmp, data, mode=0o600)
        os.link(tmp, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except FileExistsError as e:
        raise KeyAccessError(
            f"key file {path} exists already; refusing to overwrite a signing key"
        ) from e
    except OSError as e:
        raise KeyAccessError(f"cannot write key file {path}: {e.strerror}") from e
    finally:
        tmp.unlink(missing_ok=True)


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
        check_directories(path)
        try:
            # O_NOFOLLOW: the file checked is the file read, never where a link points.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            if path.is_symlink():
                raise KeyAccessError(
                    f"key file {path} is a symbolic link; refusing to follow it",
                    hint=f"point the signer at the file itself: file:{path.resolve()}",
                ) from e
            raise KeyAccessError(f"cannot read key file {path}: {e.strerror}") from e
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # checked before fdopen, which refuses a directory
            os.close(fd)
            raise KeyAccessError(f"key file {path} is not a regular file")
        with os.fdopen(fd, "rb") as f:
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyAccessError(
                    f"key file {path} is accessible by others "
                    f"(mode {stat.S_IMODE(info.st_mode):o})",
                    hint=f"chmod 600 {path}",
                )
            data = f.read(MAX_KEY_FILE_BYTES + 1)
        if len(data) > MAX_KEY_FILE_BYTES:
            raise KeyAccessError(
                f"key file {path} is larger than any key file ({MAX_KEY_FILE_BYTES >> 10} KiB): "
                "not an encrypted PKCS#8 key",
                hint="point the signer at the key file `pith keys generate` wrote",
            )
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
        check_directories(path)
        if path.exists() or path.is_symlink():
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
        _write_new(path, pem)
        seed = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return cls(key_id, seed)
