"""A registry whose rows were altered (by hand, an attacker with the database, a disk fault).

What the registry signs must be what its stored signatures support: a record
whose receipt or event signature no longer verifies is refused, by name, and
the others are published; a log whose leaves are not 0, 1, 2... is never
signed as a checkpoint.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from issuer import registry
from issuer.errors import FormatError, StoreError, VerificationError
from issuer.keys.keyset import KeySet
from issuer.pipeline import Issuer
from issuer.publish import publish
from issuer.registry import RecordRefusal
from issuer.store import Store, open_store
from issuer.tlog import make_checkpoint
from issuer.verify import verify_bundle
from tests import factory
from tests.registry_sql import execute, issue, record_row_id, rows

BASE = "https://a.example"
ORIGIN = "a.example"


@pytest.fixture
def store(tmp_path: Path, registry_url: str) -> Iterator[Store]:
    with open_store(registry_url) as opened:
        issue(opened, tmp_path, range(1, 5))
        yield opened


def _victim(store: Store) -> str:
    [number] = store.current_arxiv("2401.00002")
    return number


def _set_record(column: str, value: object) -> Callable[[Store, int], None]:
    def alter(store: Store, row_id: int) -> None:
        execute(store, f"UPDATE records SET {column}=? WHERE id=?", (value, row_id))  # noqa: S608

    return alter


def _set_event(column: str, value: object) -> Callable[[Store, int], None]:
    def alter(store: Store, row_id: int) -> None:
        execute(store, f"UPDATE events SET {column}=? WHERE record_id=?", (value, row_id))  # noqa: S608

    return alter


UNSUPPORTED = {
    "a receipt signature of another value": _set_record("receipt_signature", bytes(64)),
    "a receipt signature of the wrong length": _set_record("receipt_signature", b"\x01"),
    "an event signature of another value": _set_event("signature", bytes(64)),
    "an event signature of the wrong length": _set_event("signature", b"\x01\x02"),
    "an event whose time was changed": _set_event("created_at", "2020-01-01T00:00:00Z"),
}


@pytest.mark.parametrize("alter", UNSUPPORTED.values(), ids=UNSUPPORTED.keys())
def test_a_record_whose_signatures_do_not_verify_is_never_signed_as_a_bundle(
    store: Store, tmp_path: Path, alter: Callable[[Store, int], None]
) -> None:
    bad = _victim(store)
    alter(store, record_row_id(store, bad))
    refused: list[RecordRefusal] = []
    out = tmp_path / "site"
    summary = publish(
        store,
        out,
        factory.signer(),
        base_url=BASE,
        now=factory.T0,
        on_refused=refused.append,
    )
    assert (summary.records, summary.written, summary.refused) == (4, 3, 1)
    assert [r.pith_number for r in refused] == [bad] and "does not verify" in refused[0].reason
    assert "reissue" not in refused[0].reason  # altered rows are restored, not re-signed
    code = bad.rsplit(":", 1)[1]
    assert not (out / "pith" / code).exists()
    assert not (out / ".well-known" / "pith" / code).exists()
    keys = KeySet([factory.signer().public_key])
    for path in (out / "pith").glob("*/bundle.json"):
        verify_bundle(json.loads(path.read_bytes()), keys)  # every bundle signed verifies
    with pytest.raises(VerificationError, match="does not verify") as caught:
        registry.bundle(store, bad, factory.signer(), factory.T0, BASE)
    assert bad in caught.value.message and caught.value.hint is not None
    assert "backup" in caught.value.hint


def _last_event_leaf(store: Store) -> tuple[int, int]:
    """(row id, leaf index) of the newest event."""
    [(row_id, leaf)] = rows(store, "SELECT id, leaf_index FROM events ORDER BY id DESC LIMIT 1")
    return int(row_id), int(leaf)


def _a_gap(store: Store) -> None:
    row_id, leaf = _last_event_leaf(store)
    execute(store, "UPDATE events SET leaf_index=? WHERE id=?", (leaf + 5, row_id))


def _a_leaf_twice(store: Store) -> None:
    # The first event's leaf (1) moved onto the second record's (2): 1 is missing, 2 twice.
    execute(store, "UPDATE events SET leaf_index=2 WHERE id=1")


def _a_negative_leaf(store: Store) -> None:
    execute(store, "UPDATE records SET leaf_index=-1 WHERE id=1")


MISSEQUENCED = {
    "a gap before the newest leaf": _a_gap,
    "a leaf index twice": _a_leaf_twice,
    "a negative leaf index": _a_negative_leaf,
}


@pytest.mark.parametrize("alter", MISSEQUENCED.values(), ids=MISSEQUENCED.keys())
def test_a_log_whose_leaves_are_out_of_sequence_is_never_signed(
    store: Store, tmp_path: Path, alter: Callable[[Store], None]
) -> None:
    alter(store)
    _refused(store, tmp_path)


def test_a_gap_after_the_last_checkpoint_is_never_signed(store: Store, tmp_path: Path) -> None:
    make_checkpoint(store, factory.signer(), ORIGIN, "2026-05-18T00:00:00Z")
    Issuer(store, factory.signer(), lambda: factory.T0, workers=1).run(
        [str(factory.snapshot(tmp_path / "more.json", range(5, 7)))]
    )
    _a_gap(store)  # only the leaves since that checkpoint are read again
    _refused(store, tmp_path)


def _refused(store: Store, tmp_path: Path) -> None:
    """Neither a checkpoint nor a published log of the registry's leaves: the error, named."""
    before = store.checkpoints()
    with pytest.raises(StoreError, match="where leaf") as caught:
        make_checkpoint(store, factory.signer(), ORIGIN, "2026-05-18T00:00:01Z")
    assert store.name in caught.value.message
    assert caught.value.hint is not None and "backup" in caught.value.hint
    assert store.checkpoints() == before
    with pytest.raises(StoreError, match="where leaf"):
        publish(store, tmp_path / "site", factory.signer(), base_url=BASE, now=factory.T0)
    assert not (tmp_path / "site" / "checkpoint").exists()


