"""The operator's key home and the verifier's trust, as library calls (no CLI in between)."""

from __future__ import annotations

import ast
import os
from datetime import timedelta
from pathlib import Path

import pytest

from issuer.errors import KeyAccessError, UsageError, VerificationError
from issuer.keys import SecretsHandler, seen_keys_path, verifier_trust
from issuer.keys.local import LocalKeys
from issuer.reasons import Reason
from tests.factory import T0

PASSPHRASE = "a long test passphrase"
ROOT = Path(__file__).resolve().parents[3]


def _secrets(key_id: str, signer_uri: str, *, new: bool = False) -> SecretsHandler:
    return lambda _: PASSPHRASE


def _home(tmp_path: Path) -> LocalKeys:
    local = LocalKeys(tmp_path / "home")
    local.generate("k1", f"file:{tmp_path / 'k1.pem'}", "https://r.example/k.json", _secrets)
    return local


def _rotate(local: LocalKeys, to: str, **kw: object) -> None:
    local.rotate(
        to,
        signer_uri=f"file:{local.home.parent / (to + '.pem')}",
        at=kw.get("at"),  # type: ignore[arg-type]
        now=kw.get("now", T0),  # type: ignore[arg-type]
        old_secrets=_secrets,
        new_secrets=_secrets,
    )


def test_the_key_to_sign_with_follows_a_scheduled_rotation(tmp_path: Path) -> None:
    local = _home(tmp_path)
    _rotate(local, "k2", at=T0 + timedelta(days=1))
    assert local.current().key_id == "k2"
    assert local.key_to_sign_with(None, T0).key_id == "k1"
    assert local.key_to_sign_with(None, T0 + timedelta(days=1)).key_id == "k2"
    with pytest.raises(KeyAccessError, match="refusing to sign with k1"):
        local.key_to_sign_with("k1", T0 + timedelta(days=2))


def test_rotation_times_are_the_library_s_rules(tmp_path: Path) -> None:
    local = _home(tmp_path)
    with pytest.raises(UsageError, match="in the past"):
        _rotate(local, "k2", at=T0 - timedelta(seconds=1))
    with pytest.raises(UsageError, match="current key already"):
        _rotate(local, "k1")
    _rotate(local, "k2", at=T0 + timedelta(days=2))
    with pytest.raises(UsageError, match="must be after"):
        _rotate(local, "k3", at=T0 + timedelta(days=1))
    with pytest.raises(KeyAccessError, match="rotate first"):
        local.revoke("k1", compromised_since=T0, reason="x", now=T0, secrets=_secrets)


def test_verifier_trust_refuses_a_rollback_and_remembers(tmp_path: Path) -> None:
    local = _home(tmp_path)
    old_keys = tmp_path / "old-k1.json"
    old_keys.write_bytes((local.keys_dir / "k1.json").read_bytes())
    _rotate(local, "k2")
    seen = seen_keys_path(tmp_path / "verifier")
    first = verifier_trust([local.keys_dir], None, seen)
    assert first.remembered and first.not_remembered is None and "k2" in first.keys
    assert verifier_trust([local.keys_dir], None, seen).remembered is False
    with pytest.raises(VerificationError) as rolled_back:
        verifier_trust([old_keys], None, seen)
    assert rolled_back.value.reason == Reason.KEY_ROLLBACK
    # Nothing can be created in /proc/self, not even by root: verifying still works.
    unwritable = verifier_trust([local.keys_dir], None, Path("/proc/self/seen-keys.json"))
    assert unwritable.not_remembered is not None and "k2" in unwritable.keys


def test_no_module_outside_issuer_keys_imports_its_private_modules() -> None:
    offenders = []
    for path in (ROOT / "issuer").rglob("*.py"):
        if path.is_relative_to(ROOT / "issuer" / "keys"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            offenders += [
                f"{path.relative_to(ROOT)}: {n}"
                for n in names
                if n.startswith("issuer.keys._") or n.startswith("issuer.keys.local._")
            ]
    assert offenders == []


def test_a_rotation_interrupted_once_the_new_key_is_made_is_finished_by_running_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between making the new key and signing the statement: the rerun uses that key."""
    local = _home(tmp_path)

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr("issuer.keys.local.sign_rotation", killed)
        with pytest.raises(KeyboardInterrupt):
            _rotate(local, "k2")
    assert local.current().key_id == "k1"
    made = (tmp_path / "k2.pem").read_bytes()
    _rotate(local, "k2")  # not "key file … exists already"
    assert local.current().key_id == "k2"
    assert (tmp_path / "k2.pem").read_bytes() == made
    assert [r.to_key.raw for r in local.keys().rotations] == [local.get("k2").raw]


def test_generate_rotate_and_revoke_leave_no_token_logged_in(tmp_path: Path, softhsm: str) -> None:
    """A PKCS#11 login is the process's: a signer left open lets the next one in without the PIN."""
    from issuer.keys import PublicKey, Signer

    local = LocalKeys(tmp_path / "home")

    def pin(key_id: str, signer_uri: str, *, new: bool = False) -> SecretsHandler:
        return lambda _: "1234"

    def wrong_pin(key_id: str, signer_uri: str, *, new: bool = False) -> SecretsHandler:
        return lambda _: "0000"

    def uri(key_id: str) -> str:
        return f"pkcs11:token=pith;object={key_id}?module-path={softhsm}"

    def refuses_a_wrong_pin(key: PublicKey) -> None:
        with pytest.raises(KeyAccessError, match="PinIncorrect"):
            Signer.from_uri(uri(key.key_id), key, wrong_pin(key.key_id, uri(key.key_id)))

    local.generate("k1", uri("k1"), "https://r.example/k.json", pin)
    refuses_a_wrong_pin(local.get("k1"))
    local.rotate("k2", signer_uri=uri("k2"), at=None, now=T0, old_secrets=pin, new_secrets=pin)
    refuses_a_wrong_pin(local.get("k2"))
    local.revoke("k1", compromised_since=T0, reason="test", now=T0, secrets=pin)
    refuses_a_wrong_pin(local.get("k2"))


def test_the_key_home_is_made_writable_by_its_owner_alone(tmp_path: Path) -> None:
    """Under a umask of 002, keys/ was 775: a group member could add a key that export publishes."""
    previous = os.umask(0o002)
    try:
        local = _home(tmp_path)
    finally:
        os.umask(previous)
    for folder in (local.home, local.keys_dir):
        assert folder.stat().st_mode & 0o077 == 0, oct(folder.stat().st_mode)
