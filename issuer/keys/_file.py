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

Before a passphrase is stretched into a key, the file's key derivation is
read, and one that would cost more than any key file needs is refused:
pyca/cryptography sets no limit, so a planted or damaged file naming 2^31
PBKDF2 rounds, or scrypt with a terabyte of memory, would hang the command
or take the machine's memory (or crash it outright).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
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
#: The most PBKDF2 rounds a key file may ask for (about 1.5 s here; pyca and
#: OpenSSL write 2048, and OWASP's advice for PBKDF2-HMAC-SHA256 is 600,000).
MAX_PBKDF2_ITERATIONS = 10_000_000
#: The most memory scrypt may take (128 * r * N bytes; ``openssl pkcs8 -scrypt``: 16 MiB).
MAX_SCRYPT_MEMORY = 256 << 20
#: The most scrypt work (N * r * p; ``openssl pkcs8 -scrypt``: 2^17, about 0.05 s).
MAX_SCRYPT_WORK = 1 << 22

_PEM = re.compile(
    rb"\A\s*-----BEGIN ENCRYPTED PRIVATE KEY-----\r?\n([A-Za-z0-9+/=\s]*)"
    rb"-----END ENCRYPTED PRIVATE KEY-----\s*\Z"
)
# DER encodings: the tags read, and the object identifiers' contents.
_SEQUENCE, _INTEGER, _OCTET_STRING, _OID = 0x30, 0x02, 0x04, 0x06
_PBES2 = bytes.fromhex("2a864886f70d01050d")  # 1.2.840.113549.1.5.13
_PBKDF2 = bytes.fromhex("2a864886f70d01050c")  # 1.2.840.113549.1.5.12
_SCRYPT = bytes.fromhex("2b06010401da47040b")  # 1.3.6.1.4.1.11591.4.11 (RFC 7914)
_LONG_LENGTH, _MAX_LENGTH_BYTES = 0x80, 3
_SIGN_BIT, _INT64_BYTES, _HUGE = 0x80, 8, 1 << 63  # 8 bytes hold a positive int below 2^63
_REENCRYPT = "openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 600000"


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


def _make_directories(directory: Path) -> None:
    """Make ``directory`` and the folders above it that are missing, mode 0700.

    Not the umask's mode: under a umask of 002 (a user's default on Debian and
    Ubuntu) they would be group-writable, and the key file in them refused
    from then on (:func:`check_directories`).

    Raises:
        OSError: a folder cannot be made.
    """
    missing = []
    for folder in (directory, *directory.parents):
        if os.path.lexists(folder):
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:  # made meanwhile by someone else: checked on every load
            continue


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
        _make_directories(path.parent)
        atomic_write(tmp, data, mode=0o600, parent_exists=True)
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


def _element(data: bytes, tag: int) -> tuple[bytes, bytes]:
    """The contents of the DER element ``tag`` that ``data`` starts with, and what follows it.

    Raises:
        ValueError: another tag, or a length that does not fit.
    """
    if len(data) < 2 or data[0] != tag:  # noqa: PLR2004 - a tag and a length byte
        raise ValueError(f"expected DER tag {tag:#04x}")
    length, rest = data[1], data[2:]
    if length & _LONG_LENGTH:
        size = length & ~_LONG_LENGTH
        if not 0 < size <= _MAX_LENGTH_BYTES or len(rest) < size:
            raise ValueError("a DER length that no key file has")
        length, rest = int.from_bytes(rest[:size], "big"), rest[size:]
    if len(rest) < length:
        raise ValueError("truncated")
    return rest[:length], rest[length:]


def _integer(data: bytes) -> tuple[int, bytes]:
    """A positive DER INTEGER (one of 2^63 or more is :data:`_HUGE`), and what follows it.

    Raises:
        ValueError: not a positive INTEGER.
    """
    contents, rest = _element(data, _INTEGER)
    if not contents or contents[0] & _SIGN_BIT:
        raise ValueError("a cost that is not a positive integer")
    if len(contents) > _INT64_BYTES:
        return _HUGE, rest
    return int.from_bytes(contents, "big"), rest


def _count(value: int) -> str:
    return f"{value:,}" if value < _HUGE else "2^63 or more"


def _kdf_cost(der: bytes) -> str | None:
    """What is too costly in the key derivation of an encrypted PKCS#8 key, or None.

    Raises:
        ValueError: ``der`` is not PBES2 with PBKDF2 or scrypt (RFC 8018, RFC 7914).
    """
    info, _ = _element(der, _SEQUENCE)
    algorithm, _ = _element(info, _SEQUENCE)
    oid, params = _element(algorithm, _OID)
    if oid != _PBES2:
        raise ValueError("not PBES2 encryption")
    pbes2, _ = _element(params, _SEQUENCE)
    kdf, _ = _element(pbes2, _SEQUENCE)
    oid, params = _element(kdf, _OID)
    fields, _ = _element(params, _SEQUENCE)
    _, fields = _element(fields, _OCTET_STRING)  # the salt
    if oid == _PBKDF2:
        rounds, _ = _integer(fields)
        if rounds > MAX_PBKDF2_ITERATIONS:
            return f"{_count(rounds)} PBKDF2 rounds (at most {MAX_PBKDF2_ITERATIONS:,})"
        return None
    if oid != _SCRYPT:
        raise ValueError("a key derivation other than PBKDF2 or scrypt")
    n, fields = _integer(fields)
    r, fields = _integer(fields)
    p, _ = _integer(fields)
    if 128 * r * n > MAX_SCRYPT_MEMORY or n * r * p > MAX_SCRYPT_WORK:
        return (
            f"scrypt with N={_count(n)}, r={_count(r)}, p={_count(p)} (at most "
            f"{MAX_SCRYPT_MEMORY >> 20} MiB of memory, 128*r*N, and N*r*p at most "
            f"{MAX_SCRYPT_WORK:,})"
        )
    return None


def _encrypted_der(data: bytes, path: Path) -> bytes:
    """The DER of the one encrypted PKCS#8 key in ``data``, its key derivation affordable.

    Raises:
        KeyAccessError: not an encrypted PKCS#8 key, or one whose key derivation costs
            more than the limits above.
    """
    match = _PEM.fullmatch(data)
    try:
        if match is None:
            raise ValueError("no single ENCRYPTED PRIVATE KEY block")
        der = base64.b64decode(b"".join(match[1].split()), validate=True)
        too_costly = _kdf_cost(der)
    except (ValueError, binascii.Error) as e:
        raise KeyAccessError(
            f"key file {path} is not an encrypted PKCS#8 key: {e}",
            hint="point the signer at the key file `pith keys generate` wrote, or "
            f"re-encrypt the key: {_REENCRYPT}",
        ) from e
    if too_costly is not None:
        raise KeyAccessError(
            f"key file {path} asks for {too_costly}; refusing to derive its key",
            hint=f"re-encrypt the key with a cheaper key derivation: {_REENCRYPT}",
        )
    return der


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
        der = _encrypted_der(data, path)
        try:
            # The DER decrypted is the DER checked. An RSA key is refused below:
            # checking one (primality tests on a hostile modulus) is wasted time.
            key = serialization.load_der_private_key(
                der, _passphrase(secrets, path), unsafe_skip_rsa_key_validation=True
            )
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
