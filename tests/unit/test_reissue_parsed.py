"""Re-signing workers build compact rows' objects without JSON between (#14), with equal results.

:meth:`ResignBatch.parsed` builds the receipt and ``record_created`` event of
compact rows as objects; :meth:`ResignBatch.objects` rebuilds their bytes,
which the worker parsed strictly before. Each case below is a batch both
walks read: the objects must be equal, and so must the error (type and
message) where the strict parse or the rebuild refuses, and what
:func:`resign` makes of the batch either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from issuer import cjson
from issuer.errors import Error
from issuer.pipeline import Issuer
from issuer.reissue import resign
from issuer.store import ResignBatch, loaded, open_store
from issuer.store._compact import RECEIPT_COLUMNS, RECORD_COLUMNS, record_payload
from issuer.store._sql_reissue import ResignParsed, _plain, with_receipt
from tests import factory

OLD, NEW = factory.signer(1), factory.signer(2)
LATER = factory.T0 + timedelta(days=40)
RECORDS = 4
_RECORD = 6  # where a context row's record columns start
_RECEIPT = _RECORD + len(RECORD_COLUMNS)  # and its receipt columns


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> ResignBatch:
    """A registry's batch: every record compact, the first with a graph_snapshot too."""
    tmp = tmp_path_factory.mktemp("parsed")
    source = tmp / "in.jsonl"
    source.write_bytes(b"".join(factory.snapshot_line(n) for n in range(RECORDS)))
    with open_store(tmp / "r.sqlite3") as store:
        Issuer(store, OLD, lambda: factory.T0, workers=1).run([str(source)])
        first = store.resign_batch(0, 1)
        assert first is not None
        number = first.objects().__next__().context.pith_number
        issued = store.record(number)
        assert issued is not None
        store.append_event(factory.event(issued.record, OLD))
        found = store.resign_batch(0, RECORDS)
    assert found is not None
    assert len(found.records[0][2]) == 2  # record_created, graph_snapshot
    return found


def _changed(
    batch: ResignBatch, change: Callable[[list[Any], list[list[Any]]], None], record: int = 1
) -> ResignBatch:
    """``batch`` with ``change(context row, event rows)`` applied to one record's rows."""
    records = list(batch.records)
    row_id, context_row, events = records[record]
    context, rows = list(context_row), [list(e) for _, e in events]
    change(context, rows)
    records[record] = (
        row_id,
        tuple(context),
        [(r, tuple(e)) for (r, _), e in zip(events, rows, strict=True)],  # type: ignore[misc]
    )
    return ResignBatch(dict(batch.keys), records)


def _receipt_whole(context: list[Any], _events: list[list[Any]]) -> None:
    context[_RECEIPT:] = [None] * (len(RECEIPT_COLUMNS) - 1) + [_receipt_json(context)]


def _receipt_json(context: list[Any]) -> bytes:
    objects = ResignBatch(BATCH_KEYS, [(1, tuple(context), [])]).objects()
    return next(objects).receipt


def _record_whole(context: list[Any], _events: list[list[Any]]) -> None:
    objects = ResignBatch(BATCH_KEYS, [(1, tuple(context), [])]).objects()
    record_json = next(objects).context.record_json
    context[_RECORD:_RECEIPT] = [None] * (len(RECORD_COLUMNS) - 1) + [record_json]


def _event_whole(context: list[Any], events: list[list[Any]]) -> None:
    objects = ResignBatch(BATCH_KEYS, [(1, tuple(context), [(9, tuple(events[0]))])]).objects()
    events[0][5:] = [None] * 5 + [next(objects).events[0][1]]


def _payload_kept(context: list[Any], events: list[list[Any]]) -> None:
    # As after a re-issuance: the event keeps a payload its record row no longer rebuilds.
    objects = ResignBatch(BATCH_KEYS, [(1, tuple(context), [])]).objects()
    built = next(objects).context
    receipt = cjson.loads(built.receipt_json)
    other = cjson.dumps_parsed({**receipt, "builder_version": "an older builder"})
    events[0][9] = record_payload(with_receipt(built, other))


def _version(value: int) -> Callable[[list[Any], list[list[Any]]], None]:
    def change(context: list[Any], _events: list[list[Any]]) -> None:
        context[5] = value

    return change


def _receipt_json_column(data: bytes) -> Callable[[list[Any], list[list[Any]]], None]:
    def change(context: list[Any], _events: list[list[Any]]) -> None:
        context[_RECEIPT:] = [None] * (len(RECEIPT_COLUMNS) - 1) + [data]

    return change


def _unknown_receipt_key(context: list[Any], _events: list[list[Any]]) -> None:
    context[3] = "not-a-key-of-this-registry"


def _unknown_event_key(_context: list[Any], events: list[list[Any]]) -> None:
    events[0][7] = "not-a-key-of-this-registry"


