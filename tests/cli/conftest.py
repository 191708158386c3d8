"""Fixtures of the CLI tests: a real HTTP server on 127.0.0.1 for published trees."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli._run import http_server


@pytest.fixture
def serve() -> Iterator[Callable[[Path], str]]:
    """Start a real HTTP server on 127.0.0.1 for a directory; yields a function → base URL."""
    with contextlib.ExitStack() as servers:

        def start(directory: Path) -> str:
            return servers.enter_context(http_server(directory))

        yield start
