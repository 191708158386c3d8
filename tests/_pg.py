"""A throwaway PostgreSQL server for the test suite (issue #15).

``PgCluster`` runs ``initdb`` in a fresh temporary directory, starts the server
on 127.0.0.1 on a free port, and hands out a new empty database per test as a
``postgresql://pith@127.0.0.1:PORT/NAME`` URL. The URL carries no password:
libpq reads it from the ``.pgpass`` file that ``env()`` points ``PGPASSFILE`` at.

Authentication is real: TCP connections need the ``pith`` role's password
(``scram-sha-256``); only the superuser ``postgres`` may connect without one,
and only through the Unix socket inside the temporary directory (mode 0700),
which the tests use to create databases. The cluster uses the C locale, so text
sorts bytewise, as in SQLite. ``fsync``, ``full_page_writes`` and
``synchronous_commit`` are off: the data is thrown away, and tests run faster.

``initdb`` refuses to run as root, so under root the server binaries run as the
``postgres`` system user (Debian's ``postgresql`` package creates it). The
binaries come from ``pg_config --bindir`` or the newest
``/usr/lib/postgresql/*/bin``; ``make system-deps`` installs them. Missing
PostgreSQL is a failure, never a skip.

The server is stopped by ``stop()``, by an ``atexit`` hook, and, should pytest
die without running either (SIGKILL, a crash), by a small watchdog process that
waits for the end of a pipe only this process holds and then stops the server
and removes its directory.
"""

from __future__ import annotations

import atexit
import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

INSTALL_HINT = "install Debian's postgresql: make system-deps"
ROLE = "pith"
SUPERUSER = "postgres"
SYSTEM_USER = "postgres"
# The empty database every test database is copied from (see create_database).
TEMPLATE = "pith_template"
HOST = "127.0.0.1"

