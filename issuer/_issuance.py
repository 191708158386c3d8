"""What issuance does with one block of input: parse, derive, sign, check rows (in workers).

The pipeline (:mod:`issuer.pipeline`) reads its inputs and is the
registry's single writer; everything else about a record happens here, in
a worker process (or in the pipeline's own process for a signer that cannot
leave it, or a run too small to start workers). A block of the JSON-lines
snapshot arrives raw (:class:`~issuer.sources.LineBlock`) and is parsed here;
OAI-PMH ``arXivRaw`` records arrive as the bytes of their metadata element
(:class:`~issuer.sources.RawRecord`), read here too. What goes back is a :class:`BlockResult`:
plain values, cheap to pickle, in input order: refusals, versions issued
before with other content, and the rows to write
(:class:`~issuer.store.CheckedRecord`), each row already checked against the
bytes that were signed (:mod:`issuer.store._checked`).

A version the registry holds already is never signed again. The pipeline
sends with each block what the registry held, when the block was read, for
the arXiv ids the block seems to name (:meth:`~issuer.sources.LineBlock.id_hints`).
A record whose id is not among them is signed, and marked ``unhinted`` so the
pipeline asks the registry about it before writing; the writer's own check,
under its lock, stays the authority (another issuer may write meanwhile).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from issuer._time import format_seconds
from issuer._workers import worker_signer
from issuer.errors import FormatError
from issuer.events import build_event
from issuer.identifiers import PithNumber
from issuer.keys import Signer
from issuer.receipts import sign_receipt
from issuer.record import CanonicalRecord
from issuer.sources import (
    Item,
    LineBlock,
    Notice,
    RawRecord,
    Refusal,
    SourceMetadata,
    entries_prefix,
)
from issuer.store import CheckedRecord, NewRecord, issued_record, issued_rows

#: arXiv id → {version: canonical_sha256} issued, for each id the registry was asked about.
Known = Mapping[str, Mapping[int, str]]
#: Records read (or found, for OAI-PMH) by the issuing process, in input order.
Batch = Sequence[SourceMetadata | RawRecord]


@dataclass(frozen=True)
class Reject:
    """A record (or a whole input) that did not issue, and why.

    Attributes:
        location: ``FILE:LINE``, or ``FILE`` for a whole input.
        reason: why.
        record_id: the arXiv id, where known.
        entries: set when this one reject stands for that many entries of an
            input that cannot issue at all (an Atom feed).
    """

    location: str
    reason: str
    record_id: str | None = None
    entries: int | None = None

    @property
    def count(self) -> int:
        """How many refusals this reject stands for in the summary."""
        return 1 if self.entries is None else self.entries

    def __str__(self) -> str:
        return f"{self.location}: {entries_prefix(self.entries)}{self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """The rejects-file line."""
        return {
            "location": self.location,
            "record_id": self.record_id,
            "reason": self.reason,
            "count": self.count,
        }


@dataclass(frozen=True, slots=True)
class Conflict:
    """A version the registry holds with other content: not issued, counted as a conflict."""

    reject: Reject


def conflict(location: str, versioned_id: str, source_id: str, issued_sha256: str) -> Conflict:
    """A version found issued before this run read it, with other content."""
    return Conflict(
        Reject(
            location,
            f"{versioned_id} was issued before with different content "
            f"(canonical_sha256 {issued_sha256}); versions are immutable, so this one is "
            "not issued",
            source_id,
        )
    )


Outcome = Reject | Conflict | Notice | CheckedRecord


@dataclass(frozen=True, slots=True)
class BlockResult:
    """What one block gave, in input order, for the writer.

    Attributes:
        outcomes: refusals, conflicts, notices and rows to write, in input order.
        already_issued: versions the registry holds with the same content.
        unhinted: indexes in ``outcomes`` of rows whose arXiv id the registry
            was not asked about: ask before writing them.
    """

    outcomes: list[Outcome]
    already_issued: int = 0
    unhinted: list[int] = field(default_factory=list)


def sign_records(
    metas: list[SourceMetadata], signer: Signer, now: datetime
) -> list[NewRecord | Reject]:
    """Derive and sign everything issuance writes for each record.

    A record that cannot be canonicalized is returned as a :class:`Reject`,
    so one bad record never stops a run (and a re-run never trips on it
    again); a signer failure raises and stops the run.
    """
    stamp = format_seconds(now)
    out: list[NewRecord | Reject] = []
    for meta in metas:
        try:
            record = CanonicalRecord.from_source(meta)
            number = PithNumber.for_record(record)
        except FormatError as e:
            out.append(Reject(meta.location, e.message, meta.arxiv_id))
            continue
        out.append(_signed(meta, record, number, signer=signer, now=now, stamp=stamp))
    return out


def _signed(
    meta: SourceMetadata,
    record: CanonicalRecord,
    number: PithNumber,
    *,
    signer: Signer,
    now: datetime,
    stamp: str,
) -> NewRecord:
    receipt, event = _sign(record, number, signer, now)
    return NewRecord.build(
        record,
        number,
        receipt=receipt,
        event=event,
        issued_at=stamp,
        location=meta.location,
        title=meta.title,
    )


def record_created_payload(record: CanonicalRecord, receipt: dict[str, Any]) -> dict[str, Any]:
    """The payload of a new record's ``record_created`` event: the record and its receipt."""
    return {
        "canonical_record": record.to_dict(),
        "canonical_sha256": record.canonical_sha256,
        "receipt": receipt,
        "source_kind": record.source_kind,
        "source_id": record.source_id,
        "source_version": record.version,
        "attestation_state": "computed",
    }


