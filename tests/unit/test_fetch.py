"""Fetching over HTTP against a real server on 127.0.0.1 that misbehaves on purpose.

Each server runs in a thread, serves a bounded number of connections, sends
a bounded number of bytes, and stops by itself (it gives up when the client
hangs up). Fetches take a short deadline as a parameter; the tests assert
which error and why, never how long anything took.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpcore
import pytest

from issuer import _deadline
from issuer.errors import NetworkError, UsageError
from issuer.fetch import MAX_ENCODINGS, fetch, new_client

Handler = Callable[[socket.socket], None]
BODY = b'{"hello":"world"}'
STEP = 0.05  # seconds between dripped bytes: far below the per-read timeout of any test


def _read_request(conn: socket.socket) -> bytes:
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@contextmanager
def serve(handler: Handler, connections: int = 4) -> Iterator[str]:
    """Run ``handler`` for each of at most ``connections`` connections; yield the base URL."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()

    def loop() -> None:
        served = 0
        while not stop.is_set() and served < connections:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            served += 1
            with conn:
                try:
                    _read_request(conn)
                    handler(conn)
                except OSError:
                    pass  # the client hung up: what a deadline does

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=30)
        server.close()


def _response(body: bytes, *headers: str) -> bytes:
    head = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", "Connection: close", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _send(data: bytes) -> Handler:
    def handler(conn: socket.socket) -> None:
        conn.sendall(data)

    return handler


def _drip(data: bytes) -> Handler:
    """Send ``data`` one byte every STEP seconds: each read gets a byte well in time."""

    def handler(conn: socket.socket) -> None:
        for i in range(len(data)):
            conn.sendall(data[i : i + 1])
            time.sleep(STEP)

    return handler


def _interim_forever(conn: socket.socket) -> None:
    """``100 Continue`` after ``100 Continue``, for longer than any test waits."""
    for _ in range(600):
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        time.sleep(STEP)


def test_a_plain_body_is_fetched() -> None:
    with serve(_send(_response(BODY))) as base:
        got = fetch(base + "/b.json", timeout=5)
    assert got.data == BODY


def test_a_server_dripping_bytes_misses_the_overall_deadline() -> None:
    """Every read gets a byte in time, but the fetch as a whole does not end in time."""
    with serve(_drip(_response(BODY))) as base, pytest.raises(NetworkError) as caught:
        fetch(base + "/b.json", timeout=0.5)
    assert "no complete response within the 0.5-second deadline" in caught.value.message


def test_a_dripped_body_misses_the_deadline_too() -> None:
    body = BODY * 20

    def handler(conn: socket.socket) -> None:
        conn.sendall(_response(body)[: -len(body)])  # the head at once, then the body slowly
        _drip(body)(conn)

    with serve(handler) as base, pytest.raises(NetworkError, match=r"0\.5-second deadline"):
        fetch(base + "/b.json", timeout=0.5)


def test_interim_responses_forever_miss_the_deadline() -> None:
    with serve(_interim_forever) as base, pytest.raises(NetworkError) as caught:
        fetch(base + "/b.json", timeout=0.5)
    assert "no complete response within the 0.5-second deadline" in caught.value.message


def test_each_fetch_on_a_shared_client_gets_its_own_deadline() -> None:
    """A client reused across fetches (mirrors) bounds every fetch, not only the first."""
    with (
        serve(_send(_response(BODY))) as fast,
        serve(_interim_forever) as slow,
        new_client(timeout=30) as client,
    ):
        assert fetch(fast + "/b.json", client=client, timeout=5).data == BODY
        with pytest.raises(NetworkError, match=r"0\.5-second deadline"):
            fetch(slow + "/b.json", client=client, timeout=0.5)


