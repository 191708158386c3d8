"""``pith keys``: generate, list, show, export; secrets never reach output."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from issuer.cli import app
from issuer.errors import KeyAccessError
from issuer.keys import PublicKey, Signer
from issuer.keys.keyset import KeySet
from issuer.keys.local import LocalKeys

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


def test_a_relative_key_file_path_is_stored_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    made = _run(home, "keys", "generate", "k1", "--signer", "file:k1.pem", "--json")
    assert made.exit_code == 0, made.stderr
    absolute = f"file:{tmp_path / 'here' / 'k1.pem'}"
    assert json.loads(made.stdout)["signer"] == absolute
    assert json.loads((home / "signers.json").read_text())["signers"]["k1"] == absolute
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    rotated = _run(home, "keys", "rotate", "--to", "k2", "--signer", "file:../k2.pem")
    assert rotated.exit_code == 0, rotated.stderr  # k1's file is found from another directory
    signers = json.loads((home / "signers.json").read_text())["signers"]
    assert signers["k2"] == f"file:{tmp_path / 'k2.pem'}"


def test_while_another_command_changes_the_keys_every_change_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert (
        _run(home, "keys", "generate", "k1", "--signer", f"file:{tmp_path / 'k1.pem'}").exit_code
        == 0
    )
    before = {p.name: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    commands = [
        ["keys", "generate", "k9", "--signer", f"file:{tmp_path / 'k9.pem'}"],
        ["keys", "rotate", "--to", "k2", "--signer", f"file:{tmp_path / 'k2.pem'}"],
        ["keys", "revoke", "k1", "--compromised-since", "2026-01-01T00:00:00Z", "--reason", "x"],
    ]
    with LocalKeys(home).changing():  # as a concurrent pith keys command would hold it
        for command in commands:
            result = _run(home, *command)
            assert result.exit_code == 3, (command, result.stderr)
            assert "another pith command is changing the keys" in result.stderr
            assert "Hint: wait for it to finish" in result.stderr
    assert {p.name: p.read_bytes() for p in home.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "k9.pem").exists() and not (tmp_path / "k2.pem").exists()


def test_rotate_takes_separate_passphrases_for_the_old_and_new_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    old, new = "old key passphrase", "new key passphrase"
    made = runner.invoke(
        app,
        ["--home", str(home), "keys", "generate", "k1", "--signer", f"file:{tmp_path / 'k1.pem'}"],
        env={"PITH_KEY_PASSPHRASE": old},
    )
    assert made.exit_code == 0, made.stderr
    rotated = runner.invoke(
        app,
        ["--home", str(home), "keys", "rotate", "--to", "k2", "--signer",
         f"file:{tmp_path / 'k2.pem'}", "--now", "2026-07-01T00:00:00Z"],
        env={"PITH_KEY_PASSPHRASE": old, "PITH_NEW_KEY_PASSPHRASE": new},
    )  # fmt: skip
    assert rotated.exit_code == 0, rotated.stderr
    k2 = KeySet.load(home / "keys").get("k2")
    assert k2 is not None
    Signer.from_uri(f"file:{tmp_path / 'k2.pem'}", k2, lambda _: new)
    with pytest.raises(KeyAccessError, match="wrong passphrase"):
        Signer.from_uri(f"file:{tmp_path / 'k2.pem'}", k2, lambda _: old)

    # The same from files, with nothing in the environment.
    (tmp_path / "old.txt").write_text(new + "\n")
    (tmp_path / "new.txt").write_text("third key passphrase\n")
    again = runner.invoke(
        app,
        ["--home", str(home), "keys", "rotate", "--to", "k3", "--signer",
         f"file:{tmp_path / 'k3.pem'}", "--now", "2026-07-02T00:00:00Z",
         "--passphrase-file", str(tmp_path / "old.txt"),
         "--new-passphrase-file", str(tmp_path / "new.txt")],
        env={"PITH_KEY_PASSPHRASE": "", "PITH_NEW_KEY_PASSPHRASE": ""},
    )  # fmt: skip
    assert again.exit_code == 0, again.stderr
    k3 = KeySet.load(home / "keys").get("k3")
    assert k3 is not None
    Signer.from_uri(f"file:{tmp_path / 'k3.pem'}", k3, lambda _: "third key passphrase")
    for secret in (old, new, "third key passphrase"):
        assert secret not in made.output + rotated.output + again.output


def test_a_passphrase_from_a_file_descriptor_and_never_from_argv(tmp_path: Path) -> None:
    home = tmp_path / "home"
    read, write = os.pipe()
    os.write(write, PASSPHRASE.encode() + b"\nnot read\n")
    os.close(write)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "issuer", "--home", str(home), "keys", "generate", "k1",
             "--signer", f"file:{tmp_path / 'k1.pem'}", "--passphrase-fd", str(read)],
            env={k: v for k, v in os.environ.items() if "PASSPHRASE" not in k},
            pass_fds=[read], capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(read)
    assert proc.returncode == 0, proc.stderr
    k1 = KeySet.load(home / "keys").get("k1")
    assert k1 is not None
    Signer.from_uri(f"file:{tmp_path / 'k1.pem'}", k1, lambda _: PASSPHRASE)
    bad = _run(home, "keys", "revoke", "k1", "--compromised-since", "2026-01-01T00:00:00Z",
               "--reason", "x", "--passphrase-fd", "987")  # fmt: skip
    assert bad.exit_code == 3  # k1 signs now: refused before any secret is read
    help_text = _run(home, "keys", "rotate", "--help").stdout
    assert "--passphrase-file" in help_text and "--new-passphrase-fd" in help_text
    assert "--passphrase " not in help_text  # a secret is never an argument


@pytest.mark.parametrize("fd", ["-5", "99999999999999999999"])
def test_a_passphrase_descriptor_that_cannot_be_open_is_the_toolkits_error(
    tmp_path: Path, fd: str
) -> None:
    result = runner.invoke(
        app, ["--home", str(tmp_path), "keys", "generate", "k1",
              "--signer", f"file:{tmp_path / 'k.pem'}", "--passphrase-fd", fd],
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert f"ERROR: cannot read a passphrase from file descriptor {fd}" in result.stderr
    assert not (tmp_path / "k.pem").exists()


def test_without_a_terminal_the_error_names_the_key_and_signer(tmp_path: Path) -> None:
    uri = f"file:{tmp_path / 'k.pem'}"
    result = runner.invoke(
        app, ["--home", str(tmp_path), "keys", "generate", "k7", "--signer", uri],
        env={"PITH_KEY_PASSPHRASE": ""},
    )  # fmt: skip
    assert result.exit_code == 3
    assert f"a passphrase for key k7 ({uri}) is needed" in result.stderr
    assert "--passphrase-fd" in result.stderr


def test_the_passphrase_prompt_names_the_key_and_signer(tmp_path: Path) -> None:
    uri = f"file:{tmp_path / 'k.pem'}"
    code, drawn = _on_terminal(
        [sys.executable, "-m", "issuer", "--home", str(tmp_path / "home"), "keys", "generate",
         "k5", "--signer", uri],
        answers=[PASSPHRASE, PASSPHRASE],
    )  # fmt: skip
    assert code == 0, drawn
    assert f"New passphrase for key k5 ({uri}):" in drawn
    assert f"Repeat the passphrase for key k5 ({uri}):" in drawn
    assert PASSPHRASE not in drawn  # not echoed


def _on_terminal(argv: list[str], answers: list[str]) -> tuple[int, str]:
    """Run ``argv`` with its stdin and stderr on a new terminal; type ``answers`` at prompts.

    A prompt ends in "): " (it names the signer URI, which has colons of its
    own); each answer is typed only once its whole prompt is drawn, because
    getpass discards input typed before it has finished reading.
    """
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if "PASSPHRASE" not in k}
    proc = subprocess.Popen(
        argv, stdin=follower, stdout=subprocess.PIPE, stderr=follower, env=env,
        start_new_session=True,  # no controlling terminal: getpass uses stdin's
    )  # fmt: skip
    os.close(follower)
    drawn = b""
    pending = list(answers)
    try:
        with contextlib.suppress(OSError):  # EIO once the child has closed the terminal
            while True:
                # A safety net, not a measurement: a child stuck at a prompt fails the test.
                ready, _, _ = select.select([leader], [], [], 120)
                if not ready:
                    break
                chunk = os.read(leader, 4096)
                if not chunk:
                    break
                drawn += chunk
                if pending and drawn.count(b"): ") > len(answers) - len(pending):
                    os.write(leader, pending.pop(0).encode() + b"\n")
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=120)
    return proc.returncode, drawn.decode(errors="replace")


def test_malformed_key_home_documents_are_format_errors_naming_the_file(tmp_path: Path) -> None:
    cases = {
        "deep": b"[" * 400 + b"]" * 400,
        "deeper": b"[" * 100_000 + b"]" * 100_000,
        "big integer": b'{"current": ' + b"9" * 5000 + b', "signers": {}}',
        "huge array": b"[" + b",".join([b"1"] * 1_000_000) + b"]",
        "deep object": b'{"a":' * 400 + b"1" + b"}" * 400,
    }
    for name, data in cases.items():
        for where, command in (
            ("signers.json", ["keys", "list"]),
            ("keys/k.json", ["keys", "list"]),
            ("seen-keys.json", ["verify", str(tmp_path / "none.json")]),
        ):
            home = tmp_path / name.replace(" ", "-") / where.replace("/", "-")
            (home / "keys").mkdir(parents=True)
            (home / where).write_bytes(data)
            result = _run(home, *command)
            assert result.exit_code in (1, 2), (name, where, result.output[-500:])
            assert "Traceback" not in result.output, (name, where, result.output[-2000:])
            assert f"{home / where}: malformed" in result.stderr, (name, where, result.stderr)


@pytest.mark.parametrize("command", ["issue", "bundle", "event add", "reissue"])
def test_every_signing_command_reads_the_passphrase_from_a_file(
    tmp_path: Path, command: str
) -> None:
    from tests import factory
    from tests.cli._run import pith

    home = tmp_path / "home"
    made = pith(home, "keys", "generate", "k1", "--signer", f"file:{tmp_path / 'k1.pem'}")
    assert made.exit_code == 0, made.stderr
    data = factory.snapshot(tmp_path / "in.json", range(1, 3))
    assert pith(home, "issue", str(data), "--workers", "1").exit_code == 0
    number = json.loads(pith(home, "resolve", "2401.00001").stdout)["unique"]
    payload = tmp_path / "p.json"
    payload.write_text('{"orcid": "0000-0002-1825-0097"}')
    args = {
        "issue": ["issue", str(data), "--workers", "1"],
        "bundle": ["bundle", number],
        "event add": ["event", "add", number, "--type", "author_attestation", "--payload",
                      str(payload)],
        "reissue": ["reissue"],
    }[command]  # fmt: skip
    no_secret = {"PITH_HOME": str(home), "PITH_KEY_PASSPHRASE": ""}
    refused = runner.invoke(app, args, env=no_secret)
    assert refused.exit_code == 3 and "--passphrase-file" in refused.stderr
    secret = tmp_path / "secret.txt"
    secret.write_text(PASSPHRASE + "\n")
    result = runner.invoke(app, [*args, "--passphrase-file", str(secret)], env=no_secret)
    assert result.exit_code == 0, result.stderr
    assert PASSPHRASE not in result.output


def test_a_relative_pkcs11_module_path_is_never_stored(
    tmp_path: Path, softhsm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recorded, it would load whatever library sits there in the next command's directory."""
    here = tmp_path / "here"
    here.mkdir()
    (here / "module.so").symlink_to(softhsm)
    monkeypatch.chdir(here)
    uri = "pkcs11:token=pith;object=hsm-k?module-path=./module.so"
    result = _run(tmp_path / "home", "keys", "generate", "hsm-k", "--signer", uri,
                  PITH_PKCS11_PIN="1234")  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "module-path" in result.stderr and "absolute" in result.stderr
    assert not (tmp_path / "home" / "signers.json").exists()
