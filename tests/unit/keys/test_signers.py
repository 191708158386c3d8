"""Every signer backend signs and pyca/cryptography verifies; keys are checked before signing."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
        signer.close()
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


def test_a_key_file_reached_through_a_symlink_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.pem"
    made = Signer.generate_at(f"file:{real}", "file-key", _secrets())
    link = tmp_path / "link.pem"
    link.symlink_to(real)
    with pytest.raises(KeyAccessError, match="symbolic link") as refused:
        _reload(f"file:{link}", made.public_key)
    assert f"file:{real}" in refused.value.diagnostics()
    dangling = tmp_path / "dangling.pem"
    dangling.symlink_to(tmp_path / "nowhere.pem")
    with pytest.raises(KeyAccessError, match="exists already"):
        Signer.generate_at(f"file:{dangling}", "k", _secrets())
    assert not (tmp_path / "nowhere.pem").exists(), "generate must not write through a link"


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777, 0o720])
def test_a_key_file_in_a_directory_others_can_write_is_refused(tmp_path: Path, mode: int) -> None:
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    uri = f"file:{folder / 'k.pem'}"
    made = Signer.generate_at(uri, "file-key", _secrets())
    folder.chmod(mode)
    with pytest.raises(KeyAccessError, match="which others can write to") as refused:
        _reload(uri, made.public_key)
    assert f"chmod go-w {folder}" in refused.value.diagnostics()
    with pytest.raises(KeyAccessError, match="which others can write to"):
        Signer.generate_at(f"file:{folder / 'k2.pem'}", "k2", _secrets())
    folder.chmod(0o1777)  # sticky, like /tmp: others cannot replace what is ours
    _assert_signs(_reload(uri, made.public_key))
    nested = folder / "a" / "b"
    nested.mkdir(parents=True)
    (folder / "a").chmod(0o777)
    with pytest.raises(KeyAccessError, match=f"is in {folder / 'a'},"):
        Signer.generate_at(f"file:{nested / 'k3.pem'}", "k3", _secrets())


SECRET_SERVICE_ROUND_TRIP = """
import base64, json, keyring
from issuer.keys import Signer
made = Signer.generate_at("keyring:pith-test/kr-real", "kr-real")
loaded = Signer.from_uri("keyring:pith-test/kr-real", made.public_key)
assert loaded.sign(bytes(32)) == made.sign(bytes(32))
stored = keyring.get_password("pith-test", "kr-real")
print(json.dumps({
    "backend": type(keyring.get_keyring()).__module__,
    "fingerprint": loaded.public_key.fingerprint,
    "stored": stored.split(":", 1)[1],
}))
"""


def test_keyring_signer_round_trip_on_a_real_secret_service(tmp_path: Path) -> None:
    """gnome-keyring over D-Bus, started here in its own session: what a desktop or server has."""
    needed = [shutil.which(tool) for tool in ("dbus-run-session", "gnome-keyring-daemon")]
    if None in needed:
        pytest.fail("gnome-keyring and dbus are not installed: run `make system-deps`")
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    script = tmp_path / "round_trip.py"
    script.write_text(SECRET_SERVICE_ROUND_TRIP)
    # The daemon's output goes to a file: a daemon outliving the session must not hold our pipes.
    log = tmp_path / "gnome-keyring.log"
    session = (
        'printf "keyring unlock password" | gnome-keyring-daemon --unlock --components=secrets '
        f'>"{log}" 2>&1 && exec "{sys.executable}" "{script}"'
    )
    run = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", session],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(runtime),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:] + log.read_text(errors="replace")[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["backend"] == "keyring.backends.SecretService"
    assert len(base64.b64decode(result["stored"])) == 32
    # The keyring keeps the seed encrypted at rest: it is in no file in plain text.
    for path in home.rglob("*"):
        if path.is_file():
            assert result["stored"].encode() not in path.read_bytes(), path
    assert any(home.rglob("*.keyring")), "the seed went to gnome-keyring's store"


def test_a_key_file_made_meanwhile_is_never_replaced(tmp_path: Path) -> None:
    from issuer.keys._file import _write_new

    path = tmp_path / "k.pem"
    path.write_bytes(b"the other command's key")  # appeared after generate's check
    with pytest.raises(KeyAccessError, match="exists already"):
        _write_new(path, b"our key")
    assert path.read_bytes() == b"the other command's key"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.pem"]


_HUGE_KEY_FILE = """
import resource, sys
sys.path.insert(0, {root!r})
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from issuer.errors import KeyAccessError
from issuer.keys import SeedSigner, Signer
try:
    key = SeedSigner("k", bytes(range(32))).public_key
    Signer.from_uri({uri!r}, key, lambda name: "correct horse battery")
