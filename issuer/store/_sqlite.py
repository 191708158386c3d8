"""The SQLite connection of the embedded registry: WAL, one writer at a time, no server.

A write transaction is ``BEGIN IMMEDIATE``: it takes the database's write
lock at once, so concurrent issuers queue rather than interleave, and readers
(WAL) never wait for a writer. The schema version is SQLite's
``user_version``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from issuer.errors import StoreError
from issuer.store._db import Cursor

#: The first 16 bytes of every SQLite database file (its file format's "magic header string").
SQLITE_HEADER = b"SQLite format 3\x00"
WHAT_TO_CHECK = (
    "check --registry and PITH_REGISTRY: a registry is a file that pith issue or "
    "pith registry migrate created"
)


def file_state(path: Path) -> Literal["absent", "empty", "sqlite"]:
    """What ``path`` holds: nothing yet, an empty file, or an SQLite database.

    Looked at before SQLite opens ``path``, which would make an empty file a
    database, and could write beside any other file (``-wal``, ``-shm``): a file
    that is not ours is refused and left exactly as it is.

    Raises:
        StoreError: ``path`` is a file that is not an SQLite database, or cannot be read.
    """
    if not path.is_file():
        return "absent"  # or a directory, a device...: SQLite's own error names it
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError as e:
        raise StoreError(f"cannot open registry {path}: {e.strerror or e}") from e
    if not head:
        return "empty"
    if head != SQLITE_HEADER:
        raise StoreError(f"{path} is not an SQLite database, so not a registry", hint=WHAT_TO_CHECK)
    return "sqlite"


#: How long an empty file may take to become a database before it is taken for someone
#: else's: SQLite creates the file empty, and writes its header a moment later.
CREATING_SECONDS = 2.0


def settled_state(path: Path) -> Literal["absent", "empty", "sqlite"]:
    """:func:`file_state` of ``path``, an empty file given a moment to become a database.

    Two ``pith issue`` starting at once on a new registry: the second can find
    the file the first has just created, before its header is written.

    Raises:
        StoreError: as :func:`file_state`.
    """
    deadline = time.monotonic() + CREATING_SECONDS
    state = file_state(path)
    while state == "empty" and time.monotonic() < deadline:
        time.sleep(0.02)
        state = file_state(path)
    return state


def empty_file_hint(path: Path) -> str:
    """What to do about an empty file named as the registry."""
    return (
        f"to make it a registry, run: pith registry migrate --registry {path}; else {WHAT_TO_CHECK}"
    )


class SqliteDb:
    """One connection to a registry file."""

    conflicts: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
    values_per_query = 900  # under SQLite's limit on bound parameters

    def __init__(self, path: Path, *, timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
                self._configure()
                return
            except sqlite3.OperationalError as e:
                # Switching a new file to WAL needs an exclusive lock and does not wait
                # for it: a second process opening the registry at that moment retries.
                with contextlib.suppress(AttributeError):
                    self._db.close()
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise StoreError(f"cannot open registry {self.path}: {e}") from e
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except (sqlite3.DatabaseError, OSError) as e:
                raise StoreError(f"cannot open registry {self.path}: {e}") from e

    def _configure(self) -> None:
        db = self._db
        # 16 KiB pages hold several ~2 KB event rows each (4 KiB pages held one).
        # Takes effect only when the file is created.
        db.execute("PRAGMA page_size=16384")
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode=WAL")
        # Checkpoint every 64 MiB of WAL rather than 4 MiB: fewer, larger syncs.
        db.execute("PRAGMA wal_autocheckpoint=4096")
        # A 256 MiB page cache keeps the hot part of the randomly ordered code index of
        # a multi-million record registry in memory; it is a bound, so memory stays flat.
        db.execute("PRAGMA cache_size=-262144")
        # WAL + NORMAL: a commit is on disk at the next checkpoint, not at once; a power
        # cut can lose the last batches (a re-run issues them again) but never corrupts.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        try:
            return self._db.execute(sql, params)
        except self.conflicts:
            raise
        except sqlite3.Error as e:
            raise self._error(e) from e

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self._db.executemany(sql, rows)
        except self.conflicts:
            raise
        except sqlite3.Error as e:
            raise self._error(e) from e

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        # An SQLite cursor already steps through the result a row at a time.
        try:
            yield from self._db.execute(sql, params)
        except sqlite3.Error as e:
            raise self._error(e) from e

    def text_values(self, values: Sequence[str]) -> tuple[str, list[Any]]:
        return "VALUES " + ",".join(["(CAST(? AS TEXT))"] * len(values)), list(values)

    def load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        marks = ", ".join("?" * len(columns))
        self.executemany(f"INSERT INTO {table}({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608 - constants

    def _error(self, e: sqlite3.Error) -> StoreError:
        return StoreError(
            f"registry {self.path}: {e}",
            hint="another pith process may hold it, or the disk is full or failing",
        )

    def begin_write(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise StoreError(
                f"registry is locked: {e}", hint="another pith process holds it"
            ) from e

    def commit(self) -> None:
        self._db.execute("COMMIT")

    def rollback(self) -> None:
        # An interrupt (Ctrl-C) can land after COMMIT ran or before BEGIN did: a
        # ROLLBACK then would fail with "no transaction is active" and hide the interrupt.
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on this connection."""
        return self._db.in_transaction

    def schema_version(self) -> int | None:
        # A new file is at user_version 0: the same as "no registry yet", which
        # migrating from 0 creates.
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, version: int) -> None:
        self._db.execute(f"PRAGMA user_version={int(version)}")

    def ddl(self, statement: str) -> str:
        return statement

    def close(self) -> None:
        """Checkpoint the WAL into the database with a full sync, then close."""
        # Another process may be reading; then its own close() checkpoints.
        with contextlib.suppress(sqlite3.OperationalError):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()
