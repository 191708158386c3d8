"""Running ``pith`` in-process against one registry home, as an operator's shell would."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import pty
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from issuer.cli import app

runner = CliRunner()
PASSPHRASE = "a long test passphrase"


# The backend of the running test's registries (tests/cli/conftest.py ``backend``): None
# for SQLite files, else a function that creates a new PostgreSQL database, returning its URL.
_new_database: Callable[[], str] | None = None
_databases: dict[Path, str] = {}


@contextlib.contextmanager
def postgresql_registries(new_database: Callable[[], str]) -> Iterator[None]:
    """Within this block, every registry home (and :func:`new_registry`) gets its own database."""
    global _new_database  # noqa: PLW0603 - one test at a time per process
    _new_database = new_database
    try:
        yield
    finally:
        _new_database = None
        _databases.clear()


def on_postgresql() -> bool:
    """Whether the running test's registries are PostgreSQL databases."""
    return _new_database is not None


def new_registry(path: Path) -> str:
    """The URL of another registry: the file ``path``, or a new database on PostgreSQL."""
    if _new_database is None:
        return str(path)
    if path not in _databases:
        _databases[path] = _new_database()
    return _databases[path]


def registry_of(home: Path) -> str:
    """The registry of ``home``: its ``registry.sqlite3``, or its own PostgreSQL database."""
    return new_registry(home / "registry.sqlite3")


#: Keep a test that is about SQLite files (paths, the default home) on SQLite only.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def count_rows(url: str, table: str) -> int:
    """Rows of ``table`` in the registry at ``url`` while a ``pith`` process writes it.

    A raw connection, not ``open_store``, which would migrate a registry still being
    created; 0 while the registry or the table does not exist yet.
    """
    if url.startswith("postgresql://"):
        with psycopg.connect(url, autocommit=True) as conn:
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
            if exists is None or not exists[0]:
                return 0
            counted = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608
            return 0 if counted is None else int(counted[0])
    if not Path(url).exists():
        return 0
    db = sqlite3.connect(url, timeout=60)
    try:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608
    except sqlite3.OperationalError:  # the schema is not created yet
        return 0
    finally:
        db.close()


def pg_tables(url: str) -> list[str]:
    """The tables of the PostgreSQL database at ``url`` (its public schema)."""
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
    return [str(name) for (name,) in found]


def pith_env(home: Path) -> dict[str, str]:
    """The environment of an operator working on the registry in ``home``."""
    return {
        "PITH_HOME": str(home),
        "PITH_KEY_PASSPHRASE": PASSPHRASE,
        "PITH_REGISTRY": registry_of(home),
    }


def pith(home: Path, *args: str) -> Any:
    """``pith ARGS`` with ``home`` as the registry home; the click ``Result``."""
    return runner.invoke(app, list(args), env=pith_env(home))


def pith_on_terminal(home: Path, *args: str) -> tuple[int, bytes, bytes]:
    """Run ``pith ARGS`` in a subprocess whose stderr is a terminal (a pty).

    Returns:
        (exit code, stdout, everything drawn on the terminal).
    """
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "issuer", *args],
        env={**os.environ, **pith_env(home), "COLUMNS": "160"},
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    chunks: list[bytes] = []

    def drain() -> None:  # keep reading, or the child blocks on a full terminal buffer
        with contextlib.suppress(OSError):  # EIO once the terminal's last writer is gone
            while chunk := os.read(leader, 65536):
                chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    out, _ = proc.communicate(timeout=120)
    reader.join(timeout=30)
    os.close(leader)
    return proc.returncode, out, b"".join(chunks)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def http_server(
    directory: Path,
    handler_class: type[http.server.SimpleHTTPRequestHandler] = _Quiet,
    **attributes: object,
) -> Iterator[str]:
    """Serve ``directory`` (followed as a symlink at each request) on 127.0.0.1; its base URL.

    ``handler_class`` answers the requests; ``attributes`` are set on the server, for it.
    """
    handler = functools.partial(handler_class, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    for name, value in attributes.items():
        setattr(server, name, value)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def ok(result: Any) -> Any:
    """``result`` of a command that must have succeeded (its stderr shown if not)."""
    assert result.exit_code == 0, result.stderr
    return result


def issued_home(tmp_path: Path, now: str, *, versions: int = 1) -> Path:
    """``tmp_path/home``: key k1 in a file signer and records 1-3 issued at ``now``."""
    from tests import factory

    home = tmp_path / "home"
    ok(pith(home, "keys", "generate", "k1", "--signer", f"file:{tmp_path / 'k1.p8'}"))
    data = factory.snapshot(tmp_path / "in.json", range(1, 4), versions=versions)
    ok(pith(home, "issue", str(data), "--workers", "1", "--now", now))
    return home
