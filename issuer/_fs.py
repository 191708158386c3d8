"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Write to a temporary file in the same directory (created with the final
mode, so a secret is never readable by others even for a moment), fsync it,
rename it over the target, then fsync the directory so the rename survives
a crash.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO

from issuer.errors import FormatError


def atomic_write(
    path: str | Path,
    data: bytes,
    mode: int = 0o644,
    *,
    durable: bool = True,
    parent_exists: bool = False,
) -> None:
    """Replace ``path`` with ``data`` atomically, the new file having ``mode``.

    ``durable=False`` skips both fsyncs: the write is still atomic for every
    reader, and survives a crash of this process, but not a power cut until
    the caller syncs (publishing thousands of files syncs once, at the end).
    ``parent_exists``: the caller made the directory already, so it is not
    made again (a directory removed meanwhile is an ``OSError``, as any other).

    Raises:
        OSError: if the directory is not writable or the disk is full; the
            previous file, if any, is left untouched.
    """
    # Plain strings and os calls: publishing writes four files a record, and
    # pathlib's parsing of each path cost more than the writes' system calls.
    target = os.fspath(path)
    directory, name = os.path.split(target)
    if not parent_exists:
        Path(directory).mkdir(parents=True, exist_ok=True)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)  # the umask may have narrowed it; this makes it exact
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if not durable:
        return
    dir_fd = os.open(directory or ".", os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``PATH.lock`` for the block (made, mode 0600, if missing).

    For a read-merge-write of a file that several processes update: under the
    lock, read the file again, merge and :func:`atomic_write` it, and no
    writer's update is lost.

    Raises:
        OSError: if the lock file cannot be made or opened.
    """
    lock = os.fspath(path) + ".lock"
    Path(lock).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


_FIRST_READ = 1 << 16


def read_at_most(stream: BinaryIO, limit: int) -> bytes:
    """All of ``stream``, refused once it passes ``limit`` bytes (read no further).

    Raises:
        FormatError: ``stream`` holds more than ``limit`` bytes.
    """
    # A read asks for a buffer of the size it names: ask for a little first (most
    # documents are small), and for the rest of the limit only when there is more.
    data = stream.read(min(limit + 1, _FIRST_READ))
    if len(data) == _FIRST_READ:
        data += stream.read(limit + 1 - _FIRST_READ)
    if len(data) > limit:
        raise FormatError(
            f"more than {limit:,} bytes, the most a document may hold",
            hint="this is not a document the toolkit reads",
        )
    return data


def read_file_at_most(path: Path | str, limit: int) -> bytes:
    """The bytes of ``path``, refused past ``limit`` without reading the rest.

    Raises:
        OSError: the file cannot be opened or read.
        FormatError: it holds more than ``limit`` bytes.
    """
    with open(path, "rb") as f:
        return read_at_most(f, limit)


def shown_path(path: str | Path) -> str:
    r"""``path`` as text to print and to write in JSON, whatever bytes its name holds.

    A name that is not UTF-8 reaches Python with lone surrogates, which no
    UTF-8 output (canonical JSON) can hold: each such byte is shown as ``\xNN``.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


class CountingReader(io.RawIOBase):
    """``stream``, counting in ``count`` the bytes read from it so far."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)
