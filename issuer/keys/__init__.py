"""Keys: public key records (§5), signers behind one URI-chosen interface, trusted key sets.

Signer URI schemes are registered here; the PKCS#11 backend is imported only
when a ``pkcs11:`` URI is used, so ``import issuer`` and ``pith --help`` work
without the optional extra.
"""

from __future__ import annotations

from issuer.keys._ed25519 import PointError, check_public_key, verify
from issuer.keys._public import (
    DEFAULT_BASE_URL,
    PublicKey,
    fingerprint_b32,
    fingerprint_hex,
    validate_key_id,
)
from issuer.keys._signer import (
    SIGNER_SCHEMES,
    SecretsHandler,
    SeedSigner,
    Signer,
    no_secrets,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "SIGNER_SCHEMES",
    "PointError",
    "PublicKey",
    "SecretsHandler",
    "SeedSigner",
    "Signer",
    "check_public_key",
    "fingerprint_b32",
    "fingerprint_hex",
    "no_secrets",
    "validate_key_id",
    "verify",
]


def _keyring() -> type[Signer]:
    from issuer.keys._keyring import KeyringSigner  # noqa: PLC0415 - imported when used

    return KeyringSigner


def _file() -> type[Signer]:
    from issuer.keys._file import FileSigner  # noqa: PLC0415 - imported when used

    return FileSigner


def _pkcs11() -> type[Signer]:
    from issuer.keys._pkcs11 import Pkcs11Signer  # noqa: PLC0415 - optional extra

    return Pkcs11Signer


SIGNER_SCHEMES.update({"keyring": _keyring, "file": _file, "pkcs11": _pkcs11})
