"""Registry URLs: which backend a value names, what is refused, and that no password is shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from issuer.errors import UsageError
from issuer.store import SCHEMES, RegistryUrl, parse_registry_url, redact


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("registry.sqlite3", Path("registry.sqlite3")),
        ("/srv/pith/registry.sqlite3", Path("/srv/pith/registry.sqlite3")),
        ("sqlite:registry.sqlite3", Path("registry.sqlite3")),
        ("sqlite:///srv/pith/r.sqlite3", Path("/srv/pith/r.sqlite3")),
        ("sqlite:odd:name", Path("odd:name")),
        ("./odd:name", Path("odd:name")),
        (" registry.sqlite3 ", Path("registry.sqlite3")),
    ],
)
def test_paths_and_sqlite_urls_name_a_sqlite_file(value: str, path: Path) -> None:
    url = parse_registry_url(value)
    assert url.is_sqlite
    assert url.path == path
    assert url.conninfo is None
    assert url.display == str(path)


def test_a_home_relative_path_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/operator")
    assert parse_registry_url("~/r.sqlite3").path == Path("/home/operator/r.sqlite3")
    assert parse_registry_url(Path("~/r.sqlite3")).path == Path("/home/operator/r.sqlite3")


@pytest.mark.parametrize(
    "value",
    ["postgresql://pith@db.example/pith", "postgres://db.example/pith", "postgresql:///pith"],
)
def test_postgresql_urls_name_a_server(value: str) -> None:
    url = parse_registry_url(value, from_command_line=True)
    assert not url.is_sqlite
    assert url.path is None
    assert url.conninfo == value
    assert url.display == value


@pytest.mark.parametrize(
    ("value", "scheme"),
    [
        ("mysql://db/pith", "mysql"),
        ("postgres:/db/pith", "postgres"),  # one slash short: never a file under ./postgres:
        ("postgresql:db", "postgresql"),
        ("sqlite3:r.db", "sqlite3"),
        ("https://registry.example/pith", "https"),
    ],
)
def test_an_unknown_scheme_is_refused_with_the_list_of_schemes(value: str, scheme: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_registry_url(value)
    assert f"unsupported registry URL scheme {scheme!r}" in caught.value.message
    for known in SCHEMES:
        assert known in (caught.value.hint or "")


def test_sqlite_needs_a_path() -> None:
    with pytest.raises(UsageError, match="needs a path"):
        parse_registry_url("sqlite:")


@pytest.mark.parametrize(
    "value",
    [
        "postgresql://pith:hunter2@db.example/pith",
        "postgres://pith:hunter2@db.example:5432/pith",
        "postgresql://pith@db.example/pith?password=hunter2",
        "postgresql://db.example/pith?sslmode=require&password=hunter2",
        "postgresql://:hunter2@db.example/pith",
        # libpq's user part runs to the first "@" before any "/": "?" and "#" are in it.
        "postgresql://pith:hun#ter2@db.example/pith",
        "postgresql://pith:hun?ter2@db.example/pith",
        "postgresql://pith?x@db.example/pith?password=hunter2",
        "postgresql://pith@db.example/pith?password=hunter2#x",
    ],
)
def test_a_password_on_the_command_line_is_refused_and_never_shown(value: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_registry_url(value, from_command_line=True)
    assert not {"hunter2", "hun", "ter2"} & set(_words(caught.value.diagnostics()))
    assert "PGPASSWORD" in (caught.value.hint or "")
    # The same URL from the environment is taken, and still never shown.
    url = parse_registry_url(value)
    assert url.conninfo == value
    assert not {"hunter2", "hun", "ter2"} & set(_words(url.display))
    assert "db.example" in url.display


@pytest.mark.parametrize(
    "value",
    [
        "postgresql://pith@db.example/pith",
        "postgresql://db.example:5432/pith?sslmode=verify-full",
        "postgresql://h1:5432,h2:5433/pith",
    ],
)
def test_a_url_without_a_password_is_taken_from_the_command_line(value: str) -> None:
    assert parse_registry_url(value, from_command_line=True).conninfo == value


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://pith:s3cret@db/pith", "postgresql://pith@db/pith"),
        (
            "postgresql://pith@db/pith?password=s3cret&sslmode=require",
            "postgresql://pith@db/pith?sslmode=require",
        ),
        ("postgresql://db/pith", "postgresql://db/pith"),
        ("postgresql://a:b:c@db/pith", "postgresql://a@db/pith"),
        ("postgresql://pith:s3#cret@db/pith", "postgresql://pith@db/pith"),
        (
            "postgresql://pith:s3?cret@db/pith?sslmode=require",
            "postgresql://pith@db/pith?sslmode=require",
        ),
        ("postgresql://pith@db/pith?password=s3#cret", "postgresql://pith@db/pith"),
        # Not a user part: libpq reads host "pith", port "x", database "y@db/pith".
        ("postgresql://pith:x/y@db/pith", "postgresql://pith:x/y@db/pith"),
    ],
)
def test_redact_removes_the_password_and_keeps_the_rest(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_a_registry_url_of_neither_kind_shows_nothing_secret() -> None:
    assert RegistryUrl(conninfo="postgresql://u:pw@h/d").display == "postgresql://u@h/d"


def _words(text: str) -> list[str]:
    """The runs of letters and digits in ``text`` (a password's pieces show up as words)."""
    return re.findall(r"[A-Za-z0-9]+", text)