BATCH_KEYS: dict[str, Any] = {}
CASES: dict[str, Callable[[list[Any], list[list[Any]]], None] | None] = {
    "compact rows": None,
    "receipt stored whole": _receipt_whole,
    "record stored whole": _record_whole,
    "record_created stored whole": _event_whole,
    "record_created keeps its payload": _payload_kept,
    "largest version the strict parse reads": _version(2**53 - 1),
    "version past the strict parse's integers": _version(2**53),
    "negative version past them": _version(-(2**53)),
    "receipt whole, not canonical JSON": _receipt_json_column(b'{"a": 1}'),
    "receipt whole, a float": _receipt_json_column(b'{"a":1.5}'),
    "receipt whole, not an object": _receipt_json_column(b"[]"),
    "receipt key not in the registry": _unknown_receipt_key,
    "event key not in the registry": _unknown_event_key,
}


def _outcome(walk: Callable[[], Iterator[tuple[Any, ...]]]) -> Any:
    try:
        return ("ok", list(walk()))
    except (Error, AssertionError, AttributeError, KeyError, TypeError, ValueError) as e:
        return (type(e).__name__, str(e))


def _via_bytes(batch: ResignBatch) -> Iterator[tuple[Any, ...]]:
    for o in batch.objects():
        receipt = cjson.loads(o.receipt)
        yield o.row_id, receipt, [(r, cjson.loads(b), kept) for r, b, kept in o.events]


def _via_parsed(batch: ResignBatch) -> Iterator[tuple[Any, ...]]:
    for o in batch.parsed():
        receipt = loaded(o.receipt)
        yield o.row_id, receipt, [(r, loaded(x), kept) for r, x, kept in o.events]


def _bytes_only(batch: ResignBatch) -> Iterator[ResignParsed]:
    """``parsed`` as the worker read batches before: every object as its bytes."""
    for o in batch.objects():
        yield ResignParsed(o.row_id, o.context, o.receipt, list(o.events))


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_objects_are_what_the_strict_parse_of_the_bytes_gives(
    batch: ResignBatch, case: str
) -> None:
    BATCH_KEYS.update(batch.keys)
    change = CASES[case]
    changed = batch if change is None else _changed(batch, change)
    expected = _outcome(lambda: _via_bytes(changed))
    assert _outcome(lambda: _via_parsed(changed)) == expected
    if case in {"compact rows", "largest version the strict parse reads"}:
        assert expected[0] == "ok"
        first = next(changed.parsed())
        assert isinstance(first.receipt, dict)  # built, not parsed
        assert all(isinstance(e, dict) for _, e, _ in first.events[:1])


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_resign_makes_the_same_rows_either_way(
    batch: ResignBatch, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    BATCH_KEYS.update(batch.keys)
    change = CASES[case]
    changed = batch if change is None else _changed(batch, change)
    keys = {**changed.keys, NEW.key_id: NEW.public_key}
    changed = ResignBatch(keys, changed.records)

    def run() -> Iterator[tuple[Any, ...]]:
        done = resign(changed, NEW, LATER, keys)
        yield done.receipts, done.events, done.receipts_current, done.events_current

    fast = _outcome(run)
    monkeypatch.setattr(ResignBatch, "parsed", _bytes_only)
    assert _outcome(run) == fast


def test_a_batch_of_compact_rows_is_parsed_nowhere(
    batch: ResignBatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_data: bytes) -> Any:
        raise AssertionError("parsed")

    monkeypatch.setattr(cjson, "loads", refuse)
    records = [r for r in batch.records if len(r[2]) == 1]  # record_created only
    keys = {**batch.keys, NEW.key_id: NEW.public_key}
    done = resign(ResignBatch(keys, records), NEW, LATER, keys)
    assert len(done.receipts) == len(done.events) == len(records)


def test_the_batch_fixture_is_compact(batch: ResignBatch) -> None:
    for _, context_row, events in batch.records:
        assert context_row[_RECEIPT - 1] is None  # record_json: compact
        assert context_row[-1] is None  # receipt_json: compact
        assert all(e[10] is None for _, e in events)


@pytest.mark.parametrize(
    "row",
    [
        (1, "a", b"b", None, 2.5, True),
        (1, memoryview(b"sig"), b"b"),
        (bytearray(b"x"), "a"),
        (),
    ],
    ids=["plain values", "a memoryview", "a bytearray", "empty"],
)
def test_rows_sent_to_workers_hold_bytes_for_every_buffer(row: tuple[Any, ...]) -> None:
    plain = _plain(row)
    assert plain == tuple(bytes(v) if isinstance(v, memoryview | bytearray) else v for v in row)
    assert all(type(v) is not memoryview and type(v) is not bytearray for v in plain)
    assert type(plain) is tuple
