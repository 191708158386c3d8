"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Write to a temporary file in the same directory (created with the final
mode, so a secret is never readable by others even for a moment), fsync it,
rename it over the target, then fsync the directory so the rename survives
a crash.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def atomic_write(path: Path, data: bytes, mode: int = 0o644, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically, the new file having ``mode``.

    ``durable=False`` skips both fsyncs: the write is still atomic for every
    reader, and survives a crash of this process, but not a power cut until
    the caller syncs (publishing thousands of files syncs once, at the end).

    Raises:
        OSError: if the directory is not writable or the disk is full; the
            previous file, if any, is left untouched.
    """
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed it; this makes it exact
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if not durable:
        return
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
