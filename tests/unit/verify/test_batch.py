"""``verify_many`` (``pith verify DIR --jobs N``): chunks of paths to workers, reports in order.

A fake pool stands in for the process pool: it records what it was sent and
runs a task only when the main process waits for one, as a slow worker
would. The main process must verify the newest chunks nobody has started
itself (so it works while workers start or lag), and every report must come
out in input order, exactly as a serial run gives them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from issuer.cli import _verify
from issuer.keys import verifier_keys
from issuer.verify import _batch
from tests.conformance.test_conformance import CASES


class SlowPool:
    """Every other task is taken by a worker at once, but runs only when waited on."""

    instances: list[SlowPool] = []  # noqa: RUF012 - the test reads what was made

    def __init__(self, workers: int, **kwargs: Any) -> None:
        self.tasks: list[tuple[Callable[..., Any], tuple[Any, ...], Future[Any]]] = []
        kwargs["initializer"](*kwargs["initargs"])  # what a worker does when it starts
        SlowPool.instances.append(self)

    def __enter__(self) -> SlowPool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        if len(self.tasks) % 2 == 0:
            future.set_running_or_notify_cancel()  # a worker took it: it cannot be cancelled
        self.tasks.append((fn, args, future))
        return future

    def run_oldest(self) -> None:
        for fn, args, future in self.tasks:
            if future.running() or (not future.done() and future.set_running_or_notify_cancel()):
                future.set_result(fn(*args))
                return

    @property
    def stolen(self) -> int:
        return sum(future.cancelled() for _, _, future in self.tasks)


def _fake_wait(futures: Iterable[Future[Any]]) -> None:
    for pool in SlowPool.instances:
        pool.run_oldest()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    many = tmp_path / "many"
    many.mkdir()
    cases = [c for c in CASES if (c / "bundle.json").is_file()][:13]
    for i, case in enumerate(cases):
        shutil.copy(case / "bundle.json", many / f"{i:03d}.json")
    return many


def _run(folder: Path, jobs: int) -> list[tuple[str, Any]]:
    trusted = verifier_keys([])
    return [
        (name, report.to_dict())
        for name, report in _batch.verify_many(
            _verify._inputs([str(folder), str(folder / "missing.json")]), trusted, None, jobs
        )
    ]


def test_chunks_of_paths_go_to_the_pool_and_reports_keep_input_order(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = _run(folder, 1)
    SlowPool.instances.clear()
    monkeypatch.setattr(_batch, "ProcessPoolExecutor", SlowPool)
    monkeypatch.setattr(_batch, "wait", _fake_wait)
    monkeypatch.setattr(_batch, "_PER_JOB", 3)
    monkeypatch.setattr(_batch, "_CHUNK", 2)
    parallel = _run(folder, 2)
    assert parallel == serial
    assert [name for name, _ in serial][:-1] == sorted(name for name, _ in serial[:-1])
    assert serial[-1][1]["checks"][-1]["step"] == "read"  # missing.json: read where verified
    [pool] = SlowPool.instances
    sent = [item for _, (chunk,), _ in pool.tasks for item in chunk]
    assert all(isinstance(source, Path) for _, source, _ in sent)  # paths, not bytes
    assert {len(chunk) for _, (chunk,), _ in pool.tasks} <= {1, 2}
    assert len(sent) == len(serial)
    # The main process verified some chunks itself, and the pool the rest.
    assert 0 < pool.stolen < len(pool.tasks)


def test_few_inputs_start_no_pool(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    SlowPool.instances.clear()
    monkeypatch.setattr(_batch, "ProcessPoolExecutor", SlowPool)
    assert len(_run(folder, 2)) == 14  # 13 bundles and the missing file
    assert SlowPool.instances == []


@pytest.mark.parametrize("size", [0, 5, 7, 8, 9, 15, 16, 17, 40])
def test_reading_stops_past_the_limit_whatever_the_first_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    from issuer import _fs
    from issuer.errors import FormatError

    monkeypatch.setattr(_fs, "_FIRST_READ", 8)
    path = tmp_path / "doc.json"
    path.write_bytes(bytes(range(size)))
    limit = 16
    if size > limit:
        with pytest.raises(FormatError):
            _fs.read_file_at_most(path, limit)
    else:
        assert _fs.read_file_at_most(path, limit) == bytes(range(size))
