"""``--registry`` / ``PITH_REGISTRY`` URLs as an operator types them (#15, item 1).

A scheme the toolkit does not serve is refused with the list of schemes and
never becomes a file; a password is refused on the command line and accepted
from the environment, and no output, error or log line ever shows it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from issuer.cli import app as pith_app
from tests import factory
from tests._pg import PgCluster
from tests.cli._run import PASSPHRASE, ok, pg_tables, pith, runner

SECRET = "s3cret-not-to-be-shown"
UNREACHABLE = f"postgresql://pith:{SECRET}@127.0.0.1:1/x"  # port 1: nothing listens
UNREACHABLE_SHOWN = "postgresql://pith@127.0.0.1:1/x"


def _run(cwd: Path, *args: str, env: dict[str, str | None] | None = None) -> Any:
    """``pith ARGS`` in-process (in ``cwd``, the fixture's directory), with a home outside it."""
    home = cwd.parent / "home"
    return runner.invoke(
        pith_app,
        list(args),
        env={
            "PITH_HOME": str(home),
            "PITH_KEY_PASSPHRASE": PASSPHRASE,
            "PITH_REGISTRY": None,
            **(env or {}),
        },
    )


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (restored after the test): nothing may appear in it."""
    where = tmp_path / "cwd"
    where.mkdir()
    monkeypatch.chdir(where)
    return where


def _signing_key(cwd: Path) -> None:
    """Key k1 in the home of :func:`_run` (its file beside ``cwd``, not in it)."""
    ok(_run(cwd, "keys", "generate", "k1", "--signer", f"file:{cwd.parent / 'k1.p8'}"))


def _error_lines(result: Any) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]


# -- unknown schemes -------------------------------------------------------------------

UNKNOWN_SCHEMES = {
    "mysql": "mysql://x/y",
    "postgres:/ (one slash)": "postgres:/typo",
    "postgresql: (no slashes)": "postgresql:typo",
    "pg://": "pg://host/db",
}
COMMANDS = {
    "issue": ["issue", "{data}"],
    "resolve": ["resolve", "2401.00001"],
    "publish": ["publish", "site", "--base-url", "https://r.example"],
    "reissue": ["reissue"],
}


@pytest.mark.parametrize("url", UNKNOWN_SCHEMES.values(), ids=UNKNOWN_SCHEMES.keys())
@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize("where", ["--registry", "PITH_REGISTRY"])
def test_an_unknown_scheme_is_refused_with_the_schemes_and_creates_nothing(
    cwd: Path, url: str, command: list[str], where: str
) -> None:
    data = factory.snapshot(cwd.parent / "in.json", range(1, 3))
    args = [a.replace("{data}", str(data)) for a in command]
    _signing_key(cwd)  # publish and reissue look for it before they open the registry
    if where == "--registry":
        result = _run(cwd, *args, "--registry", url)
    else:
        result = _run(cwd, *args, env={"PITH_REGISTRY": url})
    assert result.exit_code == 2, result.stderr
    [error] = _error_lines(result)
    assert "unsupported registry URL scheme" in error and url in error
    assert "sqlite:PATH, postgresql://, postgres://" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(cwd.iterdir()) == []  # no ./postgres:/typo, no ./mysql:/x/y
    assert not (cwd.parent / "home" / "registry.sqlite3").exists()


def test_a_path_with_a_colon_is_a_file_when_written_sqlite_path_or_dot_slash(
    cwd: Path, tmp_path: Path
) -> None:
    _signing_key(cwd)
    data = factory.snapshot(tmp_path / "in.json", range(1, 3))
    for given, made in (("sqlite:a:b.sqlite3", "a:b.sqlite3"), ("./c:d.sqlite3", "c:d.sqlite3")):
        issued = ok(_run(cwd, "issue", str(data), "--registry", given, "--json"))
        assert json.loads(issued.stdout)["registry"] == made
        assert (cwd / made).is_file()
        ok(_run(cwd, "resolve", "2401.00002", "--registry", given))


def test_sqlite_path_is_the_registry_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok(pith(home, "keys", "generate", "k1", "--signer", f"file:{tmp_path / 'k1.p8'}"))
    data = factory.snapshot(tmp_path / "in.json", range(1, 3))
    path = tmp_path / "elsewhere.sqlite3"
    for url in (f"sqlite:{path}", f"sqlite://{path}"):
        issued = ok(pith(home, "issue", str(data), "--registry", url, "--json"))
        assert json.loads(issued.stdout)["registry"] == str(path)
        ok(pith(home, "resolve", "2401.00001", "--registry", url))
    assert path.is_file() and not (home / "registry.sqlite3").exists()


# -- PostgreSQL: a database without a registry, an unreachable server -------------------


@pytest.mark.parametrize(
    "args",
    [["resolve", "2401.00001"], ["show", "pith:2024:AAAAAAAAAAAAAAAAAAAAAAAAAA"], ["reissue"]],
    ids=["resolve", "show", "reissue"],
)
def test_a_read_on_a_database_without_a_registry_is_no_registry_and_creates_no_table(
    cwd: Path, pg_url: str, args: list[str]
) -> None:
    _signing_key(cwd)
    result = _run(cwd, *args, "--registry", pg_url)
    assert result.exit_code == 3, result.stderr
    assert _error_lines(result) == [f"ERROR: no registry at {pg_url}"]
    assert "pith issue" in result.stderr  # the hint
    assert pg_tables(pg_url) == []
    assert list(cwd.iterdir()) == []


@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose"])
@pytest.mark.parametrize("args", [["resolve", "2401.00001"], ["issue", "-"]], ids=["read", "issue"])
def test_an_unreachable_server_is_one_store_error_naming_the_url_without_password(
    cwd: Path, args: list[str], verbose: bool
) -> None:
    _signing_key(cwd)
    flags = ["--verbose"] if verbose else []
    result = _run(cwd, *flags, *args, env={"PITH_REGISTRY": UNREACHABLE})
    assert result.exit_code == 3, result.stderr
    [error] = _error_lines(result)
    assert error.startswith(f"ERROR: cannot open registry {UNREACHABLE_SHOWN}: ")
    assert ("Traceback" in result.stderr) == verbose
    assert SECRET not in result.stdout + result.stderr
    assert list(cwd.iterdir()) == []


# -- passwords ------------------------------------------------------------------------

PASSWORD_URLS = {
    "user:password@": UNREACHABLE,
    "postgres:// user:password@": f"postgres://pith:{SECRET}@127.0.0.1:1/x",
    "?password=": f"postgresql://pith@127.0.0.1:1/x?password={SECRET}&sslmode=disable",
    # libpq's user part runs to the first "@" before a "/": a "#" or "?" is in the password.
    "# in password": f"postgresql://pith:{SECRET}#x@127.0.0.1:1/x",
    "? in password": f"postgresql://pith:x?{SECRET}@127.0.0.1:1/x",
    # libpq refuses it, quoting the password: never shown, never a traceback of psycopg's.
    "bad %-escape": f"postgresql://pith:{SECRET}%zz@127.0.0.1:1/x",
}


@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose"])
@pytest.mark.parametrize("url", PASSWORD_URLS.values(), ids=PASSWORD_URLS.keys())
def test_a_password_on_the_command_line_is_refused_without_echoing_it(
    cwd: Path, url: str, verbose: bool
) -> None:
    flags = ["--verbose"] if verbose else []
    result = _run(cwd, *flags, "resolve", "2401.00001", "--registry", url)
    assert result.exit_code == 2, result.stderr
    [error] = _error_lines(result)
    assert "password in --registry" in error
    assert "PGPASSWORD" in result.stderr and "PITH_REGISTRY" in result.stderr  # the hint
    assert SECRET not in result.stdout + result.stderr
    # The same URL from the environment is taken: the server is then not there (exit 3).
    from_env = _run(cwd, *flags, "resolve", "2401.00001", env={"PITH_REGISTRY": url})
    assert from_env.exit_code == 3, from_env.stderr
    [error] = _error_lines(from_env)
    assert error.startswith("ERROR: cannot open registry postgres")
    assert SECRET not in from_env.stdout + from_env.stderr


def _password(cluster: PgCluster) -> str:
    """The ``pith`` role's password, from the cluster's .pgpass (host:port:db:user:password)."""
    return cluster.pgpass.read_text().strip().split(":", 4)[4]


def test_a_password_from_pith_registry_logs_in_and_no_output_or_log_shows_it(
    pg_cluster: PgCluster, pg_url: str, tmp_path: Path
) -> None:
    """Every command, with --verbose logging, in real processes: the password is never printed."""
    password = _password(pg_cluster)
    with_password = pg_url.replace("postgresql://pith@", f"postgresql://pith:{password}@")
    home = tmp_path / "home"
    env = {**os.environ, "PITH_HOME": str(home), "PITH_KEY_PASSPHRASE": PASSPHRASE}
    env["PGPASSFILE"] = str(tmp_path / "no-pgpass")  # the password comes from PITH_REGISTRY
    env["PITH_REGISTRY"] = with_password
    data = factory.snapshot(tmp_path / "in.json", range(1, 4))
    payload = tmp_path / "payload.json"
    payload.write_text('{"orcid": "0000-0002-1825-0097"}')
    outputs: list[str] = []

    def run(*args: str, code: int = 0) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "issuer", "--verbose", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        outputs.append(done.stdout + done.stderr)
        assert done.returncode == code, done.stderr[-2000:].replace(password, "<password>")
        return done.stdout

    run("keys", "generate", "k1", "--signer", f"file:{tmp_path / 'k1.p8'}")
    summary = json.loads(run("issue", str(data), "--workers", "1", "--json"))
    assert summary["issued"] == 3
    assert summary["registry"] == pg_url  # the URL, without the password
    number = json.loads(run("resolve", "2401.00001"))["unique"]
    run("show", number)
    run("event", "add", number, "--type", "author_attestation", "--payload", str(payload))
    run("bundle", number, "--out", str(tmp_path / "bundle.json"))
    run("publish", str(tmp_path / "site"), "--base-url", "https://r.example", "--json")
    run("log", "checkpoint", "--json")
    run("show", number[:-1] + ("A" if number[-1] != "A" else "B"), code=3)  # an error
    env["PITH_REGISTRY"] = with_password.rsplit("/", 1)[0] + "/no_such_database"
    run("resolve", "2401.00001", code=3)  # a connection error from the server
    assert "no_such_database" in outputs[-1]
    assert all(password not in out for out in outputs)
    assert pg_tables(pg_url)  # the registry was made in the database the URL names


@pytest.mark.parametrize(
    "command",
    [["publish", "site", "--base-url", "https://a.example"], ["reissue"], ["log", "checkpoint"]],
    ids=["publish", "reissue", "log checkpoint"],
)
def test_a_bad_registry_url_is_a_usage_error_before_any_key_is_looked_up(
    cwd: Path, command: list[str]
) -> None:
    """No key in the home: the URL is still what is refused (exit 2), not the missing key."""
    result = _run(cwd, *command, "--registry", "mysql://x/y")
    assert result.exit_code == 2, result.stderr
    assert _error_lines(result) == ["ERROR: unsupported registry URL scheme 'mysql' in mysql://x/y"]
    typed = _run(cwd, *command, "--registry", UNREACHABLE)
    assert typed.exit_code == 2, typed.stderr
    assert SECRET not in typed.stderr + typed.stdout
    assert not list(cwd.iterdir())


# -- a file that is not a registry -----------------------------------------------------

NOT_REGISTRIES = {
    "text, 10 bytes": b"hello you\n",
    "text, 8 KiB": b"not a database\n" * 550,
    "SQLite's header cut short": b"SQLite format",
}
# (command, exit code, what an empty file gets): a read finds no registry; only
# `registry migrate`, which exists to create one, makes an empty file a registry.
ON_AN_EMPTY_FILE = {
    "resolve": (["resolve", "2401.00001"], 3, "no registry at"),
    "issue": (["issue", "{data}"], 3, "is an empty file, not a registry"),
    "registry copy (destination)": (["registry", "copy", "{source}", "{file}"], 3, "empty file"),
    "registry migrate": (["registry", "migrate", "--registry", "{file}"], 0, None),
}


def _args(args: list[str], cwd: Path, file: Path) -> list[str]:
    data = factory.snapshot(cwd.parent / "in.json", range(1, 3))
    source = cwd.parent / "source.sqlite3"
    return [a.format(data=data, file=file, source=source) for a in args]


@pytest.mark.parametrize("content", NOT_REGISTRIES.values(), ids=NOT_REGISTRIES.keys())
@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize("where", ["--registry", "PITH_REGISTRY"])
def test_a_file_that_is_not_sqlite_is_refused_by_name_and_left_as_it_is(
    cwd: Path, content: bytes, command: list[str], where: str
) -> None:
    _signing_key(cwd)
    file = cwd.parent / "notes.txt"
    file.write_bytes(content)
    args = _args(command, cwd, file)
    registry = ["--registry", str(file)] if where == "--registry" else []
    env: dict[str, str | None] | None = (
        {"PITH_REGISTRY": str(file)} if where == "PITH_REGISTRY" else None
    )
    result = _run(cwd, *args, *registry, env=env)
    assert result.exit_code == 3, result.stderr
    [error] = _error_lines(result)
    assert error == f"ERROR: {file} is not an SQLite database, so not a registry", error
    assert "Hint: " in result.stderr and "PITH_REGISTRY" in result.stderr
    assert file.read_bytes() == content
    assert sorted(p.name for p in file.parent.glob("notes.txt*")) == ["notes.txt"]


@pytest.mark.parametrize(
    ("args", "code", "error"), ON_AN_EMPTY_FILE.values(), ids=ON_AN_EMPTY_FILE.keys()
)
def test_an_empty_file_is_not_a_registry_until_registry_migrate_makes_it_one(
    cwd: Path, args: list[str], code: int, error: str | None
) -> None:
    _signing_key(cwd)
    ok(_run(cwd, "registry", "migrate", "--registry", str(cwd.parent / "source.sqlite3")))
    file = cwd.parent / "empty.sqlite3"
    file.touch()
    result = _run(cwd, *_args(args, cwd, file), env={"PITH_REGISTRY": str(file)})
    assert result.exit_code == code, result.stderr
    if error is None:  # made a registry: every command takes it from now on
        assert file.stat().st_size > 0
        ok(_run(cwd, "issue", *_args(["{data}"], cwd, file), "--registry", str(file)))
        return
    [line] = _error_lines(result)
    assert error in line and str(file) in line, line
    assert f"pith registry migrate --registry {file}" in result.stderr
    assert file.read_bytes() == b""
    assert sorted(p.name for p in file.parent.glob("empty.sqlite3*")) == ["empty.sqlite3"]
