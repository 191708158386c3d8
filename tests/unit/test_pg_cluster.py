"""The throwaway PostgreSQL server the registry tests run against (tests/_pg.py, #15)."""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests._pg import HOST, INSTALL_HINT, ROLE, SUPERUSER, PgCluster, find_bindir

ROOT = Path(__file__).resolve().parents[2]


def test_a_test_database_answers_as_role_pith(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT 1, current_user").fetchone() == (1, ROLE)


def test_each_pg_url_is_a_new_empty_database_owned_by_pith(pg_cluster: PgCluster) -> None:
    first, second = pg_cluster.create_database(), pg_cluster.create_database()
    assert first != second
    for url in (first, second):
        with psycopg.connect(url) as conn:
            tables = conn.execute(
                "SELECT count(*) FROM information_schema.tables"
                " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            ).fetchone()
            owner = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
            ).fetchone()
            assert tables == (0,)
            assert owner == (ROLE,)
            # The owner may create tables in public (PostgreSQL 15 no longer lets anyone).
            conn.execute("CREATE TABLE t (x int)")


def test_the_url_holds_no_password(pg_cluster: PgCluster, pg_url: str) -> None:
    assert "password" not in conninfo_to_dict(pg_url)
    assert pg_cluster._password not in pg_url
    assert pg_cluster._password not in repr(pg_cluster)
    assert os.environ["PGPASSFILE"] == str(pg_cluster.pgpass)
    assert stat.S_IMODE(pg_cluster.pgpass.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        ({"passfile": "/nonexistent/.pgpass"}, "no password supplied"),
        ({"password": "not-the-password"}, "password authentication failed"),
        ({"user": SUPERUSER, "passfile": "/nonexistent/.pgpass"}, "no pg_hba.conf entry"),
    ],
    ids=["no pgpass file", "wrong password", "superuser over TCP"],
)
def test_tcp_logins_need_the_password(pg_url: str, options: dict[str, str], refusal: str) -> None:
    with pytest.raises(psycopg.OperationalError, match=refusal):
        psycopg.connect(make_conninfo(pg_url, **options))


def test_text_sorts_bytewise_in_the_c_collation(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        settings = conn.execute(
            "SELECT datcollate, datctype, pg_encoding_to_char(encoding) FROM pg_database"
            " WHERE datname = current_database()"
        ).fetchone()
        order = conn.execute(
            "SELECT array_agg(x ORDER BY x) FROM unnest(ARRAY['b', 'é', 'a', 'B', 'Z']) AS x"
        ).fetchone()
    assert settings == ("C", "C", "UTF8")
    assert order == (["B", "Z", "a", "b", "é"],)


def test_a_subprocess_inherits_the_login(pg_url: str) -> None:
    code = "import psycopg, sys; print(psycopg.connect(sys.argv[1]).execute('SELECT 7').fetchone())"
    out = subprocess.run(
        [sys.executable, "-c", code, pg_url], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "(7,)"


def test_the_server_runs_as_postgres_under_root_else_as_us(pg_cluster: PgCluster) -> None:
    expected = pwd.getpwnam("postgres").pw_uid if os.geteuid() == 0 else os.geteuid()
    assert (pg_cluster.root / "data").stat().st_uid == expected


def test_find_bindir_takes_the_newest_debian_version(tmp_path: Path) -> None:
    for version in ("9.6", "15", "16", "not-a-version"):
        (tmp_path / version / "bin").mkdir(parents=True)
        (tmp_path / version / "bin" / "initdb").touch()
    no_server = tmp_path / "pg_config"
    no_server.write_text(f"#!/bin/sh\necho {tmp_path / 'missing'}\n")
    no_server.chmod(0o755)
    assert find_bindir(str(no_server), tmp_path) == tmp_path / "16" / "bin"


def test_missing_postgresql_fails_naming_make_system_deps(tmp_path: Path) -> None:
    no_server = tmp_path / "pg_config"
    no_server.write_text(f"#!/bin/sh\necho {tmp_path}\n")
    no_server.chmod(0o755)
    with pytest.raises(RuntimeError, match=INSTALL_HINT):
        find_bindir(str(no_server), tmp_path / "none")


def test_stop_ends_the_server_and_removes_its_directory() -> None:
    cluster = PgCluster()
    cluster.start()
    root, url = cluster.root, cluster.url("postgres")
    cluster.stop()
    cluster.stop()  # twice is harmless
    assert not root.exists()
    with pytest.raises(psycopg.OperationalError, match="refused"):
        psycopg.connect(url, passfile="/nonexistent/.pgpass")


def test_a_killed_pytest_leaves_no_server_behind() -> None:
    # os._exit skips atexit and finalizers, as SIGKILL would: the watchdog must clean up.
    code = (
        "import os, sys; from tests._pg import PgCluster\n"
        "c = PgCluster(); c.start()\n"
        "print(c.root, c.port, c._watchdog.pid, flush=True)\n"
        "os._exit(1)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    root, port, watchdog = out.stdout.split()
    # Not a timing assertion: the timeout only keeps a broken watchdog from hanging the run.
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(int(watchdog)).wait(timeout=120)
    assert not Path(root).exists()
    with pytest.raises(psycopg.OperationalError, match="refused"):
        psycopg.connect(host=HOST, port=int(port), user=ROLE, passfile="/nonexistent/.pgpass")
