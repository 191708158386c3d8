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
