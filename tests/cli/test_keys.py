"""``pith keys``: generate, list, show, export; secrets never reach output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from issuer.cli import app
from issuer.keys import PublicKey
from issuer.keys.keyset import KeySet

runner = CliRunner()
PASSPHRASE = "a long test passphrase"


def _run(home: Path, *args: str, **env: str) -> Any:
    return runner.invoke(
        app, ["--home", str(home), *args], env={"PITH_KEY_PASSPHRASE": PASSPHRASE, **env}
    )


def test_generate_list_show_export(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key_file = tmp_path / "k1.pem"
    made = _run(home, "keys", "generate", "dev-k1", "--signer", f"file:{key_file}", "--json")
    assert made.exit_code == 0, made.stderr
    record = json.loads(made.stdout)["key"]
    key = PublicKey.from_dict(record)
    assert (home / "keys" / "dev-k1.json").is_file()
    assert PASSPHRASE not in made.stdout + made.stderr
    assert key_file.read_bytes().decode().split("\n")[1] not in made.stdout + made.stderr

    listed = json.loads(_run(home, "keys", "list", "--json").stdout)
    assert {r["key_id"]: r["source"] for r in listed} == {
        "dev-k1": "local",
        "pith-v1-2026-05": "trusted (shipped)",
    }
    assert next(r for r in listed if r["key_id"] == "dev-k1")["current"] is True

    shown = _run(home, "keys", "show", "dev-k1")
    assert json.loads(shown.stdout) == record
    assert (
        json.loads(_run(home, "keys", "show", "pith-v1-2026-05").stdout)["fingerprint_sha256_hex"]
        == "8d4b5ee74e4693bcd1df2446408b0d54"
    )

    out = tmp_path / "pith-signing-key.json"
    assert _run(home, "keys", "export", "--out", str(out)).exit_code == 0
    assert [k.key_id for k in KeySet.load(out)] == ["dev-k1"]
    assert key.fingerprint in out.read_text()


def test_generate_refuses_to_overwrite(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _run(home, "keys", "generate", "dev-k1", "--signer", f"file:{tmp_path / 'a.pem'}")
    assert first.exit_code == 0
    again = _run(home, "keys", "generate", "dev-k1", "--signer", f"file:{tmp_path / 'b.pem'}")
    assert again.exit_code == 3
    assert "exists already" in again.stderr


def test_invalid_key_id_is_a_usage_error(tmp_path: Path) -> None:
    result = _run(tmp_path, "keys", "generate", "Bad Key")
    assert result.exit_code == 2
    assert "invalid key id" in result.stderr


def test_missing_passphrase_without_a_terminal_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "--home",
            str(tmp_path),
            "keys",
            "generate",
            "k",
            "--signer",
            f"file:{tmp_path / 'k.pem'}",
        ],
        env={"PITH_KEY_PASSPHRASE": ""},
    )
    assert result.exit_code == 3
    assert "PITH_KEY_PASSPHRASE" in result.stderr


def test_show_unknown_and_export_empty(tmp_path: Path) -> None:
    assert _run(tmp_path, "keys", "show", "nope").exit_code == 3
    empty = _run(tmp_path, "keys", "export")
    assert empty.exit_code == 3 and "no local keys" in empty.stderr


def test_pkcs11_pin_value_is_never_stored(tmp_path: Path, softhsm: str) -> None:
    uri = f"pkcs11:token=pith;object=hsm-k?module-path={softhsm}&pin-value=1234"
    result = _run(tmp_path, "keys", "generate", "hsm-k", "--signer", uri)
    assert result.exit_code == 3
    assert "PIN" in result.stderr and "1234" not in result.stderr
    assert not (tmp_path / "signers.json").exists()
    import pkcs11

    token = pkcs11.lib(softhsm).get_token(token_label="pith")
    with token.open(user_pin="1234") as session:
        assert not list(session.get_objects()), "no key may be made with a URI that is refused"
