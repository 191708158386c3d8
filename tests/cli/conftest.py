"""Fixtures of the CLI tests: the registry backend; a real HTTP server for published trees."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.cli._run import http_server, postgresql_registries

if TYPE_CHECKING:
    from tests._pg import PgCluster


@pytest.fixture
def serve() -> Iterator[Callable[[Path], str]]:
    """Start a real HTTP server on 127.0.0.1 for a directory; yields a function → base URL."""
    with contextlib.ExitStack() as servers:

        def start(directory: Path) -> str:
            return servers.enter_context(http_server(directory))

        yield start


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The registry backend of the test: every home's registry is a file, then a database.

    On ``postgresql`` each registry home the test uses (``pith_env``, ``registry_of``,
    ``new_registry`` in tests/cli/_run.py) gets a new database of the session's cluster.
    """
    if request.param == "sqlite":
        yield "sqlite"
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    with postgresql_registries(cluster.create_database):
        yield "postgresql"