except KeyAccessError as e:
    print(e.message)
"""


def test_a_huge_key_file_is_refused_within_a_memory_limit(tmp_path: Path) -> None:
    """A sparse 8 GiB key file, under a 512 MiB address-space limit: refused, not read whole."""
    path = tmp_path / "k.pem"
    with path.open("wb") as f:
        f.truncate(8 << 30)
    path.chmod(0o600)
    root = str(Path(__file__).resolve().parents[3])
    script = _HUGE_KEY_FILE.format(root=root, limit=512 << 20, uri=f"file:{path}")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"key file {path} is larger than any key file"), done.stdout


# Encrypted PKCS#8 files built field by field, with the key derivation a hostile file names.
_PBES2 = "2a864886f70d01050d"
_PBKDF2 = "2a864886f70d01050c"
_SCRYPT = "2b06010401da47040b"
_HMAC_SHA256 = "2a864886f70d0209"
_AES256_CBC = "60864801650304012a"


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def _int(value: int) -> bytes:
    return _der(2, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _seq(*items: bytes) -> bytes:
    return _der(0x30, b"".join(items))


def _oid(hex_body: str) -> bytes:
    return _der(6, bytes.fromhex(hex_body))


def _encrypted_pkcs8(kdf: str, *cost: int, passphrase: str = PASSPHRASE) -> bytes:
    """An Ed25519 key in encrypted PKCS#8 PEM, its key derived by ``kdf`` at ``cost``.

    Affordable costs encrypt for real; a cost no test could afford gets random
    bytes (the toolkit must refuse the file before deriving anything).
    """
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives import padding as sym_padding
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    salt, iv = os.urandom(16), os.urandom(16)
    sealed = os.urandom(64)
    if kdf == "pbkdf2":
        (iterations,) = cost
        params = _seq(_der(4, salt), _int(iterations), _seq(_oid(_HMAC_SHA256), _der(5, b"")))
        key = None
        if iterations <= 1 << 16:
            key = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(passphrase.encode())
    else:
        n, r, p = cost
        params = _seq(_der(4, salt), _int(n), _int(r), _int(p))
        key = None
        if n * r * p <= 1 << 20:
            key = Scrypt(salt, 32, n, r, p).derive(passphrase.encode())
    if key is not None:
        inner = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        padder = sym_padding.PKCS7(128).padder()
        plain = padder.update(inner) + padder.finalize()
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        sealed = encryptor.update(plain) + encryptor.finalize()
    kdf_id = _seq(_oid(_PBKDF2 if kdf == "pbkdf2" else _SCRYPT), params)
    scheme = _seq(_oid(_PBES2), _seq(kdf_id, _seq(_oid(_AES256_CBC), _der(4, iv))))
    return _pem(_seq(scheme, _der(4, sealed)))


def _pem(der: bytes) -> bytes:
    label = b"ENCRYPTED PRIVATE KEY"
    return b"-----BEGIN %s-----\n%s-----END %s-----\n" % (label, base64.encodebytes(der), label)


def _key_file(tmp_path: Path, pem: bytes) -> str:
    path = tmp_path / "k.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    return f"file:{path}"


@pytest.mark.parametrize(
    "cost",
    [
        ("pbkdf2", (1 << 31) - 1),  # rounds: minutes of CPU
        ("pbkdf2", (1 << 32) - 1),  # a count pyca/cryptography panics on
        ("pbkdf2", 1 << 200),  # more than any machine integer
        ("scrypt", 1 << 40, 8, 1),  # memory: 128 * r * N bytes, a petabyte
        ("scrypt", 1 << 14, 8, 1 << 12),  # work: N * r * p, the memory stays small
        ("scrypt", 1 << 14, 1 << 20, 1),  # memory through r
    ],
    ids=["pbkdf2-rounds", "pbkdf2-u32", "pbkdf2-bignum", "scrypt-n", "scrypt-p", "scrypt-r"],
)
def test_a_key_file_naming_a_costly_key_derivation_is_refused_before_deriving(
    tmp_path: Path, cost: tuple[Any, ...]
) -> None:
    """A planted or damaged key file must not make pith hang, or eat the machine's memory."""
    uri = _key_file(tmp_path, _encrypted_pkcs8(*cost))
    key = SeedSigner("k", bytes(range(32))).public_key
    with pytest.raises(KeyAccessError, match="refusing to derive") as refused:
        _reload(uri, key)
    assert str(tmp_path / "k.pem") in refused.value.message


