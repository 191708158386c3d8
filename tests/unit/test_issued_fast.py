"""Issuance's fast path (``store._issued``) against the full one: the very same rows (#14).

``issued_record`` signs a new record's receipt and ``record_created`` event
from their compact rows; the full path (``sign_receipt`` + ``build_event`` +
``issued_rows``) builds the signed dicts, serializes them and checks the rows
against them. Both must give the same :class:`CheckedRecord`, value for value,
on every sample input and on generated records; the rows must rebuild to
a receipt and an event that verify.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer import cjson
from issuer._issuance import BlockResult, _sign, issue_items
from issuer.errors import SourceError
from issuer.events import check_event
from issuer.identifiers import MAX_VERSION, PithNumber
from issuer.keys import SeedSigner
from issuer.keys.keyset import KeySet
from issuer.receipts import verify_receipt
from issuer.record import CanonicalRecord
from issuer.sources import Item, read
from issuer.store import CheckedRecord, issued_record, issued_rows
from issuer.store import _issued as issued
from issuer.store._compact import RecordContext, event_bytes, receipt_bytes, record_bytes
from tests.conftest import ROOT, SAMPLES
from tests.unit.test_record_bytes import _records

SIGNER = SeedSigner("fast-key-1", bytes(range(32)))
NOW = datetime(2026, 5, 17, 23, 59, 22, 45226, tzinfo=UTC)
INPUTS = sorted(
    p
    for p in [*SAMPLES.rglob("*"), *(ROOT / "examples").glob("*")]
    if p.is_file() and p.suffix in {".json", ".jsonl", ".xml"}
)


def _items(path: Path) -> list[Item]:
    out: list[Item] = []
    with contextlib.suppress(SourceError):  # refused as a whole: what was read before counts
        out.extend(read(path))
    return out


def _issue(items: list[Item], *, fast: bool) -> BlockResult:
    saved = issued._FAST
    issued._FAST = fast
    try:
        return issue_items(items, {}, SIGNER, NOW)
    finally:
        issued._FAST = saved


def _full(record: CanonicalRecord, signer: SeedSigner, now: datetime) -> CheckedRecord:
    number = PithNumber.for_record(record)
    receipt, event = _sign(record, number, signer, now)
    return issued_rows(
        record,
        number,
        receipt,
        event,
        issued_at=event["created_at"],
        location="x:1",
        title="t",
        keys={signer.key_id: signer.public_key},
    )


def _fast(record: CanonicalRecord, signer: SeedSigner, now: datetime) -> CheckedRecord | None:
    number = PithNumber.for_record(record)
    return issued_record(
        record, number, signer.sign, signer.public_key, now, location="x:1", title="t"
    )


def _verified(row: CheckedRecord, signer: SeedSigner) -> dict[str, Any]:
    """The event the rows rebuild, checked as a verifier checks it; its receipt too."""
    keys = {signer.key_id: signer.public_key}
    record_json = record_bytes(row.source_id, row.version, row.record)
    receipt_json = receipt_bytes(row.canonical_sha256, row.key_id, row.receipt, keys)
    number = str(PithNumber(row.year, row.code))
    context = RecordContext(
        number, row.canonical_sha256, record_json, row.source_id, row.version, receipt_json
    )
    event: dict[str, Any] = cjson.loads(event_bytes(row.event, context, keys))
    trusted = KeySet([signer.public_key])
    check_event(event, number, trusted, parsed=True)
    verify_receipt(event["payload"]["receipt"], row.canonical_sha256, trusted)
    assert cjson.sha256_hex(event["payload"]["canonical_record"]) == row.canonical_sha256
    return event


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_same_rows_on_every_sample(path: Path) -> None:
    items = _items(path)
    fast = _issue(items, fast=True)
    assert fast == _issue(items, fast=False)
    for outcome in fast.outcomes:
        if isinstance(outcome, CheckedRecord):
            _verified(outcome, SIGNER)


def test_samples_issue_records() -> None:
    """The inputs above hold records to compare, not only refusals."""
    rows = [o for p in INPUTS for o in _issue(_items(p), fast=True).outcomes]
    assert sum(isinstance(o, CheckedRecord) for o in rows) >= 20


_KEY_IDS = st.from_regex(r"[a-z0-9]([a-z0-9_-]{0,20}[a-z0-9])?", fullmatch=True)
_NOW = st.datetimes(
    min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)


@given(_records(), _KEY_IDS, st.binary(min_size=32, max_size=32), _NOW)
def test_same_rows_on_generated_records(
    data: dict[str, Any], key_id: str, seed: bytes, now: datetime
) -> None:
    record = CanonicalRecord.from_dict(data)
    signer = SeedSigner(key_id, seed)
    fast = _fast(record, signer, now)
    assert fast == _full(record, signer, now)
    assert fast is not None
    _verified(fast, signer)


def test_full_path_for_a_record_not_checked() -> None:
    """A record built directly (no grammar check) is signed the full way."""
    record = CanonicalRecord.from_dict(next(iter(_generated())))
    unchecked = dataclasses.replace(record)
    assert not unchecked.is_checked
    assert _fast(unchecked, SIGNER, NOW) is None
    assert _fast(record, SIGNER, NOW) == _full(unchecked, SIGNER, NOW)


def test_switch_off_means_full_path() -> None:
    record = CanonicalRecord.from_dict(next(iter(_generated())))
    saved = issued._FAST
    issued._FAST = False
    try:
        assert _fast(record, SIGNER, NOW) is None
    finally:
        issued._FAST = saved


def _generated() -> Iterator[dict[str, Any]]:
    yield {
        "schema_version": "1.0",
        "source": {"kind": "arxiv", "id": "1811.06992", "version": MAX_VERSION},
        "metadata": {
            "license": "http://creativecommons.org/licenses/by/4.0/\u00e9\U0001f600\ue000",
            "primary_cat": "cs.LG",
            "cross_cats_sorted": ["math.AG", "stat.ML"],
            "submitted_at": "2018-11-16T19:01:40Z",
            "title_canon_sha256": "0" * 64,
            "abstract_canon_sha256": "f" * 64,
        },
    }
