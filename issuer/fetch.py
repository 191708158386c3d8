"""Fetching published bundles over HTTP(S), for verification against local trust only.

The server is never trusted: what is fetched is verified with the reader's
own keys, and keys served beside it count for nothing. So fetching only has
to be safe to do: bounded in time (connect and read timeouts) and in size
(a body larger than the limit is refused while it streams, whatever
Content-Length claimed), TLS certificates verified, at most a few redirects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from issuer import __version__
from issuer.errors import NetworkError, UsageError

MAX_BUNDLE_BYTES = 16 * 1024 * 1024  # the registry's largest bundles are a few hundred KB
TIMEOUT_SECONDS = 20.0
MAX_REDIRECTS = 5

_RECORD_PATH = re.compile(
    r"/(?:\.well-known/)?pith/([A-Z2-7]{26})(?:/(?:bundle\.json|index\.html)?)?$"
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
    parsed = httpx.URL(url)
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise UsageError(f"not an http(s) URL: {url}")
    m = _RECORD_PATH.search(parsed.path)
    if m is None:
        return url, None
    if parsed.path.endswith("bundle.json"):
        return url, m[1]
    path = parsed.path.removesuffix("index.html").rstrip("/") + "/bundle.json"
    return str(parsed.copy_with(path=path)), m[1]


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

    Raises:
        UsageError: not an http(s) URL.
        NetworkError: connection, TLS, timeout, HTTP status or size-limit failure,
            naming the URL.
    """
    target, code = bundle_url(url)
    own = client is None
    http = client or new_client(timeout)
    try:
        with http.stream("GET", target) as response:
            if response.status_code != httpx.codes.OK:
                raise NetworkError(f"{target}: HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise NetworkError(f"{target}: {declared} bytes is over the {max_bytes}-byte limit")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise NetworkError(f"{target}: body is over the {max_bytes}-byte limit")
    except httpx.HTTPError as e:
        raise NetworkError(f"{target}: {type(e).__name__}: {e}") from e
    finally:
        if own:
            http.close()
    return Fetched(target, bytes(body), code)


def new_client(timeout: float = TIMEOUT_SECONDS) -> httpx.Client:
    """An HTTP client with the toolkit's limits: timeouts, few redirects, TLS verified."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": f"pith-issuer/{__version__}", "Accept": "application/json"},
    )