@pytest.mark.parametrize(
    "cost", [("pbkdf2", 2048), ("scrypt", 1 << 14, 8, 1)], ids=["pbkdf2", "scrypt"]
)
def test_a_key_file_other_tools_encrypt_affordably_loads(
    tmp_path: Path, cost: tuple[Any, ...]
) -> None:
    """``openssl genpkey -aes256`` (PBKDF2) and ``openssl pkcs8 -scrypt`` files still load."""
    uri = _key_file(tmp_path, _encrypted_pkcs8(*cost))
    with pytest.raises(KeyAccessError, match="holds key k"):  # decrypted, then checked
        _reload(uri, SeedSigner("k", bytes(range(32))).public_key)


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
        b"-----BEGIN PUBLIC KEY-----\n"
        b"MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
        b"-----END PUBLIC KEY-----\n",
        b"-----BEGIN PRIVATE KEY-----\n"
        b"MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
        b"-----END PRIVATE KEY-----\n",
    ],
    ids=["empty", "truncated", "public-key", "unencrypted"],
)
def test_a_key_file_that_is_no_encrypted_pkcs8_key_is_refused(tmp_path: Path, pem: bytes) -> None:
    uri = _key_file(tmp_path, pem)
    with pytest.raises(KeyAccessError, match="not an encrypted PKCS#8 key"):
        _reload(uri, SeedSigner("k", bytes(range(32))).public_key)


def test_a_key_file_in_legacy_pkcs12_encryption_is_refused_before_deriving(tmp_path: Path) -> None:
    """PBES1 / PKCS#12 encryption (``openssl pkcs8 -v1``) has its own round count: not read."""
    pbe_sha1_3des = "2a864886f70d010c0103"
    params = _seq(_der(4, os.urandom(8)), _int((1 << 31) - 1))
    der = _seq(_seq(_oid(pbe_sha1_3des), params), _der(4, os.urandom(64)))
    uri = _key_file(tmp_path, _pem(der))
    with pytest.raises(KeyAccessError, match="not an encrypted PKCS#8 key: not PBES2") as refused:
        _reload(uri, SeedSigner("k", bytes(range(32))).public_key)
    assert "openssl pkcs8 -topk8 -v2" in refused.value.diagnostics()


def test_generate_makes_missing_key_directories_only_the_owner_can_write(tmp_path: Path) -> None:
    """With a umask of 002 (a user's default on Debian), new folders would be 775: refused later."""
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    uri = f"file:{folder / 'a' / 'b' / 'k.pem'}"
    previous = os.umask(0o002)
    try:
        made = Signer.generate_at(uri, "k", _secrets())
    finally:
        os.umask(previous)
    for made_dir in (folder / "a", folder / "a" / "b"):
        assert made_dir.stat().st_mode & 0o777 == 0o700, made_dir
    _assert_signs(_reload(uri, made.public_key))


@pytest.mark.parametrize(
    "uri",
    [
        "pkcs-11:token=pith;object=k?module-path=/m.so&pin-value=839201",
        "pkcs11 :token=pith;object=k;pin-value=839201",
        "keyring:pith?pin-value=839201",
    ],
    ids=["typo-scheme", "space-in-scheme", "keyring"],
)
def test_a_pin_in_a_signer_uri_never_reaches_an_error(uri: str) -> None:
    with pytest.raises(KeyAccessError) as refused:
        Signer.from_uri(uri, SeedSigner("k", bytes(range(32))).public_key, _secrets())
    assert "839201" not in refused.value.diagnostics()


def test_a_pin_source_that_is_no_pin_file_is_the_toolkits_error(tmp_path: Path) -> None:
    from issuer.keys._pkcs11 import _pin, parse

    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00 not text")
    huge = tmp_path / "huge"
    with huge.open("wb") as f:
        f.truncate(8 << 30)  # sparse: nothing is read past the limit
    for source in (binary, huge):
        parsed = parse(f"pkcs11:token=t;object=k?module-path=/m.so&pin-source=file:{source}")
        with pytest.raises(KeyAccessError, match=f"PIN from {source}"):
            _pin(parsed, _secrets())
