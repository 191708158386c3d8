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
from issuer.keys._seen import SEEN_FILE, Seen, check_rollback, load_seen, remember
from issuer.keys._signer import (
    SIGNER_SCHEMES,
    SecretsHandler,
    SeedSigner,
    Signer,
    no_secrets,
    shown_uri,
)
from issuer.keys._verifier_trust import (
    VerifierTrust,
    seen_keys_path,
    verifier_keys,
    verifier_trust,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "SEEN_FILE",
    "SIGNER_SCHEMES",
    "PointError",
    "PublicKey",
    "SecretsHandler",
    "SeedSigner",
    "Seen",
    "Signer",
    "VerifierTrust",
    "check_public_key",
    "check_rollback",
    "fingerprint_b32",
    "fingerprint_hex",
    "load_seen",
    "no_secrets",
    "remember",
    "seen_keys_path",
    "shown_uri",
    "validate_key_id",
    "verifier_keys",
    "verifier_trust",
    "verify",
]


def _load_keyring() -> type[Signer]:
    from issuer.keys._keyring import KeyringSigner  # noqa: PLC0415 - imported when used

    return KeyringSigner


def _load_file() -> type[Signer]:
    from issuer.keys._file import FileSigner  # noqa: PLC0415 - imported when used

    return FileSigner


def _load_pkcs11() -> type[Signer]:
    from issuer.keys._pkcs11 import Pkcs11Signer  # noqa: PLC0415 - optional extra

    return Pkcs11Signer


# The loaders are not named after the backend modules, whose package attributes
# (issuer.keys._pkcs11, …) they would otherwise shadow until first imported.
SIGNER_SCHEMES.update({"keyring": _load_keyring, "file": _load_file, "pkcs11": _load_pkcs11})
