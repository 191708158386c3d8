"""Fetching published bundles over HTTP(S), for verification against local trust only.

The server is never trusted: what is fetched is verified with the reader's
own keys, and keys served beside it count for nothing. So fetching only has
to be safe to do:

- bounded in time: one overall deadline per fetch (``timeout`` seconds from
  the first byte sent to the last byte read), enforced at every socket read
  and write, so a server that drips a byte a second or sends ``1xx`` interim
  responses forever fails like one that sends nothing;
- bounded in size: at most ``max_bytes`` of body after undoing every
  ``Content-Encoding`` layer (``gzip``, ``deflate``, stacked as in
  ``gzip, gzip``), decompressed in small pieces so a compression bomb is
  refused before it is expanded, whatever ``Content-Length`` claimed;
- TLS certificates verified, at most a few redirects.
"""

from __future__ import annotations

import contextvars
import re
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from issuer import __version__
from issuer.cjson import MAX_DOCUMENT_BYTES
from issuer.errors import NetworkError, UsageError

if TYPE_CHECKING:
    import httpx

MAX_BUNDLE_BYTES = MAX_DOCUMENT_BYTES  # the registry's largest bundles are a few hundred KB
TIMEOUT_SECONDS = 20.0
MAX_REDIRECTS = 5
#: ``Content-Encoding`` layers undone; more than this many stacked is refused.
MAX_ENCODINGS = 3
ACCEPT_ENCODING = "gzip, deflate"

_PIECE = 64 * 1024  # most bytes one decompression step may produce
_GZIP = frozenset({"gzip", "x-gzip"})
_DEFLATE = "deflate"
_IDENTITY = "identity"
_ZLIB_FCHECK = 31  # a zlib header, read as a big-endian 16-bit number, is a multiple of 31

_RECORD_PATH = re.compile(
    r"/(?:\.well-known/)?pith/([A-Z2-7]{26})(?:/(?:bundle\.json|index\.html)?)?$"
)

# The monotonic time by which the current fetch must be done (None outside a fetch).
DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "pith_fetch_deadline", default=None
)


def is_url(text: str) -> bool:
    """Whether a ``pith verify`` argument is a URL rather than a path."""
    return text.startswith(("https://", "http://"))


@dataclass(frozen=True)
class Fetched:
    """A fetched bundle: where it came from and the record its URL names, if any."""

    url: str
    data: bytes
    code: str | None


def bundle_url(url: str) -> tuple[str, str | None]:
    """The bundle URL for a bundle, resolver or ``.well-known`` URL, and the code it names.

    Raises:
        UsageError: not an http(s) URL.
    """
    parsed = http_url(url)
    m = _RECORD_PATH.search(parsed.path)
    if m is None:
        return url, None
    if parsed.path.endswith("bundle.json"):
        return url, m[1]
    path = parsed.path.removesuffix("index.html").rstrip("/") + "/bundle.json"
    return str(parsed.copy_with(path=path)), m[1]


def http_url(text: str) -> httpx.URL:
    """``text`` as an http(s) URL with a host.

    Raises:
        UsageError: not an http(s) URL, or not a URL at all (an open ``[``, a control character).
    """
    import httpx  # noqa: PLC0415 - loaded by what goes on the network, not by every command

    try:
        parsed = httpx.URL(text)
        urlsplit(text)  # what shown_url reads; it refuses some URLs httpx takes
    except (httpx.InvalidURL, ValueError) as e:
        raise UsageError(f"not a valid http(s) URL: {e}") from e
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise UsageError(f"not an http(s) URL: {text}")
    return parsed


def mirror_bundle_url(base_url: str, code: str) -> str:
    """``BASE/pith/CODE/bundle.json`` on a mirror."""
    return f"{base_url.rstrip('/')}/pith/{code}/bundle.json"