# -- columns of the wrong type or range (SQLite keeps whatever a column is given) ----------


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "registry.sqlite3") as opened:
        issue(opened, tmp_path, range(1, 5))
        yield opened


UNREADABLE = {
    "a record digest as text": _set_record("title_sha256", "ab" * 32),
    "a record digest missing": _set_record("title_sha256", None),
    "a submission time as text": _set_record("submitted_at", "yesterday"),
    "a submission time out of range": _set_record("submitted_at", -(2**62)),
    "a receipt signature as text": _set_record("receipt_signature", "AA" * 32),
    "a receipt time missing": _set_record("receipt_signed_at", None),
    "a receipt time out of range": _set_record("receipt_signed_at", 2**62),
    "a version as text": _set_record("version", "two"),
    "an event signature as text": _set_event("signature", "AA" * 32),
    "an event signature missing": _set_event("signature", None),
    "an event time out of range": _set_event("signed_at", -(2**62)),
    "an event payload as text": _set_event("payload", "{}"),
}


@pytest.mark.parametrize("alter", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_a_row_that_cannot_be_read_is_named_and_the_others_are_published(
    sqlite_store: Store, tmp_path: Path, alter: Callable[[Store, int], None]
) -> None:
    store = sqlite_store
    bad = _victim(store)
    alter(store, record_row_id(store, bad))
    refused: list[RecordRefusal] = []
    summary = publish(
        store,
        tmp_path / "site",
        factory.signer(),
        base_url=BASE,
        now=factory.T0,
        on_refused=refused.append,
    )
    assert (summary.records, summary.written, summary.refused) == (4, 3, 1)
    assert [r.pith_number for r in refused] == [bad]
    with pytest.raises(FormatError, match=re.escape(bad)) as shown:
        registry.show(store, bad)
    with pytest.raises(FormatError, match=re.escape(bad)) as bundled:
        registry.bundle(store, bad, factory.signer(), factory.T0, BASE)
    for caught in (shown, bundled):
        assert caught.value.hint is not None and "backup" in caught.value.hint
    [good] = store.current_arxiv("2401.00003")
    assert registry.show(store, good)["pith_number"] == good


# -- the registry's own tables: its keys and its signed checkpoints -----------------------


KEY_ROWS = {
    "not JSON": b"\x00",
    "not a key record": b"{}",
    "a list": b"[1]",
}


@pytest.mark.parametrize("value", KEY_ROWS.values(), ids=KEY_ROWS.keys())
def test_a_key_row_that_cannot_be_read_is_named(store: Store, value: bytes) -> None:
    execute(store, "UPDATE keys_used SET record=?", (value,))
    with pytest.raises(StoreError, match="keys_used") as caught:
        store.keys_used()
    assert factory.signer().key_id in caught.value.message
    assert caught.value.hint is not None and "backup" in caught.value.hint


CHECKPOINT_ROWS = {
    "a state as text": ("state", "AAAA"),
    "a note as text": ("note", "x.example\n"),
    "a size as text": ("tree_size", "ten"),
}


@pytest.mark.parametrize(("column", "value"), CHECKPOINT_ROWS.values(), ids=CHECKPOINT_ROWS.keys())
def test_a_checkpoint_row_that_cannot_be_read_is_named(
    sqlite_store: Store, column: str, value: str
) -> None:
    store = sqlite_store
    make_checkpoint(store, factory.signer(), ORIGIN, "2026-05-18T00:00:00Z")
    execute(store, f"UPDATE log_checkpoints SET {column}=?", (value,))  # noqa: S608
    with pytest.raises(StoreError, match="checkpoint 1") as caught:
        make_checkpoint(store, factory.signer(), ORIGIN, "2026-05-18T00:00:01Z")
    assert caught.value.hint is not None and "backup" in caught.value.hint
    with pytest.raises(StoreError, match="checkpoint 1"):
        store.checkpoint(1)
