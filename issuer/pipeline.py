"""Batch issuance: arXiv metadata → canonical records → receipts and events → the registry.

Streaming and idempotent. Records are derived as the readers yield them and
written in batches, each record with its receipt, ``record_created`` event
and aliases in one transaction; a record already issued is skipped, so a run
that was killed is simply run again. A version already issued with
*different* content is refused (versions are immutable). The library reports
progress through :class:`Progress` and never draws anything itself.

This process reads and writes; the rest is :mod:`issuer._issuance`'s, in
the workers. The JSON-lines snapshot (the bulk format) is read as raw blocks
of lines (:func:`issuer.sources.read_blocks`) and parsed in the workers; of
an OAI-PMH page, this process reads only the structure, and sends each
``arXivRaw`` record to the workers as the bytes of its metadata element
(:class:`issuer.sources.RawRecord`), in batches. With each
block goes what the registry holds of the arXiv ids it seems to name, asked
once per block, so an issued version is never signed again; the rows that
come back are written as they are (:meth:`Store.write_checked`), and the
writer's own check under its lock stays the authority. Refusals, conflicts
and notices are reported in input order.
"""

from __future__ import annotations

import io
import logging
import stat
import sys
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from issuer._fs import CountingReader, shown_path
from issuer._issuance import (
    Batch,
    BlockResult,
    Conflict,
    Known,
    Outcome,
    Reject,
    conflict,
    issue_block,
    issue_in_worker,
    sign_records,
)
from issuer._time import Clock
from issuer._workers import signing_pool
from issuer.errors import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    SourceError,
    UnreadableInputError,
)
from issuer.keys import SeedSigner, Signer
from issuer.sources import (
    MAX_BLOCK_BYTES,
    LineBlock,
    Notice,
    RawRecord,
    Refusal,
    SourceMetadata,
    check_gzip,
    read_blocks,
)
from issuer.store import CheckedRecord, Store

__all__ = [
    "BATCH_SIZE",
    "IssueSummary",
    "Issuer",
    "NoProgress",
    "Progress",
    "Reject",
    "sign_records",
]

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000


class Progress(Protocol):
    """Told how far issuance got; the CLI draws it, tests count it."""

    def start(self, total_bytes: int | None) -> None:
        """Issuance starts; ``total_bytes`` of input, if known."""

    def advance(self, bytes_done: int, summary: IssueSummary) -> None:
        """``bytes_done`` more input bytes were consumed."""

    def finish(self) -> None:
        """Issuance ended."""


class NoProgress:
    """A :class:`Progress` that shows nothing."""

    def start(self, total_bytes: int | None) -> None:
        """Nothing to show."""

    def advance(self, bytes_done: int, summary: IssueSummary) -> None:
        """Nothing to show."""

    def finish(self) -> None:
        """Nothing to show."""


