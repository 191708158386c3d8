"""arXiv metadata in, :class:`SourceMetadata` out, whatever format arXiv served.

:func:`read` detects the format from the first bytes and streams the input
in constant memory:

- OAI-PMH ``arXivRaw`` (GetRecord, ListRecords pages) — issues;
- the JSON-lines metadata snapshot — issues;
- the API's Atom feed and OAI ``arXiv`` — recognised and refused per record,
  naming what is missing or altered (spec §3);
- OAI-PMH error responses and the API's error feed — :class:`SourceError`.

gzip-compressed input is read transparently; a damaged gzip file is refused
as unreadable (see :mod:`issuer.sources._gzip`). Per-record problems are
yielded as :class:`Refusal`, with ``FILE:LINE``; only problems with the file
as a whole raise. Every record is checked against the source grammar
(:mod:`issuer.identifiers`) the verifier uses, so what issues verifies.

Memory is bounded by the input's records, not its size: a snapshot line is
read up to 8 MiB (a longer one is refused and skipped), an OAI-PMH record up
to 4 MiB, and every XML element is freed once read.

A UTF-8 byte-order mark at the start of a file is skipped (arXiv never writes
one, some editors do; it is not part of any record). XML may also be UTF-16,
with or without a byte-order mark, as the XML declaration says; XML declared
in any other encoding is refused as a whole.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

from issuer._fs import shown_path
from issuer.errors import SourceError, UnreadableInputError
from issuer.sources import _atom, _blocks, _gzip, _oai, _snapshot
from issuer.sources._blocks import MAX_BLOCK_BYTES, LineBlock
from issuer.sources._model import (
    Item,
    Notice,
    Refusal,
    SourceMetadata,
    entries_prefix,
    parse_arxiv_date,
)
from issuer.sources._rawxml import RawRecord
from issuer.sources._xml import (
    DOCTYPE_REFUSED,
    ElementStream,
    looks_like_xml,
    prolog_declares_doctype,
    refused_encoding,
)

__all__ = [
    "MAX_BLOCK_BYTES",
    "Item",
    "LineBlock",
    "Notice",
    "RawRecord",
    "Refusal",
    "SourceMetadata",
    "check_gzip",
    "detect",
    "entries_prefix",
    "parse_arxiv_date",
    "read",
    "read_blocks",
    "read_stream",
]

UTF8_BOM = b"\xef\xbb\xbf"

HEAD_SIZE = 1 << 16
STDIN = "-"


class _Chain(io.RawIOBase):
    """A raw stream that serves ``head`` and then the rest of ``stream``.

    A read of ``stream`` that fails (a disk or network file system error past the
    first bytes) raises :class:`UnreadableInputError` naming ``name``, wherever the
    reader is in the input.
    """

    def __init__(self, head: bytes, stream: IO[bytes], name: str) -> None:
        self._head = memoryview(head)
        self._stream = stream
        self._name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        try:
            data = self._stream.read(len(buffer))
        except OSError as e:
            raise UnreadableInputError(
                f"cannot read: {e.strerror or e}", location=self._name
            ) from e
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
    if looks_like_xml(head):
        return "xml"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
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
    name = shown_path(path)
    if name == STDIN:
        yield from read_stream(sys.stdin.buffer, "<stdin>")
        return
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below, after streaming
    except OSError as e:
        raise UnreadableInputError(f"cannot read: {e.strerror or e}", location=name) from e
    with stream:
        yield from read_stream(stream, name)


def check_gzip(stream: IO[bytes], name: str) -> None:
    """Check a seekable gzip ``stream`` whole and rewind it; nothing for other streams.

    :func:`read_stream` does this itself for a seekable stream; call it first
    when the stream handed to :func:`read_stream` is a wrapper that cannot seek.

    Raises:
        UnreadableInputError: if the gzip data is corrupt, truncated or has trailing garbage.
    """
    try:
        _gzip.check_whole(stream, name)
    except OSError as e:  # reading the file itself failed
        raise UnreadableInputError(f"cannot read: {e.strerror or e}", location=name) from e


def read_stream(stream: IO[bytes], name: str) -> Iterator[Item]:
    """Read arXiv metadata from a binary stream; ``name`` is used in locations.

    Raises:
        SourceError: if the stream is not a format that can issue as a whole;
            :class:`UnreadableInputError` if it cannot be read (damaged gzip included).
    """
    # Without a block size, _read yields items only (no LineBlock, no RawRecord); handed
    # on whole, with no Python loop over them (tests/unit/test_derive_fast.py checks the
    # samples' items).
    yield from cast("Iterator[Item]", _read(stream, name, None))


def read_blocks(stream: IO[bytes], name: str, lines: int) -> Iterator[Item | LineBlock | RawRecord]:
    """:func:`read_stream`, leaving the records' reading to whoever they are handed to.

    The JSON-lines snapshot comes as raw blocks of ``lines`` lines: each
    :class:`LineBlock` is parsed where it is handed (:meth:`LineBlock.items`
    yields what :func:`read_stream` would have, with the same locations); a line
    too long to read is yielded as its :class:`Refusal`. An OAI-PMH page is read
    here as far as its structure (deleted records, formats that cannot issue,
    errors, resumption tokens); each ``arXivRaw`` record comes as a
    :class:`RawRecord`, whose :meth:`RawRecord.read` gives what
    :func:`read_stream` would have. Atom is read here whole (it never issues).

    Raises:
        SourceError: as :func:`read_stream`.
    """
    yield from _read(stream, name, lines)


def _read(
    stream: IO[bytes], name: str, lines: int | None
) -> Iterator[Item | LineBlock | RawRecord]:
    check_gzip(stream, name)
    try:
        head = _read_head(stream)
        if _gzip.is_gzip(head):
            stream = _gzip.open_gzip(io.BufferedReader(_Chain(head, stream, name)), name)
            head = _read_head(stream)
    except OSError as e:
        raise UnreadableInputError(f"cannot read: {e.strerror or e}", location=name) from e
    kind = detect(head)
    if kind == "jsonl" and head.startswith(UTF8_BOM):
        head = head[len(UTF8_BOM) :]  # documented: a BOM at the start of the file is skipped
    body = io.BufferedReader(_Chain(head, stream, name), buffer_size=HEAD_SIZE)
    if kind == "xml":
        yield from _read_xml(head, body, name, raw=lines is not None)
    elif kind == "jsonl" and lines is not None:
        yield from _blocks.blocks(body, name, lines)
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


def _read_xml(head: bytes, body: IO[bytes], name: str, raw: bool) -> Iterator[Item | RawRecord]:
    if prolog_declares_doctype(head):
        raise SourceError(DOCTYPE_REFUSED, location=name)
    if (encoding := refused_encoding(head)) is not None:
        raise SourceError(
            f"XML declared in encoding {encoding!r}, which arXiv never serves, is refused",
            location=name,
            hint="convert the file to UTF-8 (e.g. iconv -t UTF-8) and fix its XML declaration",
        )
    stream = ElementStream(body, name)
    events = iter(stream)
    try:
        _, root = next(events)
    except StopIteration:  # pragma: no cover - lxml raises on an empty document
        raise SourceError("empty XML document", location=name) from None
    if root.tag == _oai.ROOT:
        yield from _oai.read(stream, events, name, raw)
    elif root.tag == _atom.ROOT:
        yield from _atom.read(root, events, name)
    else:
        raise SourceError(
            f"XML root {root.tag!r} is not an arXiv response (OAI-PMH or Atom)", location=name
        )
