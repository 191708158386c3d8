"""Monitoring a published log (issue 16 §6): ``pith log audit URL|DIR``.

:func:`audit` reads a published tree the way any tiles client would, through
a ``fetch(path)`` callable (files or HTTP: the caller's concern), and:

1. ``checkpoint``: the served checkpoint is signed by one of the log keys;
2. ``tiles``: every entry bundle is fetched, every entry is a valid leaf entry,
   the tiles recomputed from them equal the served tiles, and their root is
   the checkpoint's; when it is not, ``entries`` names each entry bundle
   holding a leaf that is not the one the served hash tiles hold;
3. ``consistency``: the tree extends the checkpoint this auditor saw last (kept
   by the caller, like ``seen-keys.json``); a smaller tree, or one whose first
   leaves give another root, is a split view, returned with both signed
   checkpoints as a portable proof (two statements by the log key that cannot
   both be true);
4. ``published``: every record leaf's bundle is published and every leaf a
   published bundle implies is in the log (and, when the tree can be listed,
   no bundle is published outside the log).

Problems are collected, not raised: an audit reports everything it found. A
path ``fetch`` finds absent is missing; one it cannot read (a server error, a
timeout, a file that is a directory) is reported as such, never as missing.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from issuer import cjson
from issuer._fs import atomic_write, locked, read_file_at_most
from issuer.errors import Error, FormatError, StoreError, VerificationError
from issuer.tlog._appender import Appender
from issuer.tlog._checkpoint import Checkpoint
from issuer.tlog._log import RECORD, bundle_entries, parse_entry
from issuer.tlog._merkle import HASH_SIZE, MemoryTree, consistency_proof, leaf_hash
from issuer.tlog._note import Note, verify_note
from issuer.tlog._tiles import TILE_WIDTH, EntryBundle, Tile, decode_bundle, entry_bundles
from issuer.tlog._vkey import VerifierKey

logger = logging.getLogger(__name__)

Fetch = Callable[[str], bytes | None]
"""Returns the bytes at a path of the tree (``checkpoint``, ``tile/…``), or None if absent.

It raises an :class:`~issuer.errors.Error` (``NetworkError``, ``UnreadableInputError``)
when the path may be there but could not be read: the audit reports that, with the error.
"""


@dataclass(frozen=True)
class SplitView:
    """Two checkpoints signed by the log key that cannot both be true."""

    origin: str
    seen: bytes
    served: bytes
    why: str
    consistency_proof: tuple[bytes, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The portable proof: both signed notes, and why they conflict."""
        return {
            "origin": self.origin,
            "why": self.why,
            "seen_checkpoint": self.seen.decode(),
            "served_checkpoint": self.served.decode(),
            "consistency_proof": [base64.b64encode(h).decode() for h in self.consistency_proof],
        }


@dataclass
class AuditReport:
    """What an audit found: the checkpoint it checked, and each problem (step, message)."""

    origin: str | None = None
    tree_size: int | None = None
    checkpoint: bytes | None = None
    records: int = 0
    bundles_checked: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    split_view: SplitView | None = None

    @property
    def ok(self) -> bool:
        """Consistent: no problem and no split view."""
        return not self.problems and self.split_view is None

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "ok": self.ok,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "records": self.records,
            "bundles_checked": self.bundles_checked,
            "problems": [{"step": s, "message": m} for s, m in self.problems],
            "split_view": None if self.split_view is None else self.split_view.to_dict(),
        }


def audit(
    fetch: Fetch,
    log_keys: Sequence[VerifierKey],
    *,
    seen: bytes | None = None,
    listed: Iterable[str] | None = None,
) -> AuditReport:
    """Audit the tree ``fetch`` reads.

    Args:
        fetch: reads a path of the tree.
        log_keys: the log's note keys (type 0x01); its checkpoint must be signed by one.
        seen: the signed checkpoint this auditor saw last, if any.
        listed: the record codes published in the tree, when it can be listed (a directory).
    """
    report = AuditReport()
    # (1) checkpoint
    served = _read(fetch, "checkpoint", "checkpoint", report, missing="the tree has no checkpoint")
    if served is None:
        return report
    try:
        note = Note.parse(served)
        checkpoint = Checkpoint.from_text(note.text)
        verify_note(note, list(log_keys))
    except (FormatError, VerificationError) as e:
        report.problems.append(("checkpoint", f"checkpoint: {e.message}"))
        return report
    report.origin, report.tree_size, report.checkpoint = checkpoint.origin, checkpoint.size, served
    # (2) tiles and entries
    entries = _entries(fetch, checkpoint, report)
    if entries is None:
        return report
    # (3) consistency with what this auditor saw last
    if seen is not None:
        report.split_view = _consistency(
            seen,
            served,
            checkpoint=checkpoint,
            entries=entries,
            log_keys=log_keys,
            report=report,
        )
    # (4) published bundles
    _published(fetch, entries, listed, report)
    return report


