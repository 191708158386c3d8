"""Every signer backend signs and pyca/cryptography verifies; keys are checked before signing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from keyring.backends import fail

from issuer.errors import KeyAccessError
from issuer.keys import PublicKey, SecretsHandler, SeedSigner, Signer

DIGEST = bytes(range(32))
PASSPHRASE = "correct horse battery"


def _secrets(passphrase: str = PASSPHRASE, pin: str = "1234") -> SecretsHandler:
    return lambda name: {"passphrase": passphrase, "pin": pin}[name]


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring backend that keeps secrets in memory (a fake, for tests only)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.entries[(service, username)]


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def _assert_signs(signer: Signer) -> None:
    signature = signer.sign(DIGEST)
    Ed25519PublicKey.from_public_bytes(signer.public_key.raw).verify(signature, DIGEST)


def _reload(uri: str, key: PublicKey, secrets: SecretsHandler | None = None) -> Signer:
    return Signer.from_uri(uri, key, secrets or _secrets())


def test_memory_signer() -> None:
    _assert_signs(SeedSigner("mem", os.urandom(32)))


def test_file_signer_round_trip(tmp_path: Path) -> None:
    uri = f"file:{tmp_path / 'k.pem'}"
    made = Signer.generate_at(uri, "file-key", _secrets())
    path = tmp_path / "k.pem"
    assert path.stat().st_mode & 0o777 == 0o600
    pem = path.read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in pem
    loaded = _reload(uri, made.public_key)
    _assert_signs(loaded)
    assert loaded.sign(DIGEST) == made.sign(DIGEST)


def test_file_signer_refusals(tmp_path: Path) -> None:
    uri = f"file:{tmp_path / 'k.pem'}"
    made = Signer.generate_at(uri, "file-key", _secrets())
    with pytest.raises(KeyAccessError, match="exists already"):
        Signer.generate_at(uri, "file-key", _secrets())
    with pytest.raises(KeyAccessError, match="wrong passphrase"):
        _reload(uri, made.public_key, _secrets(passphrase="not the passphrase"))
    with pytest.raises(KeyAccessError, match="shorter than 8"):
        Signer.generate_at(f"file:{tmp_path / 'k2.pem'}", "k2", _secrets(passphrase="short"))
    (tmp_path / "k.pem").chmod(0o644)
    with pytest.raises(KeyAccessError, match="accessible by others") as loose:
        _reload(uri, made.public_key)
    assert "chmod 600" in loose.value.diagnostics()
    with pytest.raises(KeyAccessError, match="cannot read key file"):
        _reload(f"file:{tmp_path / 'missing.pem'}", made.public_key)


def test_keyring_signer_round_trip(memory_keyring: MemoryKeyring) -> None:
    made = Signer.generate_at("keyring:pith-test/kr-key", "kr-key")
    stored = memory_keyring.entries[("pith-test", "kr-key")]
    assert stored.startswith("pith-ed25519-seed-v1:")
    _assert_signs(_reload("keyring:pith-test/kr-key", made.public_key))
    with pytest.raises(KeyAccessError, match="already holds key"):
        Signer.generate_at("keyring:pith-test/kr-key", "kr-key")
    with pytest.raises(KeyAccessError, match="no key other"):
        _reload("keyring:pith-test/other", PublicKey("other", made.public_key.raw))


def test_no_usable_keyring_is_a_clear_error_never_a_plaintext_fallback() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        with pytest.raises(KeyAccessError, match="no usable keyring") as info:
            Signer.generate_at("keyring:pith/k", "k")
    finally:
        keyring.set_keyring(previous)
    assert "file:PATH" in info.value.diagnostics() and "pkcs11" in info.value.diagnostics()


def test_pkcs11_signer_round_trip(softhsm: str) -> None:
    uri = f"pkcs11:token=pith;object=hsm-key?module-path={softhsm}"
    made = Signer.generate_at(uri, "hsm-key", _secrets())
    _assert_signs(made)
    loaded = _reload(uri, made.public_key)
    _assert_signs(loaded)
    assert loaded.sign(DIGEST) == made.sign(DIGEST)  # Ed25519 is deterministic
    with pytest.raises(KeyAccessError, match="already holds"):
        Signer.generate_at(uri, "hsm-key", _secrets())
    for signer in (made, loaded):
        signer.close()  # type: ignore[attr-defined]
    # With every session closed the token is logged out, so the PIN is checked again.
    with pytest.raises(KeyAccessError, match="cannot open PKCS#11 token"):
        _reload(uri, made.public_key, _secrets(pin="0000"))
    pin_file = Path(softhsm).parent  # any path that is not a PIN file
    with pytest.raises(KeyAccessError, match="cannot read PIN"):
        _reload(uri + f"&pin-source=file:{pin_file / 'nope'}", made.public_key)


@pytest.mark.parametrize("scheme", ["file", "keyring", "pkcs11"])
def test_a_signer_holding_another_key_is_refused(
    scheme: str, tmp_path: Path, memory_keyring: MemoryKeyring, request: pytest.FixtureRequest
) -> None:
    if scheme == "file":
        uri = f"file:{tmp_path / 'k.pem'}"
    elif scheme == "keyring":
        uri = "keyring:pith-test/k"
    else:
        uri = f"pkcs11:token=pith;object=k?module-path={request.getfixturevalue('softhsm')}"
    Signer.generate_at(uri, "k", _secrets())
    other = SeedSigner("k", os.urandom(32)).public_key
    with pytest.raises(KeyAccessError, match="holds key k"):
        _reload(uri, other)


def test_unknown_scheme_and_repr_hide_secrets() -> None:
    with pytest.raises(KeyAccessError, match="unknown signer URI"):
        Signer.from_uri("vault:x", SeedSigner("x", b"\x01" * 32).public_key)
    seed = b"\x07" * 32
    signer = SeedSigner("secret-test", seed)
    text = repr(signer) + str(vars(signer)) + str(signer)
    assert "<redacted>" in text
    assert "\\x07\\x07" not in text and seed.hex() not in text
