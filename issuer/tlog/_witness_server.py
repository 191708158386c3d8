"""The witness over HTTP: ``POST /add-checkpoint`` (C2SP tlog-witness), and a small client.

:class:`WitnessServer` is the standard library's threading HTTP server with
one route. It reads at most :data:`~._witness.MAX_REQUEST_SIZE` bytes, only
with a ``Content-Length`` (413 above the limit, 411 without one, before
reading anything), drops a client whose request is not whole within
:data:`CLIENT_TIMEOUT` seconds (however it drips), and keeps connections
alive (HTTP/1.1), as the spec recommends. It serves at most
:data:`MAX_CONNECTIONS` connections at once, one thread each; a connection
beyond them is answered 503 by the accepting thread, without waiting on it,
and closed. The
checks and the answer are :func:`._witness.respond`'s; the one lock around
state updates is in :mod:`._witness_state`. Requests are logged, never printed.

:func:`submit` is the client side: it posts a request and returns the
witness's answer, for ``pith publish --witness`` and the tests.
"""

from __future__ import annotations

import io
import logging
import re
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from issuer.fetch import new_client, post
from issuer.tlog._witness import MAX_REQUEST_SIZE, Witness, WitnessResponse, respond

logger = logging.getLogger(__name__)

ADD_CHECKPOINT = "/add-checkpoint"
CLIENT_TIMEOUT = 30.0
"""Seconds a request may take, from when the server waits for it to its last byte."""
MAX_CONNECTIONS = 64
"""Connections served at once (one thread each, kept alive between requests); more get 503."""
RETRY_AFTER = 1
"""Seconds a client turned away is told to wait (``Retry-After``)."""
_BUSY_BODY = b"busy: too many connections; try again later\n"
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Retry-After: %d\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
    % (RETRY_AFTER, len(_BUSY_BODY), _BUSY_BODY)
)
_MAX_RESPONSE = 64 * 1024
_LENGTH_RE = re.compile("[0-9]{1,12}")  # ASCII digits only (str.isdigit takes '²')


class _Handler(BaseHTTPRequestHandler):
    server: WitnessServer
    protocol_version = "HTTP/1.1"
    timeout = CLIENT_TIMEOUT
    server_version = "pith-witness"
    # Headers and body go out in two writes: with Nagle's algorithm on, the
    # body waits for the client's delayed ACK (40 ms a request on Linux).
    disable_nagle_algorithm = True
    _deadline = 0.0  # monotonic time by which the current request must be read

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the plain reader: a deadline-bound one replaces it
        self.rfile = io.BufferedReader(_DeadlineReader(self))

    def handle_one_request(self) -> None:
        self._deadline = time.monotonic() + self.timeout
        super().handle_one_request()  # a TimeoutError from a read drops the connection

    def do_POST(self) -> None:
        if _path_of(self.path) != ADD_CHECKPOINT:
            self._send(404, b"not found: POST /add-checkpoint\n", close=True)
            return
        length = self.headers.get("Content-Length")
        if length is None or self.headers.get("Transfer-Encoding"):
            self._send(411, b"a Content-Length is required\n", close=True)
            return
        if _LENGTH_RE.fullmatch(length) is None:
            self._send(400, b"malformed Content-Length\n", close=True)
            return
        if int(length) > MAX_REQUEST_SIZE:
            self._send(413, f"at most {MAX_REQUEST_SIZE} bytes\n".encode(), close=True)
            return
        body = self.rfile.read(int(length))
        if len(body) != int(length):
            self._send(400, b"the body is shorter than its Content-Length\n", close=True)
            return
        answer = respond(self.server.witness, body)
        logger.info(
            "add-checkpoint from %s: %d %s",
            self.client_address[0],
            answer.status,
            answer.reason or "",
        )
        self._answer(answer)

    def do_GET(self) -> None:
        if _path_of(self.path) == ADD_CHECKPOINT:
            self._send(405, b"use POST\n", allow=True)
        else:
            self._send(404, b"not found: POST /add-checkpoint\n")

    def _answer(self, answer: WitnessResponse) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def _send(self, status: int, body: bytes, *, close: bool = False, allow: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if allow:
            self.send_header("Allow", "POST")
        if close:  # the unread body would be taken for the next request
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.client_address[0], *args)


def _path_of(target: str) -> str | None:
    """The path of a request target; None for one that is no URL (``http://[::1``)."""
    try:
        return urllib.parse.urlsplit(target).path
    except ValueError:
        return None


class _DeadlineReader(io.RawIOBase):
    """A handler's socket, read only until its request's deadline (a slow drip included)."""

    def __init__(self, handler: _Handler) -> None:
        self._handler = handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._handler._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request was not whole by its deadline")
        self._handler.connection.settimeout(left)
        received: int = self._handler.connection.recv_into(buffer)
        return received


class WitnessServer(ThreadingHTTPServer):
    """An HTTP witness bound to ``address``; run it with ``serve_forever()``.

    Args:
        address: ``(host, port)``; port 0 picks a free one (see :attr:`url`).
        witness: the witness that answers.
        max_connections: connections served at once; a connection beyond them
            is answered 503 with ``Retry-After`` and closed.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        witness: Witness,
        *,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.witness = witness
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve ``request`` in a thread of its own if a slot is free; else turn it away."""
        if not self._slots.acquire(blocking=False):
            logger.info(
                "connection from %s turned away (503): %d already served",
                client_address[0],
                self.max_connections,
            )
            _turn_away(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: its slot is free again
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection, then free its slot."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    @property
    def url(self) -> str:
        """The base URL the server listens on (``http://HOST:PORT``)."""
        host, port = self.server_address[:2]
        shown = host.decode() if isinstance(host, bytes) else host
        return f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log (never print) what broke a connection."""
        logger.exception("witness request from %s failed", client_address[0])


def _turn_away(request: socket.socket) -> None:
    """Answer 503 on a fresh connection without ever waiting on it.

    The answer fits an empty send buffer; a client that cannot take it gets nothing.
    """
    try:
        request.setblocking(False)
        request.send(_BUSY)
    except OSError:
        pass


def submit(url: str, body: bytes, timeout: float = CLIENT_TIMEOUT) -> WitnessResponse:
    """POST an ``add-checkpoint`` body to the witness at ``url`` (its submission prefix).

    Raises:
        NetworkError: the witness cannot be reached, or its answer is not HTTP.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"not an http(s) witness URL: {url!r}")
    with new_client(timeout) as client:
        answer = post(
            client, url.rstrip("/") + ADD_CHECKPOINT, body, max_bytes=_MAX_RESPONSE, timeout=timeout
        )
    return WitnessResponse(answer.status, answer.content_type, answer.data)
