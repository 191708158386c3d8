"""Verifying many inputs in input order, on one process or several (``pith verify --jobs``).

An input is a name, its bytes (or the error getting them, or a file to read),
and the record it was asked for. :func:`verify_many` yields one
:class:`~issuer.verify.VerificationReport` per input, in input order, however
many processes verify them. Files are read by the process that verifies them,
so a large directory goes to the workers as paths.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import multiprocessing
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from pathlib import Path

from issuer._fs import read_file_at_most
from issuer.cjson import MAX_DOCUMENT_BYTES
from issuer.errors import Error, FormatError
from issuer.keys.keyset import KeySet
from issuer.reasons import Reason
from issuer.verify._proofs import LogPolicy
from issuer.verify._verifier import VerificationReport, verify_bundle_report

logger = logging.getLogger(__name__)

# An input's bytes, the error getting them, or a file to read where it is verified.
InputSource = bytes | Exception | Path
VerifyInput = tuple[str, InputSource, str | None]


LIMIT = MAX_DOCUMENT_BYTES  # read no further: a larger input is refused as it is read


def read_input(read: Callable[[], bytes]) -> bytes | Exception:
    """The bytes ``read`` returns, or the error reading them (reported for that input)."""
    try:
        return read()
    except (OSError, FormatError) as e:
        return e


def _why(error: Exception) -> str:
    if isinstance(error, Error):
        return error.message
    if isinstance(error, OSError):
        return f"cannot read: {error.strerror or error}"
    return str(error)


def verify_many(
    inputs: Iterable[VerifyInput],
    trusted: KeySet,
    log: LogPolicy | None,
    jobs: int,
) -> Iterator[tuple[str, VerificationReport]]:
    """(name, report) for every input, in input order, verified by ``jobs`` processes.

    A run of fewer than ``jobs * _PER_JOB`` inputs never starts a process.
    Otherwise the pool starts once; inputs go to it in chunks of ``_CHUNK``,
    at most ``jobs * _PER_JOB`` inputs in flight (memory is bounded by that,
    not by the number of inputs). While the oldest chunk is unfinished, this
    process verifies the newest chunk no worker has started, so it works
    while the workers start up and when they fall behind; reports are
    yielded in input order all the same.
    """
    items = iter(inputs)
    window = max(1, jobs) * _PER_JOB
    first = list(itertools.islice(items, window))
    if jobs <= 1 or len(first) < window:
        for name, source, code in itertools.chain(first, items):
            yield name, _check(name, source, code, trusted, log)
        return
    for stream in (sys.stdout, sys.stderr):  # a forked worker must not write them again
        stream.flush()
    with ProcessPoolExecutor(
        jobs,
        mp_context=multiprocessing.get_context(_START_METHOD),
        initializer=_init_worker,
        initargs=(trusted, log),
    ) as pool:
        chunks = _chunks(itertools.chain(first, items))
        pending: deque[_Chunk] = deque()
        while True:
            while len(pending) * _CHUNK < window and (chunk := next(chunks, None)):
                pending.append(_Chunk(chunk, pool.submit(_check_chunk, chunk)))
            if not pending:
                return
            head = pending.popleft()
            while head.reports is None and not head.future.done():
                if not _steal([head, *pending][::-1], trusted, log):
                    wait([head.future])
            reports = head.reports if head.reports is not None else head.future.result()
            yield from zip((name for name, _, _ in head.items), reports, strict=True)


@dataclasses.dataclass
class _Chunk:
    """Inputs sent to the pool together; ``reports`` once this process verified them itself."""

    items: list[VerifyInput]
    future: Future[list[VerificationReport]]
    reports: list[VerificationReport] | None = None


def _chunks(items: Iterator[VerifyInput]) -> Iterator[list[VerifyInput]]:
    while chunk := list(itertools.islice(items, _CHUNK)):
        yield chunk


def _steal(newest_first: list[_Chunk], trusted: KeySet, log: LogPolicy | None) -> bool:
    """Verify here the first chunk no worker has started; whether there was one."""
    for chunk in newest_first:
        if chunk.reports is None and chunk.future.cancel():
            chunk.reports = [_check(n, s, c, trusted, log) for n, s, c in chunk.items]
            return True
    return False


# On Linux a worker is a fork of this process: it starts with the verifier imported
# (a spawned one imports the whole command line again, about a second of CPU, which
# is what 2,000 bundles take). The pool forks its workers before it starts its own
# thread, so no thread runs at the fork. Elsewhere, fork is unsafe: spawn.
_START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"
_PER_JOB = 512  # inputs in flight per process
_CHUNK = 32  # inputs sent to a process at a time
_worker_trust: tuple[KeySet, LogPolicy | None] | None = None


def _init_worker(trusted: KeySet, log: LogPolicy | None) -> None:
    global _worker_trust  # noqa: PLW0603 - one trust per worker process
    _worker_trust = (trusted, log)


def _check_chunk(chunk: list[VerifyInput]) -> list[VerificationReport]:
    assert _worker_trust is not None  # noqa: S101 - set by _init_worker
    return [_check(name, source, code, *_worker_trust) for name, source, code in chunk]


def _check(
    name: str,
    source: InputSource,
    expected: str | None,
    trusted: KeySet,
    log: LogPolicy | None,
) -> VerificationReport:
    """One input's report: unreadable (step ``read``), too large (malformed), or verified."""
    data = (
        read_input(functools.partial(read_file_at_most, source, LIMIT))
        if isinstance(source, Path)
        else source
    )
    if isinstance(data, FormatError):  # larger than any document: read no further
        return failure_report(name, "structure", str(Reason.MALFORMED), data.message)
    if isinstance(data, Exception):
        return failure_report(name, "read", str(Reason.UNREADABLE), _why(data))
    return _verify_one(data, trusted, name, expected, log)


def failure_report(source: str, step: str, reason: str, message: str) -> VerificationReport:
    """A result for an input that never reached the verifier, in the same --json shape."""
    return VerificationReport(source, False, [], step, reason, message)


def _verify_one(
    data: bytes, trusted: KeySet, name: str, expected: str | None, log: LogPolicy | None = None
) -> VerificationReport:
    """Verify one input; a document too deep or too large to parse is a malformed one.

    The parser bounds these; this keeps one hostile input from ending a run of many
    if a bound is missed (Python refuses > 4,300-digit integers with ValueError,
    deep nesting with RecursionError).
    """
    try:
        report = verify_bundle_report(data, trusted, name, expected=expected, log=log)
    except (ValueError, RecursionError, MemoryError) as e:
        logger.debug("%s: parser refused the document", name, exc_info=True)
        why = "nested too deeply" if isinstance(e, RecursionError) else "too large to parse"
        return failure_report(name, "structure", str(Reason.MALFORMED), why)
    if (
        report.failed_step == "structure"
        and report.reason == Reason.MALFORMED
        and report.message
        and report.message.startswith("missing")
        and "'bundle_type'" in report.message
    ):
        # Not a bundle with a few fields missing: some other JSON document altogether.
        return dataclasses.replace(report, message="not a Pith bundle (no bundle_type field)")
    return report
