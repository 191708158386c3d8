"""Issuance from raw blocks (#14 §2): parsed in the workers, rows checked there, one writer.

The JSON-lines snapshot is read as raw blocks of lines (``issuer.sources._blocks``)
and parsed where it is signed; what the registry holds already is looked up per
block from the arXiv ids a pattern finds in it (a hint), and never signed again.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from issuer import cjson
from issuer._issuance import issue_block
from issuer.keys import PublicKey, SecretsHandler, SeedSigner, Signer
from issuer.pipeline import Issuer, IssueSummary, Reject, sign_records
from issuer.sources import LineBlock, SourceMetadata, _blocks, _snapshot, read_blocks, read_stream
from issuer.sources._blocks import blocks
from issuer.store import CheckedRecord, NewRecord, Store, open_store
from issuer.store._checked import checked_record
from tests import factory
from tests.unit.sources.test_readers import OAI_HEAD, OAI_TAIL, _raw_record


class CountingSigner(Signer):
    """Signs with a test key in this process, counting its signatures (never in workers)."""

    scheme = "counting"

    def __init__(self, inner: SeedSigner) -> None:
        super().__init__(inner.public_key)
        self.inner = inner
        self.signatures = 0

    def _sign(self, message: bytes) -> bytes:
        self.signatures += 1
        return self.inner.sign(message)

    @classmethod
    def load(cls, uri: str, public_key: PublicKey, secrets: SecretsHandler) -> Signer:
        raise NotImplementedError  # built directly, never from a URI

    @classmethod
    def generate(cls, uri: str, key_id: str, secrets: SecretsHandler) -> Signer:
        raise NotImplementedError


@pytest.fixture
def store(registry_url: str) -> Iterator[Store]:
    with open_store(registry_url) as opened:
        yield opened


def _issue(
    store: Store, path: Path, signer: Signer | None = None, *, workers: int = 1, batch: int = 3
) -> tuple[IssueSummary, list[Reject]]:
    rejects: list[Reject] = []
    summary = Issuer(
        store,
        signer or factory.signer(),
        lambda: factory.T0,
        on_reject=rejects.append,
        workers=workers,
        batch_size=batch,
    ).run([str(path)])
    return summary, rejects


BAD = b'{"id": "2401.09999", "truncated\n'
NO_ID = b'{"title": "no id"}\n'


def _mixed(path: Path) -> Path:
    """Lines: 1-2 good, 3 bad JSON, 4 blank, 5 good, 6 no id, 7-9 good, 10 bad JSON, 11 good."""
    good = [factory.snapshot_line(n) for n in range(1, 8)]
    lines = [*good[:2], BAD, b"\n", good[2], NO_ID, *good[3:6], BAD, good[6]]
    path.write_bytes(b"".join(lines))
    return path


def _items(data: bytes, size: int | None) -> list[Any]:
    stream = io.BytesIO(data)
    if size is None:
        return list(read_stream(stream, "in.json"))
    out: list[Any] = []
    for item in read_blocks(stream, "in.json", size):
        out.extend(item.items() if isinstance(item, LineBlock) else [item])
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 4, 100])
def test_blocks_give_exactly_what_a_whole_read_gives(
    tmp_path: Path, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_snapshot, "MAX_LINE_BYTES", 4000)  # so one line is over the limit
    data = _mixed(tmp_path / "in.json").read_bytes()
    long = b'{"id": "2401.08888", "title": "' + b"x" * 5000 + b'"}\n'
    data = data.replace(NO_ID, NO_ID + long)
    whole = _items(data, None)
    assert [getattr(i, "location", None) for i in whole][-1] == "in.json:12"
    assert any("longer than" in getattr(i, "reason", "") for i in whole)
    assert _items(data, size) == whole


def test_a_block_is_yielded_as_soon_as_it_is_full() -> None:
    class OneLineAtATime(io.RawIOBase):
        """Serves two lines, then fails: a block of two must not read further."""

        def __init__(self) -> None:
            self.lines = [factory.snapshot_line(1), factory.snapshot_line(2)]

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            if not self.lines:
                raise AssertionError("read past a full block")
            line = self.lines.pop(0)
            buffer[: len(line)] = line
            return len(line)

    first = next(blocks(io.BufferedReader(OneLineAtATime(), 1 << 16), "in.json", 2))
    assert isinstance(first, LineBlock) and (first.first_line, first.lines) == (1, 2)


def test_id_hints_find_the_ids_and_miss_escaped_ones() -> None:
    escaped = factory.snapshot_line(2).replace(b'"2401.00002"', b'"2401\\u002e00002"')
    block = LineBlock("in.json", 1, factory.snapshot_line(1) + escaped + BAD, 3)
    assert block.id_hints() == {"2401.00001", "2401.09999"}
    [meta] = [m for m in block.items() if isinstance(m, SourceMetadata)][1:]
    assert meta.arxiv_id == "2401.00002"  # the reader decodes what the hint missed


@pytest.mark.parametrize("workers", [1, 2])
def test_bad_lines_inside_blocks_are_refused_with_their_own_line(
    store: Store, tmp_path: Path, workers: int
) -> None:
    path = _mixed(tmp_path / "in.json")
    summary, rejects = _issue(store, path, workers=workers, batch=3)
    assert (summary.issued, summary.refused) == (7, 3)
    assert [r.location for r in rejects] == [f"{path}:3", f"{path}:6", f"{path}:10"]
    assert rejects[1].reason.startswith('no valid arXiv "id"')
    assert store.count() == 7


def test_a_rerun_signs_nothing(store: Store, tmp_path: Path) -> None:
    path = factory.snapshot(tmp_path / "in.json", range(1, 11))
    first = CountingSigner(factory.signer())
    assert _issue(store, path, first)[0].issued == 10
    assert first.signatures == 20  # a receipt and a record_created event each
    again = CountingSigner(factory.signer())
    summary, rejects = _issue(store, path, again)
    assert (summary.issued, summary.already_issued, rejects) == (0, 10, [])
    assert again.signatures == 0


def test_a_conflict_found_from_the_hints_is_refused_unsigned(store: Store, tmp_path: Path) -> None:
    _issue(store, factory.snapshot(tmp_path / "a.json", range(1, 4)))
    changed = tmp_path / "b.json"
    changed.write_bytes(
        factory.snapshot_line(1)
        + factory.snapshot_line(2, title="Retitled")
        + factory.snapshot_line(4)
    )
    signer = CountingSigner(factory.signer())
    summary, rejects = _issue(store, changed, signer)
    assert (summary.issued, summary.already_issued, summary.conflicts) == (1, 1, 1)
    assert signer.signatures == 2  # only 2401.00004
    [reject] = rejects
    assert reject.location == f"{changed}:2" and reject.record_id == "2401.00002"
    assert "2401.00002v1 was issued before with different content" in reject.reason


def test_an_id_the_hints_miss_is_still_found_issued(store: Store, tmp_path: Path) -> None:
    _issue(store, factory.snapshot(tmp_path / "a.json", range(1, 4)))
    escaped = tmp_path / "b.json"
    escaped.write_bytes(
        factory.snapshot_line(1).replace(b'"2401.00001"', b'"2401\\u002e00001"')
        + factory.snapshot_line(2, title="Retitled").replace(b'"2401.00002"', b'"2401\\u002e00002"')
        + factory.snapshot_line(5)
    )
    summary, rejects = _issue(store, escaped)
    assert (summary.issued, summary.already_issued, summary.conflicts) == (1, 1, 1)
    [reject] = rejects
    assert reject.location == f"{escaped}:2"
    assert "2401.00002v1 was issued before with different content" in reject.reason
    assert store.count() == 4


def test_blocks_in_flight_are_bounded(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = factory.snapshot(tmp_path / "in.json", range(1, 61))
    submitted = 0
    ahead: list[int] = []
    written = 0
    submit = Issuer._submit

    def counting_submit(self: Issuer, *args: Any) -> None:
        nonlocal submitted
        submitted += 1
        submit(self, *args)

    write = store.write_checked

    def counting_write(batch: list[CheckedRecord], key: Any) -> tuple[list[CheckedRecord], int]:
        nonlocal written
        ahead.append(submitted - written)
        written += 1
        return write(batch, key)

    monkeypatch.setattr(Issuer, "_submit", counting_submit)
    monkeypatch.setattr(store, "write_checked", counting_write)
    summary, _ = _issue(store, path, workers=2, batch=3)
    assert summary.issued == 60 and submitted == written == 20
    # Reading waits for the writer: at most 2 blocks per worker, and the one just read.
    assert max(ahead) == 2 * 2 + 1


def test_rows_checked_under_another_key_of_the_same_id_are_checked_again(
    store: Store, tmp_path: Path
) -> None:
    """``keys_used`` holds another key under the signer's id: the rows keep the bytes signed."""
    path = factory.snapshot(tmp_path / "in.json", range(1, 3))
    signer = factory.signer()
    impostor = SeedSigner(signer.key_id, bytes([9]) * 32)
    store.add_key(impostor.public_key)  # the issuer's add_key then leaves it as it is
    assert _issue(store, path, signer)[0].issued == 2
    with path.open("rb") as stream:
        metas = [m for m in read_stream(stream, str(path)) if isinstance(m, SourceMetadata)]
    for new in sign_records(metas, signer, factory.T0):
        assert isinstance(new, NewRecord)
        assert cjson.dumps(store.receipt(new.pith_number)) == new.receipt_json
        [event] = store.events(new.pith_number)
        assert cjson.dumps(event) == new.event_json