@dataclass
class IssueSummary:
    """Counts for a run; decides the exit code.

    Every reject reported through ``on_reject`` is counted exactly once: a
    refused record in ``refused`` (an Atom feed's one reject by its entries),
    a version issued before with other content in ``conflicts``, an input that
    could not be read or cannot issue as a whole in ``failed_files``; so the
    ``refused:`` lines add up to :attr:`refusals`.
    """

    issued: int = 0
    already_issued: int = 0
    refused: int = 0
    conflicts: int = 0
    files: int = 0
    failed_files: list[str] = field(default_factory=list)
    unreadable: bool = False
    notices: list[str] = field(default_factory=list)
    collisions: int = 0

    @property
    def exit_code(self) -> int:
        """2 if an input could not be read, 1 if anything was refused, else 0."""
        if self.unreadable:
            return EXIT_USAGE
        if self.refusals:
            return EXIT_REFUSED
        return EXIT_OK

    @property
    def refusals(self) -> int:
        """Everything refused: records, conflicting versions and whole inputs."""
        return self.refused + self.conflicts + len(self.failed_files)

    def refusals_text(self) -> str:
        """What :attr:`refusals` is made of, e.g. ``20 records, 4 inputs``; ``""`` for none."""
        parts = [
            (self.refused, "record", "records"),
            (len(self.failed_files), "input", "inputs"),
            (
                self.conflicts,
                "version issued before with other content",
                "versions issued before with other content",
            ),
        ]
        return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in parts if n)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` summary."""
        return {
            "issued": self.issued,
            "already_issued": self.already_issued,
            "refused": self.refused,
            "refusals": self.refusals,
            "conflicts": self.conflicts,
            "short_alias_collisions": self.collisions,
            "inputs": self.files,
            "failed_inputs": self.failed_files,
            "notices": self.notices,
        }


def _size(item: SourceMetadata | RawRecord) -> int:
    """About how many bytes ``item`` holds, for bounding a batch (see ``MAX_BLOCK_BYTES``)."""
    if isinstance(item, RawRecord):
        return len(item.payload)
    return len(item.title) + len(item.abstract)


def _file_size(path: str) -> int | None:
    """The size of the regular file ``path``; None for anything else or what cannot be looked at.

    A path that cannot be looked at (a name too long, a folder that cannot be searched)
    is the input's own failure when it is opened, not the run's.
    """
    if path == "-":
        return None
    try:
        info = Path(path).stat()
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


@dataclass(frozen=True, slots=True)
class _Failed:
    """An input that failed as a whole: counted when it failed, reported in order."""

    reject: Reject


@dataclass(slots=True)
class _Pending:
    """A batch in flight, and what to report once it is written (reports keep input order)."""

    work: Future[BlockResult] | BlockResult
    after: list[Outcome | _Failed] = field(default_factory=list)


class Issuer:
    """Issues records from arXiv inputs into a registry with one signer.

    With ``workers`` > 1 and a signer that holds its key in memory, parsing
    (of the JSON-lines snapshot), deriving and signing run in that many worker
    processes while this process reads the input and is the registry's single
    writer; an HSM signer signs here. At most ``2 × workers`` batches (blocks
    of ``batch_size`` lines, or of ``batch_size`` OAI-PMH records, and of at
    most :data:`~issuer.sources.MAX_BLOCK_BYTES` unless one line or record is
    larger) are in flight, so reading waits for the writer and memory stays flat.
    Workers are spawned, not forked: they inherit no open database handle,
    and receive only the key id and seed, over a pipe.
    """

    def __init__(
        self,
        store: Store,
        signer: Signer,
        clock: Clock,
        *,
        progress: Progress | None = None,
        on_reject: Callable[[Reject], None] | None = None,
        batch_size: int = BATCH_SIZE,
        workers: int = 1,
    ) -> None:
        self.store = store
        self.signer = signer
        self.clock = clock
        self.progress = progress or NoProgress()
        self.on_reject = on_reject or (lambda r: None)
        self.batch_size = batch_size
        self.workers = workers if isinstance(signer, SeedSigner) else 1
        self.summary = IssueSummary()
        self._pool: ProcessPoolExecutor | None = None
        self._inflight: deque[_Pending] = deque()
        self._pending_bytes = 0
        self._counting = CountingReader(io.BytesIO())
        self._reported = 0
        self._batches = 0

    def run(self, paths: Iterable[str]) -> IssueSummary:
        """Issue every record of every input; one bad record or file never stops the run."""
        paths = list(paths)
        sizes = [_file_size(p) for p in paths]
        self.progress.start(None if None in sizes else sum(s or 0 for s in sizes))
        self.store.add_key(self.signer.public_key)
        try:
            for path in paths:
                self._input(path)
            self._drain(0)
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
            self.progress.finish()
        return self.summary

    def _reject(self, reject: Reject) -> None:
        self.on_reject(reject)

    def _later(self, outcome: Outcome | _Failed) -> None:
        """Report ``outcome`` after the batches in flight, so reports keep the input's order."""
        if self._inflight:
            self._inflight[-1].after.append(outcome)
        else:
            self._report(outcome)

    def _report(self, outcome: Outcome | _Failed) -> None:
        if isinstance(outcome, Reject):
            self.summary.refused += outcome.count
            self._reject(outcome)
        elif isinstance(outcome, Conflict):
            self.summary.conflicts += 1
            self._reject(outcome.reject)
        elif isinstance(outcome, Notice):
            self.summary.notices.append(str(outcome))
        elif isinstance(outcome, _Failed):
            self._reject(outcome.reject)

    def _input(self, path: str) -> None:
        self.summary.files += 1
        try:
            stream: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        except OSError as e:
            self._file_failed(
                UnreadableInputError(f"cannot read: {e.strerror}", location=shown_path(path))
            )
            return
        self._counting = counting = CountingReader(stream)
        self._reported = 0
        batch: list[SourceMetadata | RawRecord] = []
        batch_bytes = 0
        name = "<stdin>" if path == "-" else shown_path(path)
        try:
            # A damaged gzip file issues nothing. Checked here: read_blocks cannot, since
            # the counting wrapper it gets does not seek.
            check_gzip(stream, name)
            for item in read_blocks(io.BufferedReader(counting), name, self.batch_size):
                if isinstance(item, LineBlock):
                    self._submit(item, self.store.versions_of(item.id_hints()))
                elif isinstance(item, SourceMetadata | RawRecord):
                    size = _size(item)
                    if batch and batch_bytes + size > MAX_BLOCK_BYTES:
                        self._submit(batch, self.store.versions_of(m.arxiv_id for m in batch))
                        batch, batch_bytes = [], 0
                    batch.append(item)
                    batch_bytes += size
                    if len(batch) >= self.batch_size:
                        self._submit(batch, self.store.versions_of(m.arxiv_id for m in batch))
                        batch, batch_bytes = [], 0
                elif isinstance(item, Refusal):
                    self._later(Reject(item.location, item.reason, item.record_id, item.entries))
                elif isinstance(item, Notice):
                    self._later(item)
        except SourceError as e:
            self._file_failed(e)
        finally:
            if batch:
                self._submit(batch, self.store.versions_of(m.arxiv_id for m in batch))
            self._count_bytes()
            if path != "-":
                stream.close()

    def _count_bytes(self) -> None:
        """Bytes of input consumed since last counted: reported with the next write."""
        self._pending_bytes += self._counting.count - self._reported
        self._reported = self._counting.count

    def _file_failed(self, error: SourceError) -> None:
        self.summary.failed_files.append(error.location or "?")
        self.summary.unreadable |= isinstance(error, UnreadableInputError)
        self._later(_Failed(Reject(error.location or "?", error.message)))

    def _submit(self, source: LineBlock | Batch, known: Known) -> None:
        """Parse (a raw block), derive and sign what the registry does not hold yet."""
        self._count_bytes()
        now = self.clock()
        self._batches += 1
        if self._pool is None and self.workers > 1 and self._batches > 1:
            # Started at the second batch: a small run never pays for worker start-up.
            assert isinstance(self.signer, SeedSigner)  # noqa: S101 - checked in __init__
            self._pool = signing_pool(self.signer, self.workers)
        if self._pool is None:
            self._inflight.append(_Pending(issue_block(source, known, self.signer, now)))
        else:
            self._inflight.append(_Pending(self._pool.submit(issue_in_worker, source, known, now)))
        self._drain(2 * self.workers)

    def _drain(self, keep: int) -> None:
        """Write finished batches until at most ``keep`` are in flight."""
        while len(self._inflight) > keep:
            pending = self._inflight.popleft()
            work = pending.work
            self._write(work if isinstance(work, BlockResult) else work.result())
            for outcome in pending.after:
                self._report(outcome)

    def _write(self, result: BlockResult) -> None:
        outcomes: list[Outcome | None] = list(result.outcomes)
        self.summary.already_issued += result.already_issued
        if result.unhinted:
            # Rows whose id the block's hints missed: did the registry hold them already?
            unhinted = [
                (i, r) for i in result.unhinted if isinstance(r := outcomes[i], CheckedRecord)
            ]
            stored = self.store.issued_versions(r.key for _, r in unhinted)
            for i, r in unhinted:
                digest = stored.get(r.key)
                if digest == r.canonical_sha256:
                    self.summary.already_issued += 1
                    outcomes[i] = None
                elif digest is not None:
                    outcomes[i] = conflict(r.location, r.versioned_id, r.source_id, digest)
        new: list[CheckedRecord] = []
        for outcome in outcomes:
            if isinstance(outcome, CheckedRecord):
                new.append(outcome)
            elif outcome is not None:
                self._report(outcome)
        written, collisions = (
            self.store.write_checked(new, self.signer.public_key) if new else ([], 0)
        )
        self.summary.issued += len(written)
        if len(written) < len(new):
            # Issued meanwhile by another writer, or twice in this input: same content or not?
            mine = {id(r) for r in written}
            skipped = [r for r in new if id(r) not in mine]
            stored = self.store.issued_versions(r.key for r in skipped)
            for r in skipped:
                self._known_new(r, stored.get(r.key, ""))
        if collisions:
            self.summary.collisions += collisions
            logger.warning("%d short-alias collision(s) recorded", collisions)
        self.progress.advance(self._pending_bytes, self.summary)
        self._pending_bytes = 0

    def _known_new(self, new: CheckedRecord, issued_sha256: str) -> None:
        if issued_sha256 == new.canonical_sha256:
            self.summary.already_issued += 1
        else:
            self.summary.conflicts += 1
            self._reject(
                Reject(
                    new.location,
                    f"{new.versioned_id} was issued meanwhile with different content "
                    f"(canonical_sha256 {issued_sha256}); versions are immutable",
                    new.source_id,
                )
            )
