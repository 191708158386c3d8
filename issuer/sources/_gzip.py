"""gzip-compressed input: read transparently, refused whole when it is damaged.

A gzip member ends with the CRC-32 and length of its data, so damage in the
middle of a file is only certain at its end. Issuing from a damaged file
would sign text arXiv never wrote, under a Pith number that can never change;
so a file that can be read twice (a regular file) is checked whole before
any record is read from it, and a corrupt, truncated or trailing-garbage file
is refused as unreadable (:class:`UnreadableInputError`, exit 2) with nothing
issued from it. Standard input cannot be read twice: it is checked as it
streams, and the error comes after the records read before the damage.

Several members one after the other (``cat a.gz b.gz``) are one valid file,
as gzip(1) reads them; zero bytes after the last member (tape padding) are
ignored, as gzip(1) does.

A gzip file may expand about a thousand times (a decompression bomb: a
megabyte of gzip can hold a gigabyte of newlines, each a Python step to
skip). arXiv's metadata compresses five to ten times, so past
:data:`EXPANSION_FLOOR` a file that has expanded more than
:data:`MAX_EXPANSION` times the gzip bytes read so far is refused as
unreadable: a gzip input costs at most what a plain file a hundred times its
size would.
"""

from __future__ import annotations

import gzip
import io
import zlib
from typing import IO

from issuer._fs import CountingReader
from issuer.errors import UnreadableInputError

MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
MAX_EXPANSION = 100
"""How many times its gzip bytes a gzip input may expand to, past the floor."""
EXPANSION_FLOOR = 64 << 20
"""Decompressed bytes read whatever the expansion (a small file may compress very well)."""


def is_gzip(head: bytes) -> bool:
    """Whether ``head`` starts a gzip stream."""
    return head.startswith(MAGIC)


def _unreadable(error: BaseException, name: str) -> UnreadableInputError:
    if isinstance(error, EOFError):
        what = "truncated gzip data (it ends before the end-of-stream marker)"
    elif isinstance(error, gzip.BadGzipFile) and "Not a gzipped file" in str(error):
        what = "gzip data followed by bytes that are not gzip (trailing garbage)"
    else:
        what = f"corrupt gzip data ({error})"
    return UnreadableInputError(
        f"cannot read: {what}",
        location=name,
        hint="download the file again; nothing was issued from the damaged part",
    )


class _Guarded(io.RawIOBase):
    """The decompressed bytes of a gzip stream; damage or a bomb raises UnreadableInputError."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self._read = CountingReader(stream)
        self._gz = gzip.GzipFile(fileobj=self._read, mode="rb")
        self._name = name
        self._out = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            n = self._gz.readinto(buffer)
        except (OSError, EOFError, zlib.error) as e:
            raise _unreadable(e, self._name) from e
        self._out += n
        if self._out > EXPANSION_FLOOR and self._out > MAX_EXPANSION * self._read.count:
            raise UnreadableInputError(
                f"cannot read: gzip data that expands more than {MAX_EXPANSION} times "
                f"({self._out >> 20} MiB from {self._read.count >> 10} KiB): "
                "no arXiv metadata compresses so well (a decompression bomb?)",
                location=self._name,
                hint="if the file is genuine, decompress it (gunzip) and give the result",
            )
        return n


def open_gzip(stream: IO[bytes], name: str) -> IO[bytes]:
    """The decompressed content of ``stream``, read as it streams."""
    return io.BufferedReader(_Guarded(stream, name), buffer_size=_CHUNK)


def check_whole(stream: IO[bytes], name: str) -> None:
    """Read a seekable gzip ``stream`` to its end, then rewind it; memory stays flat.

    Does nothing for a stream that is not gzip or cannot seek.

    Raises:
        UnreadableInputError: if the file is corrupt, truncated or has trailing garbage.
    """
    if not stream.seekable():
        return
    start = stream.tell()
    try:
        if not is_gzip(stream.read(len(MAGIC))):
            return
        stream.seek(start)
        reader = _Guarded(stream, name)
        buffer = bytearray(_CHUNK)
        while reader.readinto(buffer):
            pass
    finally:
        stream.seek(start)
