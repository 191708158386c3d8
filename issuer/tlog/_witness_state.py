"""A witness's memory: the last checkpoint it cosigned for each log, in one JSON file.

The file is what keeps a witness honest across restarts: a witness that
forgot its state would cosign a smaller tree (a rollback) or another history
(a split view) as readily as the right one. So:

- a missing file is a witness that never cosigned anything; a file that
  cannot be read or parsed is an error (:class:`~issuer.errors.StoreError`),
  never an empty state: the witness refuses to run rather than start over;
- every change holds a lock for the whole check-and-update: a
  :class:`threading.Lock` between the server's threads, and an exclusive
  ``flock`` on ``FILE.lock`` between processes (``pith witness serve`` and
  ``pith witness cosign`` on the same file), as the spec requires;
- the file is replaced atomically and durably (temporary file, fsync, rename,
  fsync of the directory) before a cosignature leaves the witness.

Contents (canonical JSON, ``issuer.cjson``): ``{"logs": {ORIGIN: {"checkpoint":
SIGNED_NOTE}}, "version": 1}``, where ``SIGNED_NOTE`` is the checkpoint as
the log signed it (its text and the log signatures the witness verified), so
the file is also evidence should the log later show another history. Tree
sizes are read back from the checkpoint text, which allows sizes up to 2^63−1
(canonical JSON integers stop at 2^53).

Which checkpoints to accept is :mod:`._witness`'s business.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from issuer import cjson
from issuer._fs import atomic_write
from issuer.errors import FormatError, StoreError
from issuer.tlog._checkpoint import Checkpoint
from issuer.tlog._note import Note

logger = logging.getLogger(__name__)

STATE_VERSION = 1
MAX_STATE_SIZE = cjson.MAX_DOCUMENT_BYTES
"""Largest state file (16 MiB, the canonical JSON reader's limit): a write that would
exceed it is refused, so the file on disk always stays readable."""


@dataclass(frozen=True)
class Cosigned:
    """The last checkpoint a witness cosigned for one log, and its signed note."""

    checkpoint: Checkpoint
    note: Note

    @classmethod
    def of(cls, note: Note) -> Cosigned:
        """The record of ``note``, whose text must be a checkpoint.

        Raises:
            FormatError: if the text is not a checkpoint.
        """
        return cls(Checkpoint.from_text(note.text), note)


class WitnessState:
    """The state file of one witness; safe to share between threads and processes.

    Args:
        path: the JSON file (created on the first cosignature, with its directory).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @property
    def lock_path(self) -> Path:
        """The file locked (``flock``) while the state changes."""
        return self.path.with_name(self.path.name + ".lock")

    def read(self) -> dict[str, Cosigned]:
        """The last cosigned checkpoint of each log, as the file holds it now.

        Raises:
            StoreError: the file exists but cannot be read or is not a witness state.
        """
        try:
            with self.path.open("rb") as f:
                data = f.read(MAX_STATE_SIZE + 1)
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise StoreError(f"cannot read the witness state {self.path}: {e.strerror}") from e
        if len(data) > MAX_STATE_SIZE:
            raise StoreError(f"the witness state {self.path} is larger than any this writes")
        try:
            return _parse(cjson.loads(data))
        except FormatError as e:
            raise StoreError(
                f"the witness state {self.path} is corrupt: {e.message}",
                hint="restore it from a backup; a witness that forgets what it cosigned "
                "could be made to cosign a rollback or a split view",
            ) from e

    @contextlib.contextmanager
    def changing(self) -> Iterator[dict[str, Cosigned]]:
        """Hold both locks, yield the current state, and write it back if the block succeeds.

        The caller mutates the dict it is given; on an exception nothing is written.

        Raises:
            StoreError: the state cannot be locked, read or written.
        """
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(
                    self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
                )
            except OSError as e:
                raise StoreError(f"cannot lock the witness state {self.path}: {e.strerror}") from e
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # another process: wait for its short update
                logs = self.read()
                before = dict(logs)
                yield logs
                if logs != before:
                    self._write(logs)
            finally:
                os.close(fd)  # releases the flock

    def _write(self, logs: dict[str, Cosigned]) -> None:
        document = {
            "logs": {
                origin: {"checkpoint": c.note.to_bytes().decode()} for origin, c in logs.items()
            },
            "version": STATE_VERSION,
        }
        data = cjson.dumps(document)
        if len(data) > MAX_STATE_SIZE:
            raise StoreError(f"the witness state would exceed {MAX_STATE_SIZE} bytes")
        try:
            atomic_write(self.path, data, mode=0o600)
        except OSError as e:
            raise StoreError(f"cannot write the witness state {self.path}: {e.strerror}") from e
        logger.debug("witness state %s written (%d logs)", self.path, len(logs))


def _parse(document: Any) -> dict[str, Cosigned]:
    """Read a state document.

    Raises:
        FormatError: if it is not one.
    """
    if not isinstance(document, dict) or document.get("version") != STATE_VERSION:
        raise FormatError(f"not a version {STATE_VERSION} witness state")
    logs = document.get("logs")
    if not isinstance(logs, dict) or set(document) != {"logs", "version"}:
        raise FormatError('expected {"logs": {...}, "version": 1}')
    out = {}
    for origin, entry in logs.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("checkpoint"), str):
            raise FormatError(f"log {origin!r}: no checkpoint")
        cosigned = Cosigned.of(Note.parse(entry["checkpoint"].encode()))
        if cosigned.checkpoint.origin != origin:
            raise FormatError(f"log {origin!r}: the checkpoint is of {cosigned.checkpoint.origin}")
        out[origin] = cosigned
    return out
