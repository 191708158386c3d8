"""Signing worker processes: one in-memory key per process, gone when the parent is.

Issuance and re-issuance spread their work over processes that each hold
the signing seed. Workers are spawned, not forked, so they inherit no open
database handle; they get the key id and seed over the pool's pipe, and
each exits when the process that started it dies, even by SIGKILL.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import ProcessPoolExecutor

from issuer.keys import SeedSigner, Signer

_signer: Signer | None = None


def _init(key_id: str, seed: bytes) -> None:
    global _signer  # noqa: PLW0603 - one signer per worker process
    _signer = SeedSigner(key_id, seed)
    threading.Thread(target=_exit_with_parent, daemon=True).start()


def _exit_with_parent() -> None:
    """End this worker when its parent dies.

    A pool worker otherwise waits forever on its task queue (it holds both
    ends of the pipe, so it never sees EOF) and lives on as an orphan that
    keeps the key in memory.
    """
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)


def worker_signer() -> Signer:
    """The signer of this worker process."""
    assert _signer is not None  # noqa: S101 - set by the pool initializer
    return _signer


def signing_pool(signer: SeedSigner, workers: int) -> ProcessPoolExecutor:
    """``workers`` spawned processes, each holding ``signer``'s key."""
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init,
        initargs=signer.worker_args(),
    )