def test_rows_built_in_one_pass_are_the_rows_of_the_new_record(tmp_path: Path) -> None:
    """What workers send equals ``checked_record`` of the ``NewRecord`` writers are given."""
    lines = [factory.snapshot_line(n, versions=1 + n % 3) for n in range(1, 6)]
    unlicensed = json.loads(factory.snapshot_line(6))
    unlicensed.update(license=None, categories="hep-th")
    path = tmp_path / "in.json"
    path.write_bytes(b"".join(lines) + json.dumps(unlicensed).encode() + b"\n")
    signer = factory.signer()
    keys = {signer.key_id: signer.public_key}
    with path.open("rb") as stream:
        metas = [m for m in read_stream(stream, str(path)) if isinstance(m, SourceMetadata)]
    result = issue_block(metas, {}, signer, factory.T0)
    signed = sign_records(metas, signer, factory.T0)
    expected = [checked_record(n, keys) for n in signed if isinstance(n, NewRecord)]
    assert result.outcomes == expected and len(expected) == 6
    assert all(
        r.record[6] is None and r.receipt[5] is None and r.event[10] is None for r in expected
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_a_nul_in_a_line_is_refused_on_every_registry_and_the_run_goes_on(
    store: Store, tmp_path: Path, workers: int
) -> None:
    """PostgreSQL text cannot hold U+0000: a NUL in a title, or in a line's raw id, is the
    line's refusal, never an error of the registry that stops the run."""
    escaped = json.loads(factory.snapshot_line(2))
    escaped["title"] = "a\u0000b"
    path = tmp_path / "in.json"
    path.write_bytes(
        factory.snapshot_line(1)
        + json.dumps(escaped).encode()
        + b"\n"
        + b'{"id": "2401.\x0000003"}\n'
        + factory.snapshot_line(4)
    )
    summary, rejects = _issue(store, path, workers=workers, batch=2)
    assert (summary.issued, summary.refused) == (2, 2)
    assert [r.location for r in rejects] == [f"{path}:2", f"{path}:3"]
    assert "title: " in rejects[0].reason and "U+0000" in rejects[0].reason
    assert store.count() == 2


def test_a_block_is_bounded_in_bytes_as_well_as_in_lines() -> None:
    """A thousand lines of a few MiB each must not make one block of gigabytes."""
    lines = [
        factory.snapshot_line(n).replace(b'"title": "', b'"title": "' + b"t" * (1 << 20), 1)
        for n in range(1, 21)
    ]
    every = list(blocks(io.BytesIO(b"".join(lines)), "in.json", 1000))
    found = [b for b in every if isinstance(b, LineBlock)]
    assert found == every
    assert len(found) > 1
    assert all(len(b.data) <= _blocks.MAX_BLOCK_BYTES or b.lines == 1 for b in found)
    assert [b.first_line for b in found] == [
        1 + sum(b.lines for b in found[:i]) for i in range(len(found))
    ]
    assert sum(b.lines for b in found) == 20


def test_an_oai_batch_is_bounded_in_bytes_as_well_as_in_records(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OAI-PMH records of up to 4 MiB each are sent to the workers in batches of bounded size."""
    records = b"".join(
        _raw_record({**json.loads(factory.snapshot_line(n)), "title": "t" * (1 << 20)})
        for n in range(1, 21)
    )
    path = tmp_path / "page.xml"
    path.write_bytes(OAI_HEAD + records + OAI_TAIL)
    sizes: list[int] = []
    submit = Issuer._submit

    def measuring_submit(self: Issuer, source: Any, known: Any) -> None:
        assert not isinstance(source, LineBlock)
        sizes.append(sum(len(r.payload) for r in source))
        submit(self, source, known)

    monkeypatch.setattr(Issuer, "_submit", measuring_submit)
    summary, _ = _issue(store, path, batch=1000)
    assert summary.issued == 20
    assert len(sizes) > 1
    assert max(sizes) <= _blocks.MAX_BLOCK_BYTES
