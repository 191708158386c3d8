"""A witness that answers 503 (busy) is asked again after its Retry-After, a few times at most."""

from __future__ import annotations

import http.client
import http.server
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from issuer.errors import NetworkError
from issuer.fetch import new_client
from issuer.tlog import (
    Checkpoint,
    CheckpointPolicy,
    WitnessServer,
    add_cosignatures,
    ask_witness,
    verify_checkpoint,
)
from issuer.tlog._witness_client import BUSY_RETRIES, MAX_BUSY_WAIT
from tests.cli._run import http_server
from tests.unit.tlog.test_witness import Log, make_witness, serving


@pytest.fixture
def log() -> Log:
    return Log().grow(10)


@pytest.fixture
def one_slot(tmp_path: Path, log: Log) -> Iterator[WitnessServer]:
    """A real witness server that serves one connection at a time."""
    witness = make_witness(tmp_path / "w.json", log)
    with serving(WitnessServer(("127.0.0.1", 0), witness, max_connections=1)) as server:
        yield server


def _hold(server: WitnessServer) -> http.client.HTTPConnection:
    """A kept-alive connection that takes the server's one slot."""
    host, port = server.server_address[:2]
    held = http.client.HTTPConnection(str(host), int(port))
    held.request("GET", "/add-checkpoint")
    answer = held.getresponse()
    answer.read()
    assert answer.status == 405
    return held


def _ask(url: str, log: Log, sleep: object) -> list[object]:
    note = log.checkpoint()
    with new_client(10.0) as client:
        return list(
            ask_witness(
                client,
                url,
                note,
                checkpoint=Checkpoint.from_text(note.text),
                old=0,
                proof=log.proof,
                timeout=10.0,
                sleep=sleep,  # type: ignore[arg-type]
            )
        )


def test_a_busy_witness_is_asked_again_after_its_retry_after(
    one_slot: WitnessServer, log: Log
) -> None:
    held = _hold(one_slot)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        held.close()  # the slot frees while the publisher waits
        time.sleep(seconds)

    lines = _ask(one_slot.url, log, sleep)
    assert waits == [1.0]  # the server's Retry-After: 1
    cosigned = add_cosignatures(log.checkpoint(), lines)  # type: ignore[arg-type]
    policy = CheckpointPolicy(log.key.verifier_key, (one_slot.witness.verifier_key,), 1)
    verify_checkpoint(cosigned.to_bytes(), policy)


def test_a_witness_that_stays_busy_is_refused_after_the_retries(
    one_slot: WitnessServer, log: Log
) -> None:
    held = _hold(one_slot)
    waits: list[float] = []
    try:
        with pytest.raises(NetworkError) as caught:
            _ask(one_slot.url, log, waits.append)
    finally:
        held.close()
    assert waits == [1.0] * BUSY_RETRIES
    assert f"refused: HTTP 503 ({BUSY_RETRIES + 1} tries): busy" in caught.value.message


class _Busy(http.server.SimpleHTTPRequestHandler):
    """Always 503, with the Retry-After the server's ``retry_after`` attribute holds."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(503)
        if self.server.retry_after is not None:  # type: ignore[attr-defined]
            self.send_header("Retry-After", self.server.retry_after)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"busy\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        ("3600", MAX_BUSY_WAIT),  # never longer than the cap
        ("0", 0.0),
        ("2", 2.0),
        ("Wed, 21 Oct 2026 07:28:00 GMT", 1.0),  # a date is not read: the default
        ("-1", 1.0),
        ("1.5", 1.0),
        (None, 1.0),
    ],
)
def test_the_wait_is_the_retry_after_in_seconds_within_bounds(
    tmp_path: Path, log: Log, retry_after: str | None, wait: float
) -> None:
    waits: list[float] = []
    with (
        http_server(tmp_path, _Busy, retry_after=retry_after) as url,
        pytest.raises(NetworkError, match="HTTP 503"),
    ):
        _ask(url, log, waits.append)
    assert waits == [wait] * BUSY_RETRIES


def test_other_refusals_are_not_asked_again(tmp_path: Path, log: Log) -> None:
    class Gone(_Busy):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_error(500)

    waits: list[float] = []
    with http_server(tmp_path, Gone) as url, pytest.raises(NetworkError, match="HTTP 500: "):
        _ask(url, log, waits.append)
    assert waits == []
