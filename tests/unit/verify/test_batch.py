"""``verify_many`` (``pith verify DIR --jobs N``): chunks of paths to workers, reports in order.

A fake pool stands in for the process pool: it records what it was sent and
runs a task only when the main process asks for its result, as a slow worker
would. The main process must leave every chunk to the workers, every report
must come out in input order, exactly as a serial run gives them, and a
report rebuilt from what a worker sends back must equal the worker's.
"""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from issuer.cli import _verify
from issuer.keys import verifier_keys
from issuer.verify import VerificationReport, _batch, verify_bundle_report
from issuer.verify._proofs import LogPolicy
from tests.conformance.test_conformance import CASES


class LazyFuture(Future[Any]):
    """A task's future that runs the task when its result is asked for."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        super().__init__()
        self.task = (fn, args)

    def result(self, timeout: float | None = None) -> Any:
        if not self.done() and self.set_running_or_notify_cancel():
            fn, args = self.task
            self.set_result(fn(*args))
        return super().result(timeout)


class LazyPool:
    """A pool whose workers run a task only when its result is awaited."""

    instances: list[LazyPool] = []  # noqa: RUF012 - the test reads what was made

    def __init__(self, workers: int, **kwargs: Any) -> None:
        self.futures: list[LazyFuture] = []
        kwargs["initializer"](*kwargs["initargs"])  # what a worker does when it starts
        LazyPool.instances.append(self)

    def __enter__(self) -> LazyPool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        self.futures.append(LazyFuture(fn, args))
        return self.futures[-1]


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
    LazyPool.instances.clear()
    monkeypatch.setattr(_batch, "ProcessPoolExecutor", LazyPool)
    monkeypatch.setattr(_batch, "_PER_JOB", 3)
    monkeypatch.setattr(_batch, "_CHUNK", 2)
    parallel = _run(folder, 2)
    assert parallel == serial
    assert [name for name, _ in serial][:-1] == sorted(name for name, _ in serial[:-1])
    assert serial[-1][1]["checks"][-1]["step"] == "read"  # missing.json: read where verified
    [pool] = LazyPool.instances
    sent = [item for future in pool.futures for item in future.task[1][0]]
    assert all(isinstance(source, str) for _, source, _ in sent)  # paths, not bytes
    assert [name for name, _, _ in sent] == [name for name, _ in serial]
    assert {len(future.task[1][0]) for future in pool.futures} <= {1, 2}
    # A chunk's reports come out as one batch; a serial run's one at a time.
    LazyPool.instances.clear()
    batches = list(
        _batch.verify_batches(
            _verify._inputs([str(folder), str(folder / "missing.json")]),
            verifier_keys([]),
            None,
            2,
        )
    )
    assert [len(b) for b in batches] == [len(f.task[1][0]) for f in LazyPool.instances[0].futures]
    assert [(n, r.to_dict()) for b in batches for n, r in b] == serial
    one_by_one = _batch.verify_batches(_verify._inputs([str(folder)]), verifier_keys([]), None, 1)
    assert {len(b) for b in one_by_one} == {1}
    # The main process verified no chunk itself: every one was run by a worker.
    assert not any(future.cancelled() for future in pool.futures)
    assert all(future.done() for future in pool.futures)


def _reports() -> list[tuple[str, VerificationReport]]:
    """Reports of every kind: valid, refused at each step, unreadable, too large, renamed."""
    trusted = verifier_keys([])
    reports = [
        (str(case), verify_bundle_report((case / "bundle.json").read_bytes(), trusted, str(case)))
        for case in CASES
        if (case / "bundle.json").is_file()
    ]
    reports += [
        ("gone.json", _batch.failure_report("gone.json", "read", "unreadable", "cannot read")),
        ("big.json", _batch.failure_report("big.json", "structure", "malformed", "too large")),
        ("<stdin>", verify_bundle_report(b"{}", trusted, "another name")),
    ]
    return reports


def test_reports_rebuilt_from_what_a_worker_sends_equal_the_workers() -> None:
    reports = _reports()
    assert any(r.ok for _, r in reports) and any(not r.ok and r.passed for _, r in reports)
    for name, report in reports:
        sent = pickle.loads(pickle.dumps(_batch._packed(name, report)))  # noqa: S301 - own bytes
        rebuilt = _batch._unpacked(name, sent)
        assert rebuilt == report
        assert rebuilt.to_dict() == report.to_dict()
        assert type(rebuilt.result) is type(report.result)


def test_a_worker_sends_plain_values_only() -> None:
    """What a worker pickles holds no dataclass: nothing the main process rebuilds by pickle."""
    allowed = (str, bool, int, list, tuple, type(None))

    def plain(value: object) -> bool:
        if isinstance(value, list | tuple):
            return all(plain(v) for v in value)
        return isinstance(value, allowed)

    assert all(plain(_batch._packed(name, report)) for name, report in _reports())


def test_a_worker_checks_what_it_is_sent(folder: Path) -> None:
    files = sorted(folder.iterdir())
    items = [(str(f), f, None) for f in files] + [("<stdin>", OSError(5, "I/O error"), None)]
    trusted = verifier_keys([])
    _batch._init_worker(trusted, LogPolicy())
    try:
        packed = _batch._check_chunk([_batch._sent(i) for i in items])
    finally:
        _batch._init_worker(trusted, None)
    expected = [_batch._check(n, s, c, trusted, LogPolicy()) for n, s, c in items]
    assert [_batch._unpacked(n, p) for (n, _, _), p in zip(items, packed, strict=True)] == expected


def test_few_inputs_start_no_pool(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    LazyPool.instances.clear()
    monkeypatch.setattr(_batch, "ProcessPoolExecutor", LazyPool)
    assert len(_run(folder, 2)) == 14  # 13 bundles and the missing file
    assert LazyPool.instances == []


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