SETTINGS = {
    "listen_addresses": f"'{HOST}'",
    "max_connections": "200",
    # Throwaway data: durability only costs time here.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}

# The watchdog: blocks until the pipe on stdin closes (this pytest process has
# exited, however it exited), then stops the server and removes its directory.
_WATCHDOG = """
import shutil, subprocess, sys
sys.stdin.buffer.read()
subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
shutil.rmtree(sys.argv[1], ignore_errors=True)
"""


def find_bindir(pg_config: str | None = None, lib_root: Path = Path("/usr/lib/postgresql")) -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Args:
        pg_config: path of ``pg_config``; by default the one on ``PATH``.
        lib_root: where Debian installs one ``NN/bin`` per major version.

    Raises:
        RuntimeError: no PostgreSQL server binaries are installed.
    """
    pg_config = pg_config or shutil.which("pg_config")
    if pg_config is not None:
        # Debian's libpq-dev ships a pg_config whose bindir may lack the server.
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if out and (Path(out) / "initdb").is_file():
            return Path(out)
    versions = [p.parent for p in lib_root.glob("*/bin/initdb")]
    versions.sort(key=lambda b: _version_key(b.parent.name))
    if versions:
        return versions[-1]
    raise RuntimeError(f"PostgreSQL server binaries (initdb) not found: {INSTALL_HINT}")


def _version_key(name: str) -> tuple[int, ...]:
    """``"15"`` → (15,), ``"9.6"`` → (9, 6); anything else sorts first."""
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return ()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


class PgCluster:
    """One PostgreSQL server in a temporary directory, for one test session."""

    def __init__(self, bindir: Path | None = None) -> None:
        self._bindir = bindir
        self._password = secrets.token_urlsafe(24)
        self._root: Path | None = None
        self._port = 0
        self._counter = itertools.count()
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._watchdog_pipe: int | None = None

    def __repr__(self) -> str:
        # Never the password.
        return f"PgCluster(root={self._root}, port={self._port})"

    # -- paths -------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The temporary directory: ``data/``, ``socket/``, ``.pgpass``, ``server.log``."""
        if self._root is None:
            raise RuntimeError("the PostgreSQL cluster is not started")
        return self._root

    @property
    def port(self) -> int:
        """The TCP port the server listens on (127.0.0.1)."""
        return self._port

    @property
    def socket_dir(self) -> Path:
        """Where the server's Unix socket lives (only the admin connection uses it)."""
        return self.root / "socket"

    @property
    def pgpass(self) -> Path:
        """The ``.pgpass`` file holding the ``pith`` role's password (mode 0600)."""
        return self.root / ".pgpass"

    def env(self) -> dict[str, str]:
        """Environment variables a libpq client needs to log in as ``pith``."""
        return {"PGPASSFILE": str(self.pgpass)}

    def url(self, dbname: str) -> str:
        """The URL of ``dbname`` as role ``pith`` over TCP; it holds no password."""
        return f"postgresql://{ROLE}@{HOST}:{self._port}/{dbname}"

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Create the cluster, start the server, create the ``pith`` role.

        Raises:
            RuntimeError: PostgreSQL is not installed, or would not start.
        """
        if self._root is not None:
            return
        bindir = self._bindir or find_bindir()
        self._bindir = bindir
        owner = self._system_user()
        root = Path(tempfile.mkdtemp(prefix="pith-pg-", dir=_scratch()))
        self._root = root
        atexit.register(self.stop)
        try:
            (root / "socket").mkdir()
            if owner is not None:
                # mkdtemp gives 0700: the server's user must own what it writes.
                for path in (root, root / "socket"):
                    os.chown(path, owner.pw_uid, owner.pw_gid)
            self._start_watchdog()
            self._run(
                "initdb",
                "-D",
                str(root / "data"),
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
            )
            self._configure(root / "data")
            self._start_server()
            self._create_role_and_template()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server at once and remove its directory; safe to call twice."""
        root, self._root = self._root, None
        if root is None:
            return
        if (root / "data" / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(root / "data"), "-m", "immediate", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)
        if self._watchdog_pipe is not None:
            os.close(self._watchdog_pipe)
            self._watchdog_pipe = None
        if self._watchdog is not None:
            self._watchdog.wait()
            self._watchdog = None
        atexit.unregister(self.stop)

    def create_database(self) -> str:
        """A new empty database owned by ``pith``; returns its URL (no password in it)."""
        name = f"pith_test_{next(self._counter)}_{secrets.token_hex(4)}"
        with self._admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(ROLE), sql.Identifier(TEMPLATE)
                )
            )
        return self.url(name)

    # -- internals ---------------------------------------------------------

    @staticmethod
    def _system_user() -> pwd.struct_passwd | None:
        """The user the server runs as: ``postgres`` under root, else ourselves (None)."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            raise RuntimeError(
                f"pytest runs as root, and initdb refuses root; there is no "
                f"{SYSTEM_USER!r} system user to run PostgreSQL as: {INSTALL_HINT}"
            ) from None

    def _argv(self, program: str, *args: str) -> list[str]:
        assert self._bindir is not None
        argv = [str(self._bindir / program), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", SYSTEM_USER, "--", *argv]
        return argv

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        """Run a server binary (as ``postgres`` under root), failing with its output."""
        proc = subprocess.run(
            self._argv(program, *args),
            capture_output=True,
            text=True,
            check=False,
            # The server's user may not be able to enter our working directory.
            cwd=self._root or "/",
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL {program} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
            )

    def _start_watchdog(self) -> None:
        read_end, write_end = os.pipe()  # not inherited by other children (PEP 446)
        try:
            self._watchdog = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _WATCHDOG,
                    str(self.root),
                    *self._argv("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop"),
                ],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                # Its own session: a Ctrl-C to pytest's process group does not kill it first.
                start_new_session=True,
                cwd="/",
            )
        finally:
            os.close(read_end)
        self._watchdog_pipe = write_end

    def _configure(self, data: Path) -> None:
        lines = [f"{k} = {v}" for k, v in SETTINGS.items()]
        lines.append(f"unix_socket_directories = '{self.socket_dir}'")
        with (data / "postgresql.conf").open("a") as f:
            f.write("\n# tests/_pg.py\n" + "\n".join(lines) + "\n")
        # Opened for writing, not replaced: the file keeps its owner.
        (data / "pg_hba.conf").write_text(
            "# TYPE DATABASE USER ADDRESS METHOD\n"
            f"local all {SUPERUSER} trust\n"
            f"host all {ROLE} {HOST}/32 scram-sha-256\n"
        )

    def _start_server(self, attempts: int = 5) -> None:
        """``pg_ctl -w start`` on a free port, trying another when the port was taken."""
        log = self.root / "server.log"
        for _ in range(attempts):
            self._port = free_port()
            self._run(
                "pg_ctl",
                "-D",
                str(self.root / "data"),
                "-l",
                str(log),
                "-o",
                f"-p {self._port}",
                "-w",
                "start",
                check=False,
            )
            if (self.root / "data" / "postmaster.pid").exists():
                return
            text = log.read_text(errors="replace") if log.exists() else ""
            if "could not bind" not in text and "already in use" not in text:
                break
        text = log.read_text(errors="replace") if log.exists() else "(no server log)"
        raise RuntimeError(f"PostgreSQL would not start:\n{text[-2000:]}")

    def _admin(self, dbname: str = "postgres") -> psycopg.Connection[TupleRow]:
        """The superuser, through the Unix socket (trust), in autocommit mode."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self._port,
            user=SUPERUSER,
            dbname=dbname,
            autocommit=True,
        )

    def _create_role_and_template(self) -> None:
        with self._admin() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(ROLE), sql.Literal(self._password)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                    sql.Identifier(TEMPLATE), sql.Identifier(ROLE)
                )
            )
        # The password reaches libpq only through this file (never a URL or a log).
        fd = os.open(self.pgpass, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"{HOST}:{self._port}:*:{ROLE}:{self._password}\n")


def _scratch() -> str | None:
    """Where the cluster lives: /dev/shm when there is one, else the temporary directory.

    Removing a disk directory of a few hundred test databases takes tens of
    seconds on a disk mounted with ``discard``; in memory it is instant.
    """
    shm = Path("/dev/shm")  # noqa: S108 - mkdtemp makes a private (0700), unpredictable directory
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None
