"""arXiv metadata in, :class:`SourceMetadata` out, whatever format arXiv served.

:func:`read` detects the format from the first bytes and streams the input
in constant memory:

- OAI-PMH ``arXivRaw`` (GetRecord, ListRecords pages) — issues;
- the JSON-lines metadata snapshot — issues;
- the API's Atom feed and OAI ``arXiv`` — recognised and refused per record,
  naming what is missing or altered (spec §3);
- OAI-PMH error responses and the API's error feed — :class:`SourceError`.

gzip-compressed input is read transparently. Per-record problems are yielded
as :class:`Refusal`; only problems with the file as a whole raise.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from issuer.errors import SourceError, UnreadableInputError
from issuer.sources import _atom, _oai, _snapshot
from issuer.sources._model import (
    Item,
    Notice,
    Refusal,
    SourceMetadata,
    parse_arxiv_date,
)
from issuer.sources._xml import iter_elements, prolog_declares_doctype

__all__ = [
    "Item",
    "Notice",
    "Refusal",
    "SourceMetadata",
    "detect",
    "parse_arxiv_date",
    "read",
    "read_stream",
]

HEAD_SIZE = 1 << 16
STDIN = "-"


class _Chain(io.RawIOBase):
    """A raw stream that serves ``head`` and then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _read_head(stream: IO[bytes]) -> bytes:
    chunks = []
    size = 0
    while size < HEAD_SIZE:
        chunk = stream.read(HEAD_SIZE - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def detect(head: bytes) -> str:
    """Name the container from the first bytes: ``xml``, ``jsonl``, ``json`` or ``unknown``."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        return "xml"
    if text.startswith(b"{"):
        first = text.split(b"\n", 1)[0].strip()
        return "json" if first == b"{" else "jsonl"
    if text.startswith(b"["):
        return "json"
    return "unknown"


def read(path: str | Path) -> Iterator[Item]:
    """Read arXiv metadata from a file path, or from standard input for ``-``.

    Raises:
        SourceError: if the file cannot be read or is not a format that can issue.
    """
    name = str(path)
    if name == STDIN:
        yield from read_stream(sys.stdin.buffer, "<stdin>")
        return
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below, after streaming
    except OSError as e:
        raise UnreadableInputError(f"cannot read: {e.strerror or e}", location=name) from e
    with stream:
        yield from read_stream(stream, name)


def read_stream(stream: IO[bytes], name: str) -> Iterator[Item]:
    """Read arXiv metadata from a binary stream; ``name`` is used in locations.

    Raises:
        SourceError: if the stream is not a format that can issue as a whole.
    """
    try:
        head = _read_head(stream)
        if head.startswith(b"\x1f\x8b"):
            unzipped = gzip.GzipFile(fileobj=io.BufferedReader(_Chain(head, stream)))
            stream = unzipped  # type: ignore[assignment]
            head = _read_head(stream)
    except (OSError, EOFError) as e:
        raise UnreadableInputError(f"cannot read: {e}", location=name) from e
    body = io.BufferedReader(_Chain(head, stream), buffer_size=HEAD_SIZE)
    kind = detect(head)
    if kind == "xml":
        yield from _read_xml(head, body, name)
    elif kind == "jsonl":
        yield from _snapshot.read(body, name)
    elif kind == "json":
        raise SourceError(
            location=name,
            message="a JSON document spread over several lines, not JSON lines",
            hint="the metadata snapshot has one record per line (arxiv-metadata-oai-snapshot.json)",
        )
    elif not head.strip():
        raise SourceError("empty input", location=name)
    else:
        raise SourceError(
            location=name,
            message="not arXiv metadata: neither XML (OAI-PMH, Atom) nor the JSON-lines snapshot",
            hint="pass an OAI-PMH arXivRaw response or snapshot lines as arXiv serves them",
        )


def _read_xml(head: bytes, body: IO[bytes], name: str) -> Iterator[Item]:
    if prolog_declares_doctype(head):
        raise SourceError(
            location=name,
            message="XML with a DOCTYPE or entity declaration is refused (arXiv never sends one; "
            "it could expand entities or fetch external files)",
        )
    events = iter_elements(body, name)
    try:
        _, root = next(events)
    except StopIteration:  # pragma: no cover - lxml raises on an empty document
        raise SourceError("empty XML document", location=name) from None
    if root.tag == _oai.ROOT:
        yield from _oai.read(events, name)
    elif root.tag == _atom.ROOT:
        yield from _atom.read(root, events, name)
    else:
        raise SourceError(
            f"XML root {root.tag!r} is not an arXiv response (OAI-PMH or Atom)", location=name
        )