def _gzip_stream(size: int) -> bytes:
    """gzip of ``size`` zero bytes, compressed without holding them all."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(1 << 20)
    out = [packer.compress(zeros) for _ in range(size >> 20)]
    return b"".join([*out, packer.flush()])


@pytest.mark.parametrize(
    "encoding", ["gzip", "gzip, gzip", "x-gzip,gzip", "deflate", "gzip, identity"]
)
def test_stacked_encodings_are_undone(encoding: str) -> None:
    body = BODY
    for name in [e.strip() for e in encoding.split(",")]:
        if name in {"gzip", "x-gzip"}:
            body = gzip.compress(body)
        elif name == "deflate":
            body = zlib.compress(body)
    with serve(_send(_response(body, f"Content-Encoding: {encoding}"))) as base:
        assert fetch(base + "/b.json", timeout=5).data == BODY


def test_raw_deflate_is_undone() -> None:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body = packer.compress(BODY) + packer.flush()
    with serve(_send(_response(body, "Content-Encoding: deflate"))) as base:
        assert fetch(base + "/b.json", timeout=5).data == BODY


def test_a_double_gzip_bomb_is_refused_without_expanding_it() -> None:
    """64 MiB behind two gzip layers, a few hundred bytes on the wire, a 1 MiB limit.

    The limit counts decoded bytes and decoding goes in small pieces, so the
    fetch never holds much more than the limit (tracemalloc sees every bytes
    object zlib makes, in every thread).
    """
    bomb = gzip.compress(_gzip_stream(64 << 20))
    assert len(bomb) < 64 << 10
    with serve(_send(_response(bomb, "Content-Encoding: gzip, gzip"))) as base:
        tracemalloc.start()
        try:
            with pytest.raises(NetworkError) as caught:
                fetch(base + "/b.json", timeout=30, max_bytes=1 << 20)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert "over the 1048576-byte limit once decoded" in caught.value.message
    assert peak < 8 << 20


@pytest.mark.parametrize(
    ("encoding", "body", "message"),
    [
        ("br", b"x", "unsupported Content-Encoding 'br'"),
        ("compress", b"x", "unsupported Content-Encoding 'compress'"),
        (", ".join(["gzip"] * (MAX_ENCODINGS + 1)), b"x", "4 content encodings"),
        ("gzip", b"not gzip at all", "not valid gzip"),
        ("gzip", gzip.compress(BODY)[:-6], "gzip body is truncated"),
        ("deflate", zlib.compress(BODY)[:-3], "deflate body is truncated"),
        ("gzip", gzip.compress(BODY) + b"junk", "data after the end of the gzip stream"),
    ],
    ids=[
        "br",
        "compress",
        "too many layers",
        "corrupt gzip",
        "truncated gzip",
        "truncated deflate",
        "trailing garbage",
    ],
)
def test_bad_encodings_are_refused(encoding: str, body: bytes, message: str) -> None:
    with (
        serve(_send(_response(body, f"Content-Encoding: {encoding}"))) as base,
        pytest.raises(NetworkError, match=message),
    ):
        fetch(base + "/b.json", timeout=5)


def test_a_body_over_the_limit_is_refused_whatever_content_length_says() -> None:
    body = b"x" * 5000
    raw = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body  # no length: read to close
    with serve(_send(raw)) as base, pytest.raises(NetworkError, match="over the 4096-byte limit"):
        fetch(base + "/b.json", timeout=5, max_bytes=4096)


def test_the_deadline_applies_only_inside_a_fetch() -> None:
    assert _deadline.bounded(3.0, httpcore.ReadTimeout) == 3.0


@pytest.mark.parametrize("url", ["http://[::1/pith/x", "http://exa\x00mple/b.json"])
def test_a_malformed_url_is_a_usage_error_not_a_crash(url: str) -> None:
    with pytest.raises(UsageError, match="not a valid http"):
        fetch(url, timeout=1)


def test_a_password_in_the_url_is_not_in_the_error() -> None:
    not_found = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    with serve(_send(not_found)) as base:
        url = base.replace("http://", "http://user:s3cret@") + "/b.json"
        with pytest.raises(NetworkError) as caught:
            fetch(url, timeout=5)
    assert caught.value.message == base.replace("http://", "http://***@") + "/b.json: HTTP 404"
