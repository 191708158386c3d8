"""The operator's experience of ``pith`` (#13): one home, one exit-code table, one-line errors.

Every command is run as an operator would, and its exit code, stderr and
files written are checked: ``--home`` alone governs where everything goes;
unwritable outputs and missing registries give one ``ERROR:`` line naming
the path; the exit code of each class of failure is the same for every
command, with or without ``--verbose``. What touches the registry runs on a
SQLite file and on a PostgreSQL database (the ``backend`` fixture).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from issuer.cli import app
from tests import factory
from tests.cli._run import (
    PASSPHRASE,
    issued_home,
    new_registry,
    ok,
    on_postgresql,
    pg_tables,
    pith,
    registry_of,
    sqlite_only,
)
from tests.conftest import BUNDLE_PATH

NOW = "2026-05-17T23:59:22Z"
CASES = Path(__file__).parents[1] / "conformance" / "bundles"


@pytest.fixture
def home(tmp_path: Path, backend: str) -> Path:
    """A registry home with key k1 (a file signer) and three issued records."""
    return issued_home(tmp_path, NOW, versions=2)


def _number(home: Path, arxiv_id: str = "2401.00001") -> str:
    return str(json.loads(ok(pith(home, "resolve", arxiv_id)).stdout)["unique"])


def _unknown(number: str) -> str:
    """A well-formed Pith number that is not in the registry."""
    code = number[10:]
    return number[:10] + ("A" if code[0] != "A" else "B") + code[1:]


# --- (1) --home alone governs everything -------------------------------------------------


def test_home_alone_governs_every_command_and_nothing_is_written_outside(
    tmp_path: Path, backend: str
) -> None:
    """On PostgreSQL the home holds everything but the registry, which is the database."""
    outside = tmp_path / "user"  # HOME and every XDG directory: must stay empty
    outside.mkdir()
    home = tmp_path / "pith-home"
    database = registry_of(home) if on_postgresql() else None
    env: dict[str, str | None] = {
        "HOME": str(outside),
        "XDG_DATA_HOME": str(outside / "data"),
        "XDG_CONFIG_HOME": str(outside / "config"),
        "XDG_CACHE_HOME": str(outside / "cache"),
        "XDG_STATE_HOME": str(outside / "state"),
        "PITH_HOME": None,
        "PITH_REGISTRY": database,
        "PITH_KEY_PASSPHRASE": PASSPHRASE,
    }
    runner = CliRunner()

    def run(*args: str) -> Any:
        return ok(runner.invoke(app, ["--home", str(home), *args], env=env))

    data = factory.snapshot(tmp_path / "in.json", range(1, 3))
    payload = tmp_path / "payload.json"
    payload.write_text('{"orcid": "0000-0002-1825-0097"}')
    site = tmp_path / "site"
    run("keys", "generate", "k1", "--signer", f"file:{home / 'k1.p8'}")
    run("derive", str(data), "--now", NOW)
    run("issue", str(data), "--workers", "1", "--now", NOW)
    number = json.loads(run("resolve", "2401.00001").stdout)["unique"]
    run("show", number)
    run("event", "add", number, "--type", "author_attestation", "--payload", str(payload))
    run("bundle", number, "--out", str(tmp_path / "bundle.json"))
    run("keys", "list")
    run("keys", "show", "k1")
    run("keys", "rotate", "--to", "k2", "--signer", f"file:{home / 'k2.p8'}")
    run("keys", "export")
    run("reissue", "--workers", "1")
    run("publish", str(site), "--base-url", "https://r.example")
    run("verify", str(site), "--keys", str(site / "pith-signing-key.json"))  # remembers k1 → k2
    run("keys", "revoke", "k1", "--compromised-since", NOW, "--reason", "test")

    assert list(outside.rglob("*")) == []
    written = {p.name for p in home.iterdir()}
    assert {"rejects.jsonl", "signers.json", "seen-keys.json"} <= written
    assert ("registry.sqlite3" in written) == (database is None)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bundle.json",
        "in.json",
        "payload.json",
        "pith-home",
        "site",
        "user",
    ]


# --- (3) unwritable output paths ---------------------------------------------------------


def _one_error_line(result: Any, path: Path | str) -> None:
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, result.stderr
    assert str(path) in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert isinstance(result.exception, SystemExit), result.exception


@sqlite_only  # output paths: the registry is a file only in the commands that name it
@pytest.mark.parametrize(
    "command",
    [
        "publish",
        "bundle --out",
        "keys export --out",
        "issue --registry in a missing directory",
        "issue --registry under a file",
        "issue --rejects under a file",
    ],
)
def test_an_unwritable_output_path_is_one_error_line_exit_3(
    home: Path, tmp_path: Path, command: str
) -> None:
    blocker = tmp_path / "a-file"  # root can write anywhere, but not under a regular file
    blocker.write_text("")
    data = str(factory.snapshot(tmp_path / "more.json", range(10, 12)))
    target = blocker / "x"
    args: list[str] = {
        "publish": ["publish", str(target), "--base-url", "https://r.example"],
        "bundle --out": ["bundle", _number(home), "--out", str(target)],
        "keys export --out": ["keys", "export", "--out", str(target)],
        "issue --registry in a missing directory": [
            "issue",
            data,
            "--registry",
            str(tmp_path / "missing" / "registry.sqlite3"),
        ],
        "issue --registry under a file": ["issue", data, "--registry", str(target)],
        "issue --rejects under a file": ["issue", data, "--rejects", str(target)],
    }[command]
    result = pith(home, *args)
    assert result.exit_code == 3, result.stderr
    where = tmp_path / "missing" if "missing" in command else blocker
    _one_error_line(result, where)
    assert not (tmp_path / "missing").exists()


# --- (4) read-only commands never create a registry ---------------------------------------


@pytest.mark.parametrize("command", ["resolve", "show", "bundle", "event add", "publish"])
def test_a_missing_registry_is_an_error_and_is_not_created(
    home: Path, tmp_path: Path, command: str
) -> None:
    number = _number(home)
    payload = tmp_path / "payload.json"
    payload.write_text("{}")
    args = {
        "resolve": ["resolve", "2401.00001"],
        "show": ["show", number],
        "bundle": ["bundle", number],
        "event add": ["event", "add", number, "--type", "note", "--payload", str(payload)],
        "publish": ["publish", str(tmp_path / "site"), "--base-url", "https://r.example"],
    }[command]
    typo = new_registry(tmp_path / "typo" / "registry.sqlite3")  # on PostgreSQL: an empty db
    result = pith(home, *args, "--registry", typo)
    assert result.exit_code == 3, result.stderr
    _one_error_line(result, typo)
    assert f"no registry at {typo}" in result.stderr and "pith issue" in result.stderr
    assert not (tmp_path / "typo").exists()
    if on_postgresql():
        assert pg_tables(typo) == []


def test_verify_creates_no_registry(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert pith(home, "verify", str(BUNDLE_PATH)).exit_code == 0
    assert not (home / "registry.sqlite3").exists()


# --- (5) one exit-code table --------------------------------------------------------------

# (command, class of failure, expected code); {n} is a record, {u} a record not issued.
EXIT_CODES: list[tuple[str, str, list[str], int]] = [
    ("resolve", "ok", ["resolve", "2401.00001"], 0),
    ("resolve", "not found", ["resolve", "2401.09999"], 3),
    ("resolve", "not found (version)", ["resolve", "2401.00001v9"], 3),
    ("resolve", "usage", ["resolve", "hello"], 2),
    ("show", "ok", ["show", "{n}"], 0),
    ("show", "not found", ["show", "{u}"], 3),
    ("show", "usage", ["show", "pith:2024:XX"], 2),
    ("bundle", "not found", ["bundle", "{u}"], 3),
    ("bundle", "usage", ["bundle", "pith:2024:XX"], 2),
    ("keys show", "not found", ["keys", "show", "nope"], 3),
    ("event add", "missing payload", ["event", "add", "{n}", "--type", "x", "--payload", "{m}"], 2),
    ("event add", "refused payload", ["event", "add", "{n}", "--type", "x", "--payload", "{f}"], 1),
    ("event add", "not found", ["event", "add", "{u}", "--type", "x", "--payload", "{p}"], 3),
    ("issue", "missing input", ["issue", "{m}"], 2),
    ("issue", "bad --now", ["issue", "{p}", "--now", "yesterday"], 2),
    ("derive", "missing input", ["derive", "{m}"], 2),
    ("publish", "bad --base-url", ["publish", "{o}", "--base-url", "ftp://x"], 2),
    ("publish", "unwritable", ["publish", "{o}/x", "--base-url", "https://x"], 3),
    ("reissue", "no registry", ["reissue", "--registry", "{m}"], 3),
    ("keys export", "unwritable", ["keys", "export", "--out", "{o}/x"], 3),
    ("keys generate", "bad key id", ["keys", "generate", "Not Valid"], 2),
    ("verify", "ok", ["verify", str(BUNDLE_PATH)], 0),
    ("verify", "refused", ["verify", str(CASES / "unknown_key_fail" / "bundle.json")], 1),
    ("verify", "unreadable", ["verify", "{m}"], 2),
    ("verify", "--keys URL", ["verify", str(BUNDLE_PATH), "--keys", "https://x/k.json"], 2),
]


# The commands that read or write the registry also run on PostgreSQL (without --verbose,
# which only adds a traceback): the exit codes are the same on both backends.
_ON_REGISTRY = {"resolve", "show", "bundle", "event add", "issue", "publish", "reissue"}


def _exit_code_cases() -> list[Any]:
    cases = []
    for command, what, args, code in EXIT_CODES:
        runs = [("sqlite", False), ("sqlite", True)]
        if command in _ON_REGISTRY:
            runs.append(("postgresql", False))
        cases += [
            pytest.param(
                args,
                code,
                verbose,
                backend,
                id=f"{command}: {what}-{'verbose' if verbose else 'plain'}-{backend}",
            )
            for backend, verbose in runs
        ]
    return cases


@pytest.mark.parametrize(
    ("args", "code", "verbose", "backend"), _exit_code_cases(), indirect=["backend"]
)
def test_exit_code_of_each_command_and_failure(
    home: Path, tmp_path: Path, args: list[str], code: int, verbose: bool
) -> None:
    number = _number(home)
    payload = tmp_path / "payload.json"
    payload.write_text('{"orcid": "0000-0002-1825-0097"}')
    floats = tmp_path / "floats.json"
    floats.write_text('{"x": 1.5}')
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    values = {
        "{n}": number,
        "{u}": _unknown(number),
        "{p}": str(payload),
        "{f}": str(floats),
        "{m}": str(tmp_path / "missing.json"),
        "{o}": str(blocker),
    }
    filled = [values.get(a, a.replace("{o}", str(blocker))) for a in args]
    result = pith(home, *(["--verbose"] if verbose else []), *filled)
    assert result.exit_code == code, result.stderr
    assert isinstance(result.exception, SystemExit | None), result.exception
    if code == 3:
        assert "ERROR: " in result.stderr


def test_verbose_adds_the_traceback_and_keeps_the_exit_code(home: Path) -> None:
    unknown = _unknown(_number(home))
    plain, verbose = pith(home, "show", unknown), pith(home, "--verbose", "show", unknown)
    assert plain.exit_code == verbose.exit_code == 3
    assert "Traceback" not in plain.stderr and "Traceback" in verbose.stderr
    assert plain.stderr.startswith(f"ERROR: no record {unknown}")
