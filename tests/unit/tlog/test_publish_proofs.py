"""Proofs as publishing makes them: leaf names without a strict parse, edge subtrees folded once."""

from __future__ import annotations

import base64

import pytest

from issuer import cjson
from issuer.errors import FormatError
from issuer.tlog import (
    CachedNodes,
    MemoryTree,
    StoredCheckpoint,
    _log,
    event_entry,
    inclusion_object,
    inclusion_proof,
    inclusion_proofs,
    leaf_hash,
    parse_entry,
    record_entry,
    subtree_hash,
)
from issuer.tlog._log import leaf_name
from issuer.tlog._merkle import inclusion_ranges
from tests.unit.tlog.test_cached_nodes import _Counting

NUMBER = "pith:2018:AH5S4WE2T4KISLKPOBTLFWQMX3"
DIGEST = "ab" * 32
EVENT_ID = "sha256:" + "cd" * 32
SIZE = 300


def _tree(size: int = SIZE) -> MemoryTree:
    return MemoryTree(leaf_hash(b"leaf %d" % i) for i in range(size))


def test_the_registry_entries_are_named_as_the_strict_parse_names_them() -> None:
    assert leaf_name(record_entry(NUMBER, DIGEST)) == "record"
    assert leaf_name(event_entry(NUMBER, EVENT_ID)) == EVENT_ID
    assert parse_entry(event_entry(NUMBER, EVENT_ID)).subject == EVENT_ID


@pytest.mark.parametrize(
    "entry",
    [
        # a record entry whose signed digest is not its record's
        cjson.dumps(
            {
                "canonical_sha256": DIGEST,
                "entry_version": 1,
                "kind": "record",
                "pith_number": NUMBER,
                "signed_digest": "ef" * 32,
            }
        ),
        # the same entry as the registry's, not canonical (a space)
        record_entry(NUMBER, DIGEST).replace(b",", b", ", 1),
        # an unknown kind, an event id that is none, a list, not JSON
        cjson.dumps({"kind": "other", "pith_number": NUMBER}),
        cjson.dumps(
            {
                "entry_version": 1,
                "event_id": "sha256:xyz",
                "kind": "event",
                "pith_number": NUMBER,
                "signed_digest": "cd" * 32,
            }
        ),
        b"[1]",
        b"{",
    ],
)
def test_any_other_entry_is_refused_as_the_strict_parse_refuses_it(entry: bytes) -> None:
    with pytest.raises(FormatError) as strict:
        parse_entry(entry)
    with pytest.raises(FormatError) as named:
        leaf_name(entry)
    assert named.value.message == strict.value.message


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 65, 299, 300])
def test_remembered_subtrees_give_every_range_its_hash(size: int) -> None:
    tree = _tree(size)
    cached = CachedNodes(tree, limit=8)
    for start in range(size):
        for end in range(start, size + 1):
            width = end - start
            if width and start % (1 << (width - 1).bit_length()) and start:
                continue  # not a range a proof asks for (unaligned)
            assert cached.subtree(start, end) == subtree_hash(tree, start, end)
            assert cached.subtree(start, end) == subtree_hash(tree, start, end)
            assert len(cached) <= 8


def test_proofs_of_one_publication_fold_the_right_edge_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tree = _tree()
    reader = _Counting(tree)
    nodes = CachedNodes(reader)
    folds: list[tuple[int, int]] = []

    def counting(nodes_: object, start: int, end: int) -> bytes:
        if (end - start) & (end - start - 1):  # an incomplete subtree: a fold of nodes
            folds.append((start, end))
        return subtree_hash(nodes_, start, end)  # type: ignore[arg-type]

    monkeypatch.setattr(_log, "subtree_hash", counting)
    checkpoint = StoredCheckpoint(SIZE, "log.example", b"note\n", b"", "2026-01-01T00:00:00Z")
    entries = [(i, record_entry(NUMBER, f"{i:064x}")) for i in range(SIZE)]
    first = inclusion_proofs(entries[:1], checkpoint, nodes)
    assert folds == [(256, 300)]
    reads = reader.reads
    again = inclusion_proofs(entries[1:2], checkpoint, nodes)
    assert folds == [(256, 300)]  # the right edge was remembered
    assert reader.reads - reads <= 1  # leaf 0's sibling: the rest was kept
    for (index, entry), proof in zip(entries[:2], [*first, *again], strict=True):
        assert proof == inclusion_object(
            "log.example",
            index,
            tree_size=SIZE,
            entry=entry,
            proof=inclusion_proof(tree, index, SIZE),
            checkpoint=b"note\n",
        )


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 65, 299, 300])
def test_proofs_spelt_once_per_range_are_the_proofs_spelt_each_time(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _tree(size)
    checkpoint = StoredCheckpoint(size, "log.example", b"note\n", b"", "2026-01-01T00:00:00Z")
    entries = [(i, record_entry(NUMBER, f"{i:064x}")) for i in range(size)]
    spelt: list[bytes] = []
    real = base64.b64encode

    def counting(data: bytes) -> bytes:
        spelt.append(data)
        return real(data)

    monkeypatch.setattr(base64, "b64encode", counting)
    cached = inclusion_proofs(entries, checkpoint, CachedNodes(tree))
    ranges = {r for i in range(size) for r in inclusion_ranges(i, 0, size)}
    assert len(spelt) == len(ranges)  # each range's hash spelt once, not once per proof
    assert sum(len(p["proof"]) for p in cached) > len(ranges) or size < 3
    monkeypatch.setattr(base64, "b64encode", real)
    assert cached == inclusion_proofs(entries, checkpoint, tree)  # the uncached path
    assert cached == [
        inclusion_object(
            "log.example",
            index,
            tree_size=size,
            entry=entry,
            proof=inclusion_proof(tree, index, size),
            checkpoint=b"note\n",
        )
        for index, entry in entries
    ]
