"""Shared fixtures: the test data the repository carries, hypothesis profiles."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from tests._pg import PgCluster

ROOT = Path(__file__).resolve().parent.parent
# Everything the tests read lives under tests/data/ (see tests/data/SOURCES.md):
# a clone with nothing beside it runs the whole suite.
DATA = ROOT / "tests" / "data"
SAMPLES = DATA / "arxiv"
VECTORS = DATA / "vectors"
BUNDLE_PATH = DATA / "conformance" / "pith-AH5S4WE2-bundle.json"

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def data_file(path: Path) -> Path:
    """``path`` under tests/data, or this test fails saying which file is missing."""
    if not path.is_file():
        pytest.fail(f"test data missing: {path} (restore tests/data/ from git)")
    return path


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the real ``~/.local/share/pith`` (keys, seen-keys.json)."""
    monkeypatch.setenv("PITH_HOME", str(tmp_path_factory.mktemp("pith-home")))


@pytest.fixture(scope="session")
def real_bundle() -> dict[str, Any]:
    """The registry's published bundle, parsed."""
    data: dict[str, Any] = json.loads(data_file(BUNDLE_PATH).read_bytes())
    return data


SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture
def softhsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SoftHSM2 token labelled 'pith' (PIN 1234); yields the module path.

    SoftHSM2 is installed by `make test` from Debian's packages; without it this
    fixture fails with a message saying so (PKCS#11 is tested, never skipped).

    PKCS#11 state (the loaded module, its configuration, sessions and logins)
    belongs to the process: the module is finalized before the test, so that it
    reads this test's SOFTHSM2_CONF, and after it, so that no session or login
    reaches the next test (or a second pytest run in this process).
    """
    import shutil
    import subprocess

    util = shutil.which("softhsm2-util")
    if util is None or not Path(SOFTHSM_MODULE).exists():
        pytest.fail("SoftHSM2 is not installed: run `make test` (it installs softhsm2)")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run(
        [util, "--init-token", "--free", "--label", "pith", "--pin", "1234", "--so-pin", "5678"],
        check=True,
        capture_output=True,
    )
    from issuer.keys import _pkcs11

    _pkcs11.reset(SOFTHSM_MODULE)
    yield SOFTHSM_MODULE
    _pkcs11.reset(SOFTHSM_MODULE)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A throwaway PostgreSQL server (tests/_pg.py), started by the first test that asks.

    Missing PostgreSQL fails the test, naming `make system-deps`. For the whole
    session ``PGPASSFILE`` points at the cluster's .pgpass, so libpq in this
    process and in `pith` subprocesses logs in as role ``pith`` without a
    password in the URL.
    """
    from tests._pg import PgCluster

    cluster = PgCluster()
    try:
        cluster.start()
    except RuntimeError as e:
        pytest.fail(str(e))
    with pytest.MonkeyPatch.context() as mp:
        for name, value in cluster.env().items():
            mp.setenv(name, value)
        try:
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """The URL of a new, empty database owned by role ``pith`` (no password in it)."""
    return pg_cluster.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty registry on each backend: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "registry.sqlite3")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def node_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the Merkle node hashes computed (one list item per call)."""
    from issuer.tlog import _merkle, _spelled

    calls: list[int] = []
    real = _merkle.node_hash

    def counting(left: bytes, right: bytes) -> bytes:
        calls.append(1)
        return real(left, right)

    monkeypatch.setattr(_merkle, "node_hash", counting)
    monkeypatch.setattr(_spelled, "node_hash", counting)
    yield calls
