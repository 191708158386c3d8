"""Builders for test data: deterministic keys, records, events and bundles."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer.bundles import build_bundle
from issuer.events import build_event
from issuer.identifiers import PithNumber, source_aliases
from issuer.keys import SeedSigner
from issuer.keys.keyset import KeySet
from issuer.receipts import sign_receipt
from issuer.record import CanonicalRecord

T0 = datetime(2026, 5, 17, 23, 59, 22, tzinfo=UTC)
BASE_URL = "https://registry.example"


def signer(n: int = 1) -> SeedSigner:
    """A deterministic test key, ``test-registry-N``."""
    return SeedSigner(f"test-registry-{n}", bytes([n]) * 32)


def record(n: int = 1) -> CanonicalRecord:
    """A well-formed canonical record, distinct for each ``n``."""
    return CanonicalRecord(
        source_id=f"2401.{n:05d}",
        version=1,
        license="http://creativecommons.org/licenses/by/4.0/",
        primary_cat="cs.LG",
        cross_cats_sorted=("stat.ML",),
        submitted_at="2024-01-02T03:04:05Z",
        title_canon_sha256=f"{n:064x}",
        abstract_canon_sha256=f"{n + 1:064x}",
    )


def record_created(rec: CanonicalRecord, key: SeedSigner, at: datetime = T0) -> dict[str, Any]:
    """The record_created event of ``rec``, with its receipt."""
    number = PithNumber.for_record(rec)
    payload = {
        "canonical_record": rec.to_dict(),
        "canonical_sha256": rec.canonical_sha256,
        "receipt": sign_receipt(rec.canonical_sha256, key, at),
        "source_kind": rec.source_kind,
        "source_id": rec.source_id,
        "source_version": rec.version,
        "attestation_state": "computed",
    }
    return build_event("record_created", str(number), payload, key, at)


def event(
    rec: CanonicalRecord,
    key: SeedSigner,
    event_type: str = "graph_snapshot",
    *,
    payload: dict[str, Any] | None = None,
    at: datetime = T0,
    prev: str | None = None,
    supersedes: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Any other event about ``rec``."""
    if payload is None:
        payload = {"graph_snapshot": {"n": 1}, "verdict_id": None}
    number = PithNumber.for_record(rec)
    return build_event(
        event_type, str(number), payload, key, at, prev_event=prev, supersedes=supersedes
    )


def aliases(rec: CanonicalRecord) -> list[dict[str, Any]]:
    """The six aliases of ``rec`` at T0."""
    return source_aliases(rec, PithNumber.for_record(rec), T0)


def bundle(
    rec: CanonicalRecord | None = None,
    key: SeedSigner | None = None,
    extra_events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A complete signed bundle: record_created + a graph snapshot (+ extras)."""
    rec = rec or record()
    key = key or signer()
    events = [record_created(rec, key), event(rec, key), *(extra_events or [])]
    return build_bundle(
        rec,
        aliases(rec),
        events,
        KeySet([key.public_key]),
        key,
        built_at=T0 + timedelta(days=5),
        base_url=BASE_URL,
    )


def force_code_prefix(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    """Make every Pith number derived from now on start with ``prefix`` (8 characters).

    SHA-256 prefixes cannot be made to collide on demand; this forces short-alias
    collisions in-process (run issuance with one worker so it applies).
    """
    real = PithNumber.for_record

    def colliding(record: CanonicalRecord) -> PithNumber:
        number = real(record)
        return PithNumber(number.year, prefix + number.code[len(prefix) :])

    monkeypatch.setattr(PithNumber, "for_record", staticmethod(colliding))


def snapshot_line(n: int, *, versions: int = 1, title: str | None = None) -> bytes:
    """One line of the arXiv JSON-lines snapshot for paper ``2401.NNNNN``, ``versions`` long."""
    paper = {
        "id": f"2401.{n:05d}",
        "submitter": "A. Author",
        "authors": "A. Author, B. Author",
        "title": title or f"On the synthetic paper number {n}",
        "comments": None,
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": "cs.LG stat.ML",
        "license": "http://creativecommons.org/licenses/by/4.0/",
        "abstract": f"  We study paper {n} and find that it exists.\n",
        "versions": [
            {"version": f"v{v}", "created": f"Tue, {v + 1} Jan 2024 03:04:05 GMT"}
            for v in range(1, versions + 1)
        ],
        "update_date": "2024-01-09",
        "authors_parsed": [["Author", "A.", ""], ["Author", "B.", ""]],
    }
    return json.dumps(paper).encode() + b"\n"


def snapshot(path: Path, numbers: range, *, versions: int = 1) -> Path:
    """A snapshot file with one line per number in ``numbers``."""
    path.write_bytes(b"".join(snapshot_line(n, versions=versions) for n in numbers))
    return path


DELETE = object()  # with :func:`set_path`: remove the field instead of setting it


def set_path(document: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    """``document`` with the field at dotted ``path`` set to ``value`` (or removed: DELETE)."""
    *parents, last = path.split(".")
    target = document
    for name in parents:
        target = target[name]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return document
