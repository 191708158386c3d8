"""Verifying many inputs in input order, on one process or several (``pith verify --jobs``).

An input is a name, its bytes (or the error getting them, or a file to read),
and the record it was asked for. :func:`verify_many` yields one
:class:`~issuer.verify.VerificationReport` per input, in input order, however
many processes verify them; :func:`verify_batches` yields the same reports in
batches of those ready together. Files are read by the process that verifies
them, so a large directory goes to the workers as paths.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import multiprocessing
import operator
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from issuer._fs import read_file_at_most
from issuer.cjson import MAX_DOCUMENT_BYTES
from issuer.errors import Error, FormatError
from issuer.keys.keyset import KeySet
from issuer.reasons import Reason
from issuer.record import CanonicalRecord
from issuer.verify._proofs import LogPolicy
from issuer.verify._verifier import VerificationReport, VerifiedBundle, verify_bundle_report

logger = logging.getLogger(__name__)

# An input's bytes, the error getting them, or a file to read where it is verified (a
# path, as a Path or as its text: a str is no other kind of source).
InputSource = bytes | Exception | Path | str
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

    The reports of :func:`verify_batches`, one at a time.
    """
    for batch in verify_batches(inputs, trusted, log, jobs):
        yield from batch


def verify_batches(
    inputs: Iterable[VerifyInput],
    trusted: KeySet,
    log: LogPolicy | None,
    jobs: int,
) -> Iterator[list[tuple[str, VerificationReport]]]:
    """(name, report) for every input, in input order, in batches of those ready together.

    A batch is one input's report when this process verifies it, a chunk's
    when a worker does: a caller can write a batch's lines at once without
    holding back a report that is ready.

    A run of fewer than ``jobs * _PER_JOB`` inputs never starts a process.
    Otherwise the pool starts once; inputs go to it in chunks of ``_CHUNK``,
    at most ``jobs * _PER_JOB`` inputs in flight (memory is bounded by that,
    not by the number of inputs). This process only hands out chunks and
    yields reports: with as many workers as cores, any chunk it verified
    itself would take a core from a worker, and keep it from feeding the pool.
    A worker sends each report back as a tuple of plain values
    (:func:`_packed`), rebuilt here into an equal report (:func:`_unpacked`).
    """
    items = iter(inputs)
    window = max(1, jobs) * _PER_JOB
    first = list(itertools.islice(items, window))
    if jobs <= 1 or len(first) < window:
        for name, source, code in itertools.chain(first, items):
            yield [(name, _check(name, source, code, trusted, log))]
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
        pending: deque[tuple[list[str], Future[list[_Packed]]]] = deque()
        while True:
            while len(pending) * _CHUNK < window and (chunk := next(chunks, None)):
                names = [name for name, _, _ in chunk]
                pending.append((names, pool.submit(_check_chunk, [_sent(i) for i in chunk])))
            if not pending:
                return
            names, future = pending.popleft()
            yield [
                (name, _unpacked(name, packed))
                for name, packed in zip(names, future.result(), strict=True)
            ]


def _chunks(items: Iterator[VerifyInput]) -> Iterator[list[VerifyInput]]:
    while chunk := list(itertools.islice(items, _CHUNK)):
        yield chunk


# On Linux a worker is a fork of this process: it starts with the verifier imported
# (a spawned one imports the whole command line again, about a second of CPU, which
# is what 2,000 bundles take). The pool forks its workers before it starts its own
# thread, so no thread runs at the fork. Elsewhere, fork is unsafe: spawn.
_START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"
_PER_JOB = 512  # inputs in flight per process
_CHUNK = 64  # inputs sent to a process at a time
_worker_trust: tuple[KeySet, LogPolicy | None] | None = None

# A file to read goes to a worker as its path's text: a Path pickles as its parts and
# is parsed again on arrival.
_SentSource = bytes | Exception | str
_Sent = tuple[str, _SentSource, str | None]


def _sent(item: VerifyInput) -> _Sent:
    name, source, code = item
    return (name, str(source) if isinstance(source, Path) else source, code)


def _init_worker(trusted: KeySet, log: LogPolicy | None) -> None:
    global _worker_trust  # noqa: PLW0603 - one trust per worker process
    _worker_trust = (trusted, log)


def _check_chunk(chunk: list[_Sent]) -> list[_Packed]:
    assert _worker_trust is not None  # noqa: S101 - set by _init_worker
    return [
        _packed(
            name,
            _check(name, source, code, *_worker_trust),
        )
        for name, source, code in chunk
    ]


# A report as plain values, for the trip from a worker: pickling the report's three
# dataclasses (report, result, record) and unpickling them costs more than building
# them again from a tuple. The source is left out when it is the input's name (always,
# from this module's checks), since the main process knows it.
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(CanonicalRecord))
_record_values = operator.attrgetter(*_RECORD_FIELDS)
_ResultValues = tuple[str, str, tuple[Any, ...], str, str, str]
_Packed = tuple[
    str | None, bool, list[str], str | None, str | None, str | None, str | None,
    _ResultValues | None,
]  # fmt: skip


def _packed(name: str, report: VerificationReport) -> _Packed:
    """``report`` as plain values; :func:`_unpacked` rebuilds an equal report."""
    result = report.result
    return (
        None if report.source == name else report.source,
        report.ok,
        report.passed,
        report.failed_step,
        report.reason,
        report.message,
        report.pith_number,
        None
        if result is None
        else (
            result.pith_number,
            result.canonical_sha256,
            _record_values(result.record),
            result.state_sha256,
            result.bundle_sha256,
            result.signed_by,
        ),
    )


def _unpacked(name: str, packed: _Packed) -> VerificationReport:
    """The report :func:`_packed` took apart, for the input named ``name``."""
    source, ok, passed, step, reason, message, number, result = packed
    verified = None
    if result is not None:
        pith_number, canonical_sha256, record, state_sha256, bundle_sha256, signed_by = result
        verified = VerifiedBundle(
            pith_number,
            canonical_sha256,
            CanonicalRecord(*record),
            state_sha256,
            bundle_sha256,
            signed_by,
        )
    return VerificationReport(
        name if source is None else source, ok, passed, step, reason, message, number, verified
    )


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
        if isinstance(source, Path | str)
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
    if not report.ok and data.lstrip()[:1] == b"<":  # (never JSON, so never a bundle)
        # A web page: most likely a published tree's front page, named instead of a record's.
        return dataclasses.replace(report, message=_NOT_A_PAGE_OF_A_RECORD)
    return report


_NOT_A_PAGE_OF_A_RECORD = (
    "not a Pith bundle but an HTML or XML page; name a record's bundle or resolver page "
    "(BASE/pith/CODE/bundle.json or BASE/pith/CODE/)"
)