def fetch(
    url: str,
    *,
    max_bytes: int = MAX_BUNDLE_BYTES,
    timeout: float = TIMEOUT_SECONDS,
    client: httpx.Client | None = None,
) -> Fetched:
    """GET a bundle, refusing anything slow, huge or not a 200.

    Args:
        url: a bundle, resolver or ``.well-known`` URL.
        max_bytes: the most body bytes accepted, counted after decoding.
        timeout: seconds the whole fetch may take, redirects included.
        client: a client from :func:`new_client` to reuse (its connections).

    Raises:
        UsageError: not an http(s) URL.
        NetworkError: connection, TLS, deadline, HTTP status (its ``status``),
            encoding or size-limit failure, naming the URL.
    """
    import httpx  # noqa: PLC0415 - see http_url

    target, code = bundle_url(url)
    shown = shown_url(target)  # errors name it without any user or password
    own = client is None
    http = client or new_client(timeout)
    deadline = time.monotonic() + timeout
    token = DEADLINE.set(deadline)
    try:
        with http.stream("GET", target) as response:
            if response.status_code != HTTPStatus.OK:
                status = response.status_code
                raise NetworkError(f"{shown}: HTTP {status}", status=status)
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise NetworkError(f"{shown}: {declared} bytes is over the {max_bytes}-byte limit")
            layers = _layers(
                shown, response.headers.get_list("content-encoding", split_commas=True)
            )
            body = bytearray()
            for piece in _decoded(shown, _counted(shown, response.iter_raw(), max_bytes), layers):
                if len(body) + len(piece) > max_bytes:
                    raise NetworkError(
                        f"{shown}: body is over the {max_bytes}-byte limit once decoded"
                    )
                body += piece
                if time.monotonic() > deadline:
                    raise NetworkError(_late(shown, timeout))
    except httpx.TimeoutException as e:
        raise NetworkError(_late(shown, timeout), hint=_LATE_HINT) from e
    except httpx.HTTPError as e:
        raise NetworkError(f"{shown}: {type(e).__name__}: {e}") from e
    finally:
        DEADLINE.reset(token)
        if own:
            http.close()
    return Fetched(target, bytes(body), code)


@dataclass(frozen=True)
class Posted:
    """What a server answered to :func:`post`: any status, its content type and body."""

    status: int
    content_type: str
    data: bytes
    retry_after: float | None = None
    """``Retry-After`` in seconds, when the answer gave it so (not as a date)."""


def post(
    client: httpx.Client,
    url: str,
    body: bytes,
    *,
    max_bytes: int,
    timeout: float = TIMEOUT_SECONDS,
    content_type: str = "text/plain; charset=utf-8",
    name: str | None = None,
) -> Posted:
    """POST ``body`` within one overall deadline; the answer unencoded, at most ``max_bytes``.

    Unlike :func:`fetch`, any status is returned: the caller's protocol says
    what a 409 means. Errors name the target as ``name`` (default: the URL,
    without any user or password).

    Raises:
        NetworkError: connection, TLS or deadline failure, an encoded answer, or
            an answer over ``max_bytes``.
    """
    import httpx  # noqa: PLC0415 - see http_url

    shown = name or shown_url(url)
    deadline = time.monotonic() + timeout
    token = DEADLINE.set(deadline)
    try:
        headers = {"Content-Type": content_type, "Accept-Encoding": _IDENTITY}
        with client.stream("POST", url, content=body, headers=headers) as response:
            encoding = response.headers.get("content-encoding", _IDENTITY).strip().lower()
            if encoding not in {"", _IDENTITY}:
                raise NetworkError(f"{shown}: an answer in {encoding!r} (asked identity)")
            data = bytearray()
            for chunk in response.iter_raw():
                data += chunk
                if len(data) > max_bytes:
                    raise NetworkError(f"{shown}: answer over the {max_bytes}-byte limit")
                if time.monotonic() > deadline:
                    raise NetworkError(_late(shown, timeout))
            return Posted(
                response.status_code,
                response.headers.get("content-type", ""),
                bytes(data),
                _seconds(response.headers.get("retry-after")),
            )
    except httpx.TimeoutException as e:
        raise NetworkError(_late(shown, timeout), hint=_LATE_HINT) from e
    except httpx.HTTPError as e:
        raise NetworkError(f"{shown}: {type(e).__name__}: {e}") from e
    finally:
        DEADLINE.reset(token)


