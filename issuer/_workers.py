"""Signing worker processes: one in-memory key per process, gone when the parent is.

Issuance and re-issuance spread their work over processes that each hold
the signing seed. Workers are spawned, not forked, so they inherit no open
database handle; they get the key id and seed over the pool's pipe, and
each exits when the process that started it dies, even by SIGKILL. They do
not import the parent's main module (only :mod:`issuer` functions run in
them), which was most of a worker's start-up.

They do not get the operator's secrets either: the environment a worker
starts with is the parent's without ``PITH_KEY_PASSPHRASE``,
``PITH_PKCS11_PIN`` or any other ``PITH_*`` variable naming a passphrase,
PIN, password or secret (a worker needs only the seed, and a secret in its
environment would be readable in ``/proc/PID/environ`` for as long as it
runs). The parent's own environment is left as it is. multiprocessing has
no option for a child's environment, so the spawn start method's launch is
repeated here with ``os.posix_spawn``, which takes one. The same goes for
multiprocessing's resource tracker, a child that the pool's queues start
and that lives as long as the parent does.
"""

from __future__ import annotations

import io
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import context, popen_spawn_posix, reduction, resource_tracker, spawn, util
from typing import Any

from issuer.keys import SeedSigner, Signer

_signer: Signer | None = None
_SECRET_WORDS = frozenset({"PASSPHRASE", "PIN", "PASSWORD", "SECRET"})
# The registry URL may hold a database password, and libpq's own variables hold or point at
# one (workers sign; they never open the registry).
_REGISTRY_SECRETS = frozenset({"PITH_REGISTRY", "PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE"})


def is_secret_variable(name: str) -> bool:
    """Whether the environment variable ``name`` holds (or points at) one of pith's secrets."""
    upper = name.upper()
    if upper in _REGISTRY_SECRETS:
        return True
    parts = upper.split("_")
    return parts[0] == "PITH" and not _SECRET_WORDS.isdisjoint(parts[1:])


def worker_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a worker starts with: ``environ`` (default ours) without secrets."""
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if not is_secret_variable(k)}


def _spawn(path: str, args: list[str], passfds: list[int]) -> int:
    """``util.spawnv_passfds`` with the worker environment: start ``args``, keep ``passfds``."""
    fds = sorted(set(passfds))
    made_inheritable = [fd for fd in fds if not os.get_inheritable(fd)]
    for fd in made_inheritable:  # only for the spawn: exec closes the others' copies
        os.set_inheritable(fd, True)
    try:
        return os.posix_spawn(path, args, worker_environment())
    finally:
        for fd in made_inheritable:
            os.set_inheritable(fd, False)


def worker_preparation(name: str) -> dict[str, Any]:
    """What a spawned worker sets up before it runs: spawn's, without the parent's main module.

    Spawn has a child import the parent's ``__main__`` (the ``pith`` command
    line with its CLI, or a benchmark script) so that functions defined there
    can be found. A signing worker runs only :mod:`issuer` functions, named by
    module, and importing the main module cost each worker most of its start-up
    (about half a second of CPU): it is left out.
    """
    data: dict[str, Any] = spawn.get_preparation_data(name)
    data.pop("init_main_from_path", None)
    data.pop("init_main_from_name", None)
    return data


def _close_fds(*fds: int) -> None:
    for fd in fds:
        os.close(fd)


class _Popen(popen_spawn_posix.Popen):
    """CPython's spawn launch (multiprocessing/popen_spawn_posix.py), through :func:`_spawn`."""

    _fds: list[int]  # set by popen_spawn_posix.Popen; not in typeshed

    def _launch(self, process_obj: Any) -> None:
        tracker_fd = resource_tracker.getfd()
        if tracker_fd is None:  # pragma: no cover - getfd() starts the tracker first
            raise OSError("multiprocessing's resource tracker did not start")
        self._fds.append(tracker_fd)
        prep_data = worker_preparation(process_obj._name)
        fp = io.BytesIO()
        context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, fp)
            reduction.dump(process_obj, fp)
        finally:
            context.set_spawning_popen(None)

        parent_r = child_w = child_r = parent_w = None
        try:
            parent_r, child_w = os.pipe()
            child_r, parent_w = os.pipe()
            cmd = spawn.get_command_line(tracker_fd=tracker_fd, pipe_handle=child_r)
            self._fds.extend([child_r, child_w])
            self.pid = _spawn(spawn.get_executable(), cmd, self._fds)
            self.sentinel = parent_r
            with open(parent_w, "wb", closefd=False) as f:
                f.write(fp.getbuffer())
        finally:
            fds_to_close = [fd for fd in (parent_r, parent_w) if fd is not None]
            self.finalizer = util.Finalize(self, _close_fds, fds_to_close)
            for fd in (child_r, child_w):
                if fd is not None:
                    os.close(fd)


class _Process(context.SpawnProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> Any:  # noqa: N802 - multiprocessing's name
        return _Popen(process_obj)


class _Context(context.SpawnContext):
    """The spawn start method, children started without the operator's secrets."""

    Process = _Process


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


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker, if it is not running, without the secrets.

    CPython starts it with ``util.spawnv_passfds``, which hands the child our
    whole environment; for this one start, that function is :func:`_spawn`
    (the same arguments, the worker environment).
    """
    launch = util.spawnv_passfds
    util.spawnv_passfds = _spawn  # type: ignore[assignment] # paths and args are str here
    try:
        resource_tracker.ensure_running()
    finally:
        util.spawnv_passfds = launch


def signing_pool(signer: SeedSigner, workers: int) -> ProcessPoolExecutor:
    """``workers`` spawned processes, each holding ``signer``'s key and none of the secrets."""
    _start_resource_tracker()
    return ProcessPoolExecutor(
        workers,
        mp_context=_Context(),
        initializer=_init,
        initargs=signer.worker_args(),
    )
