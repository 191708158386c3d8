"""Running ``pith`` in-process against one registry home, as an operator's shell would."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import pty
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from issuer.cli import app

runner = CliRunner()
PASSPHRASE = "a long test passphrase"


def pith_env(home: Path) -> dict[str, str]:
    """The environment of an operator working on the registry in ``home``."""
    return {
        "PITH_HOME": str(home),
        "PITH_KEY_PASSPHRASE": PASSPHRASE,
        "PITH_REGISTRY": str(home / "registry.sqlite3"),
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
def http_server(directory: Path) -> Iterator[str]:
    """Serve ``directory`` (followed as a symlink at each request) on 127.0.0.1; its base URL."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
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