def _seconds(value: str | None) -> float | None:
    """A ``Retry-After`` of delay seconds (RFC 9110 §10.2.3); None for a date or anything else."""
    value = (value or "").strip()
    return float(value) if value.isascii() and value.isdigit() else None


def shown_url(url: str) -> str:
    """A URL as printed: without any user or password in it."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


_LATE_HINT = "the server is slow or stalling; try again later, or another mirror"


def _late(target: str, timeout: float) -> str:
    return f"{target}: no complete response within the {timeout:g}-second deadline"


def new_client(timeout: float = TIMEOUT_SECONDS) -> httpx.Client:
    """An HTTP client with the toolkit's limits: timeouts, few redirects, TLS verified.

    Its connections honour the overall deadline of each :func:`fetch` made with it.
    """
    import httpx  # noqa: PLC0415 - see http_url

    from issuer._deadline import DeadlineBackend  # noqa: PLC0415 - it imports httpcore

    client = httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={
            "User-Agent": f"pith-issuer/{__version__}",
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
        },
    )
    # httpx has no public hook below the transport: each connection pool (the direct
    # one, and one per proxy taken from the environment) gets a deadline-aware backend.
    for transport in (client._transport, *client._mounts.values()):
        pool = getattr(transport, "_pool", None)
        if pool is not None and hasattr(pool, "_network_backend"):
            pool._network_backend = DeadlineBackend(pool._network_backend)
    return client


# -- bounded decoding -----------------------------------------------------------------


def _layers(target: str, encodings: list[str]) -> list[_Inflater]:
    """Decoders for a ``Content-Encoding`` list, in the order to apply them (last first)."""
    names = [e.strip().lower() for e in encodings if e.strip().lower() not in {"", _IDENTITY}]
    if len(names) > MAX_ENCODINGS:
        raise NetworkError(f"{target}: {len(names)} content encodings (at most {MAX_ENCODINGS})")
    for name in names:
        if name not in _GZIP and name != _DEFLATE:
            raise NetworkError(
                f"{target}: unsupported Content-Encoding {name!r} (asked for {ACCEPT_ENCODING})"
            )
    return [_Inflater(name) for name in reversed(names)]


def _counted(target: str, chunks: Iterable[bytes], max_bytes: int) -> Iterator[bytes]:
    """The raw body, refused once it is over ``max_bytes`` even before decoding."""
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise NetworkError(f"{target}: body is over the {max_bytes}-byte limit")
        yield chunk


def _decoded(target: str, chunks: Iterator[bytes], layers: list[_Inflater]) -> Iterator[bytes]:
    """The body with every layer undone, lazily: each layer holds at most one piece."""
    for layer in layers:
        chunks = layer.pipe(target, chunks)
    return chunks


class _Inflater:
    """One ``gzip`` or ``deflate`` layer, undone in pieces of at most ``_PIECE`` bytes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._d: Any = None  # zlib's decompressor; deflate's framing is known at the first bytes

    def _start(self, first: bytes) -> Any:
        if self.name in _GZIP:
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        # "deflate" means zlib-wrapped (RFC 9110), but some servers send raw deflate.
        header = int.from_bytes(first[:2], "big")
        zlib_header = (
            len(first) > 1 and first[0] & 0x0F == zlib.DEFLATED and header % _ZLIB_FCHECK == 0
        )
        return zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)

    def pipe(self, target: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Decode ``chunks``; refuse a corrupt or truncated stream."""
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                if self._d is None:
                    self._d = self._start(chunk)
                data = chunk
                while True:
                    out = self._d.decompress(data, _PIECE)
                    data = self._d.unconsumed_tail
                    if out:
                        yield out
                    # More to come while input is left, or while the last piece was full.
                    if not data and len(out) < _PIECE:
                        break
        except zlib.error as e:
            raise NetworkError(f"{target}: body is not valid {self.name}: {e}") from e
        if self._d is None or not self._d.eof:
            raise NetworkError(f"{target}: {self.name} body is truncated")
        if self._d.unused_data:  # a second gzip member, or garbage: neither is a bundle
            raise NetworkError(f"{target}: data after the end of the {self.name} stream")