def _read(fetch: Fetch, path: str, step: str, report: AuditReport, *, missing: str) -> bytes | None:
    """The bytes at ``path``, or None once ``step``'s problem is reported: ``missing``, or why not.

    The one place an absent path is told from one that could not be read.
    """
    try:
        data = fetch(path)
    except Error as e:  # the fetch's contract: whatever it could not read, and why
        report.problems.append((step, f"{path} could not be read: {e.message}"))
        return None
    if data is None:
        report.problems.append((step, missing))
    return data


def _entries(fetch: Fetch, checkpoint: Checkpoint, report: AuditReport) -> list[bytes] | None:
    """Every entry of the tree, checked against the served tiles and root; None on a failure."""
    entries: list[bytes] = []
    for bundle in entry_bundles(checkpoint.size):
        data = _read(fetch, bundle.path, "tiles", report, missing=f"{bundle.path} is missing")
        if data is None:
            return None
        try:
            entries += decode_bundle(data, bundle)
        except FormatError as e:
            report.problems.append(("tiles", e.message))
            return None
    for index, entry in enumerate(entries):
        try:
            parse_entry(entry)
        except FormatError as e:
            report.problems.append(("tiles", f"leaf {index}: {e.message}"))
    recomputed: dict[str, tuple[Tile | EntryBundle, bytes]] = {}

    def keep(item: Tile | EntryBundle, data: bytes) -> None:
        recomputed[item.path] = (item, data)

    appender = Appender(keep)
    appender.append_entries(entries)
    for item, data in appender.partial_tiles():
        keep(item, data)
    right = appender.root() == checkpoint.root_hash
    served_leaves: dict[int, bytes] = {}
    for path, (item, data) in recomputed.items():
        if not isinstance(item, Tile):
            continue
        wrong = f"{path} is not the tile its entries give"
        served = _read(fetch, path, "tiles", report, missing=wrong)
        if served is not None and served != data:
            report.problems.append(("tiles", wrong))
        if not right and served is not None and item.level == 0:
            start = item.index * TILE_WIDTH
            for k in range(len(served) // HASH_SIZE):
                served_leaves[start + k] = served[k * HASH_SIZE : (k + 1) * HASH_SIZE]
    if not right:
        _name_changed_entries(entries, served_leaves, checkpoint.size, report)
        report.problems.append(("tiles", "the entries do not give the checkpoint's root hash"))
        return None
    return entries


def _name_changed_entries(
    entries: list[bytes], served_leaves: dict[int, bytes], size: int, report: AuditReport
) -> None:
    """Name the entry bundles whose leaves are not those the served hash tiles hold.

    The entries give another root than the checkpoint's: an entry was changed,
    dropped or added, and the hash tiles (if they are right) show which.
    """
    for bundle in entry_bundles(size):
        first = bundle.index * TILE_WIDTH
        changed = [
            i
            for i in range(first, first + bundle.width)
            if i >= len(entries) or served_leaves.get(i) != leaf_hash(entries[i])
        ]
        if changed:
            report.problems.append(
                ("entries", f"{bundle.path}: leaf {changed[0]} is not the leaf the hash tiles hold")
            )


def _consistency(
    seen: bytes,
    served: bytes,
    *,
    checkpoint: Checkpoint,
    entries: list[bytes],
    log_keys: Sequence[VerifierKey],
    report: AuditReport,
) -> SplitView | None:
    try:
        old_note = Note.parse(seen)
        old = Checkpoint.from_text(old_note.text)
        verify_note(old_note, list(log_keys))
    except (FormatError, VerificationError) as e:
        report.problems.append(("consistency", f"the checkpoint seen last: {e.message}"))
        return None
    if old.origin != checkpoint.origin:
        report.problems.append(("consistency", f"the checkpoint seen last is of {old.origin}"))
        return None
    if old.size > checkpoint.size:
        why = f"the log went back from size {old.size} to {checkpoint.size}"
        return SplitView(old.origin, seen, served, why)
    tree = MemoryTree(leaf_hash(e) for e in entries)
    if tree.root(old.size) != old.root_hash:
        why = f"the served tree's first {old.size} leaves do not give the root seen at that size"
        return SplitView(old.origin, seen, served, why)
    if 0 < old.size < checkpoint.size:
        proof = consistency_proof(tree, old.size, checkpoint.size)
        logger.debug("consistent: %d -> %d (%d hashes)", old.size, checkpoint.size, len(proof))
    return None


def _published(
    fetch: Fetch, entries: list[bytes], listed: Iterable[str] | None, report: AuditReport
) -> None:
    in_log = set(entries)
    numbers = {}
    for entry in entries:
        try:
            parsed = parse_entry(entry)
        except FormatError:
            continue  # step (2) reported it
        if parsed.kind == RECORD:
            numbers[parsed.pith_number.rsplit(":", 1)[-1]] = parsed.pith_number
    report.records = len(numbers)
    implied: set[bytes] = set()
    for code in sorted(set(numbers) | set(listed or ())):
        missing = f"{numbers.get(code, code)}: no bundle"
        data = _read(fetch, f"pith/{code}/bundle.json", "published", report, missing=missing)
        if data is None:
            continue
        try:
            bundle = cjson.loads(data)
            mine = bundle_entries(
                bundle["pith_number"], bundle["canonical_sha256"], bundle["events"]
            )
        except (FormatError, KeyError, TypeError, ValueError) as e:
            report.problems.append(("published", f"pith/{code}/bundle.json: unreadable: {e}"))
            continue
        report.bundles_checked += 1
        absent = [e for e in mine if e not in in_log]
        if absent:
            report.problems.append(
                ("published", f"{bundle['pith_number']}: {len(absent)} leaves not in the log")
            )
        implied.update(mine)
    unpublished = len(in_log - implied)
    if unpublished:
        report.problems.append(("published", f"{unpublished} leaves of the log are in no bundle"))


SEEN_CHECKPOINTS = "seen-checkpoints.json"
"""Under the auditor's home: the last checkpoint seen per log origin."""


def load_seen(path: Path) -> dict[str, bytes]:
    """Origin → the signed checkpoint last seen (empty if the file does not exist).

    Raises:
        StoreError: the file exists but cannot be read: an auditor that forgot
            what it saw would accept a rollback.
    """
    try:
        data = read_file_at_most(path, cjson.MAX_DOCUMENT_BYTES)
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise StoreError(f"cannot read {path}: {e.strerror or e}") from e
    except FormatError as e:  # larger than any document: not one this wrote
        raise StoreError(f"{path} is not a seen-checkpoints file", hint="restore it") from e
    try:
        doc = cjson.loads(data)
        logs = doc["logs"]
        return {str(k): str(v).encode() for k, v in logs.items()}
    except (FormatError, KeyError, TypeError, AttributeError) as e:
        raise StoreError(f"{path} is not a seen-checkpoints file", hint="restore it") from e


def save_seen(path: Path, origin: str, checkpoint: bytes) -> None:
    """Remember ``checkpoint`` as the last seen of ``origin`` (atomically).

    The file is read and written under a lock (``FILE.lock``), so what another
    auditor sharing the home saved meanwhile is kept.

    Raises:
        StoreError: the file cannot be read or written.
    """
    try:
        with locked(path):
            seen = load_seen(path)
            seen[origin] = checkpoint
            doc = {"logs": {k: v.decode() for k, v in sorted(seen.items())}, "version": 1}
            atomic_write(path, cjson.dumps(doc) + b"\n")
    except OSError as e:
        raise StoreError(f"cannot write {path}: {e.strerror or e}") from e