def _sign(
    record: CanonicalRecord, number: PithNumber, signer: Signer, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The record's receipt and its ``record_created`` event, signed."""
    receipt = sign_receipt(record.canonical_sha256, signer, now)
    payload = record_created_payload(record, receipt)
    # Every part of the payload was built here from checked, typed fields: hashed without
    # the validation walk (the writer's row check still rebuilds and compares the bytes).
    event = build_event("record_created", str(number), payload, signer, now, trusted=True)
    return receipt, event


def issue_items(
    items: Iterable[Item | RawRecord], known: Known, signer: Signer, now: datetime
) -> BlockResult:
    """Derive, sign and check the rows of every record in ``items`` not in ``known``.

    A :class:`~issuer.sources.RawRecord` is read here first.
    """
    stamp = format_seconds(now)
    key = signer.public_key
    keys = {key.key_id: key}
    sign = signer.sign
    result = BlockResult([])
    already = 0
    for each in items:
        item = each.read() if isinstance(each, RawRecord) else each
        if isinstance(item, Refusal):
            result.outcomes.append(Reject(item.location, item.reason, item.record_id, item.entries))
            continue
        if isinstance(item, Notice):
            result.outcomes.append(item)
            continue
        try:
            record = CanonicalRecord.from_source(item)
        except FormatError as e:
            result.outcomes.append(Reject(item.location, e.message, item.arxiv_id))
            continue
        versions = known.get(item.arxiv_id)
        issued = None if versions is None else versions.get(item.version)
        if issued == record.canonical_sha256:
            already += 1
            continue
        if issued is not None:
            result.outcomes.append(
                conflict(item.location, record.versioned_id, record.source_id, issued)
            )
            continue
        try:
            number = PithNumber.for_record(record)
        except FormatError as e:
            result.outcomes.append(Reject(item.location, e.message, item.arxiv_id))
            continue
        if versions is None:
            result.unhinted.append(len(result.outcomes))
        row = issued_record(
            record, number, sign, key, now, location=item.location, title=item.title
        )
        if row is None:
            receipt, event = _sign(record, number, signer, now)
            row = issued_rows(
                record,
                number,
                receipt,
                event,
                issued_at=stamp,
                location=item.location,
                title=item.title,
                keys=keys,
            )
        result.outcomes.append(row)
    return BlockResult(result.outcomes, already, result.unhinted)


def issue_block(
    source: LineBlock | Sequence[SourceMetadata | RawRecord],
    known: Known,
    signer: Signer,
    now: datetime,
) -> BlockResult:
    """:func:`issue_items` over a raw block (parsed here) or over parsed records."""
    items = source.items() if isinstance(source, LineBlock) else source
    return issue_items(items, known, signer, now)


def issue_in_worker(source: LineBlock | Batch, known: Known, now: datetime) -> BlockResult:
    """:func:`issue_block` with this worker process's signer."""
    return issue_block(source, known, worker_signer(), now)
