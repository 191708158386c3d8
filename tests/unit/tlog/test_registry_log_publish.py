"""The log in the published tree (issue 16 §3) and the proofs in published bundles (§4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer import publish as publish_module
from issuer.errors import Error
from issuer.keys.keyset import KeySet
from issuer.pipeline import Issuer
from issuer.publish import CHECKPOINT_FILE, publish
from issuer.reissue import reissue
from issuer.store import Store, open_store
from issuer.tlog import (
    Checkpoint,
    CheckpointPolicy,
    EntryBundle,
    Note,
    Tile,
    TileReader,
    VerifierKey,
    decode_bundle,
    entry_bundles,
    leaf_hash,
    subtree_hash,
    tiles,
    verify_checkpoint,
)
from issuer.verify import LogPolicy, verify_bundle
from tests import factory

BASE = "https://registry.example/pith"
ORIGIN = "registry.example/pith"
KEY = factory.signer()
TRUSTED = KeySet([KEY.public_key])
REQUIRED = LogPolicy(require=True, origin=ORIGIN)


@pytest.fixture
def store(registry_url: str) -> Iterator[Store]:
    with open_store(registry_url) as opened:
        yield opened


def _issue(store: Store, tmp_path: Path, numbers: range) -> None:
    data = factory.snapshot(tmp_path / f"in{numbers.start}.json", numbers)
    Issuer(store, KEY, lambda: factory.T0, workers=1).run([str(data)])


def _publish(store: Store, out: Path, days: int = 1) -> publish_module.PublishSummary:
    return publish(store, out, KEY, base_url=BASE, now=factory.T0 + timedelta(days=days))


def _read_tree(out: Path) -> tuple[Checkpoint, bytes, list[bytes]]:
    """What a tiles client sees: the checkpoint, the root the tiles give, every entry."""
    note = (out / CHECKPOINT_FILE).read_bytes()
    checkpoint = Checkpoint.from_text(Note.parse(note).text)
    size = checkpoint.size
    reader = TileReader(size, lambda tile: (out / tile.path).read_bytes())
    root = subtree_hash(reader, 0, size)
    entries = [
        e for b in entry_bundles(size) for e in decode_bundle((out / b.path).read_bytes(), b)
    ]
    return checkpoint, root, entries


def _bundles(out: Path) -> dict[str, dict[str, Any]]:
    return {
        p.parent.name: json.loads(p.read_bytes())
        for p in sorted((out / "pith").glob("*/bundle.json"))
    }


def test_a_tiles_client_reads_the_published_log_and_every_bundle_proves_its_leaves(
    store: Store, tmp_path: Path
) -> None:
    _issue(store, tmp_path, range(1, 140))  # 278 leaves: a full tile and a partial one
    out = tmp_path / "site"
    summary = _publish(store, out)
    assert summary.log_size == 278
    checkpoint, root, entries = _read_tree(out)
    assert (checkpoint.origin, checkpoint.size) == (ORIGIN, 278)
    assert root == checkpoint.root_hash
    assert entries == list(store.log_entries(0, 278))
    assert [leaf_hash(e) for e in entries[:2]] == [
        (out / Tile(0, 0).path).read_bytes()[:32],
        (out / Tile(0, 0).path).read_bytes()[32:64],
    ]
    # The key document names the log key; the checkpoint verifies with it.
    document = json.loads((out / "pith-signing-key.json").read_bytes())
    [vkey] = document["log_keys"]
    verify_checkpoint(
        (out / CHECKPOINT_FILE).read_bytes(), CheckpointPolicy(VerifierKey.parse(vkey))
    )
    bundles = _bundles(out)
    assert len(bundles) == 139
    for bundle in bundles.values():
        assert len(bundle["timestamp_proofs"]) == 2
        verify_bundle(bundle, TRUSTED, log=REQUIRED)


def test_publishing_is_incremental_and_unchanged_bundles_keep_their_proofs(
    store: Store, tmp_path: Path
) -> None:
    _issue(store, tmp_path, range(1, 140))
    out = tmp_path / "site"
    _publish(store, out)
    full = out / Tile(0, 0).path
    full.write_bytes(full.read_bytes())  # any rewrite would change its mtime
    mtime = full.stat().st_mtime_ns
    before = _bundles(out)
    _issue(store, tmp_path, range(140, 300))  # 598 leaves
    summary = _publish(store, out, days=2)
    assert (summary.written, summary.unchanged, summary.log_size) == (160, 139, 598)
    assert full.stat().st_mtime_ns == mtime
    # New tiles only: level-0 tiles 1 (full) and 2 (86 wide), entry bundles alike, the
    # 2-wide level-1 tile, and the checkpoint.
    assert summary.log_files == 6
    after = _bundles(out)
    for code, bundle in before.items():
        assert after[code] == bundle  # the old proof, against the old checkpoint
        verify_bundle(bundle, TRUSTED, log=REQUIRED)
    checkpoint, root, _ = _read_tree(out)
    assert (checkpoint.size, root) == (598, checkpoint.root_hash)
    sizes = {b["timestamp_proofs"][0]["tree_size"] for b in after.values()}
    assert sizes == {278, 598}
    for bundle in after.values():
        verify_bundle(bundle, TRUSTED, log=REQUIRED)
    again = _publish(store, out, days=3)
    assert (again.written, again.log_files) == (0, 0)


def test_the_checkpoint_is_written_last(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _issue(store, tmp_path, range(1, 4))
    out = tmp_path / "site"
    _publish(store, out)
    old = (out / CHECKPOINT_FILE).read_bytes()
    _issue(store, tmp_path, range(4, 8))

    def fail(*_args: object) -> None:
        raise publish_module.PublishError("disk full")

    with monkeypatch.context() as m:
        m.setattr(publish_module, "_write_indexes", fail)
        with pytest.raises(Error, match="disk full"):
            _publish(store, out, days=2)
    # Tiles of the new tree and the new bundles are there; the checkpoint is still the old one.
    assert (out / CHECKPOINT_FILE).read_bytes() == old
    assert (out / Tile(0, 0, 14).path).is_file()
    assert (out / EntryBundle(0, 14).path).is_file()
    _publish(store, out, days=2)
    checkpoint, root, entries = _read_tree(out)
    assert (checkpoint.size, root, len(entries)) == (14, checkpoint.root_hash, 14)


def test_every_tile_is_published_and_reissued_bundles_keep_verifying(
    store: Store, tmp_path: Path
) -> None:
    _issue(store, tmp_path, range(1, 4))
    out = tmp_path / "site"
    _publish(store, out)
    assert {t.path for t in tiles(6)} <= {
        str(p.relative_to(out)) for p in (out / "tile").rglob("*") if p.is_file()
    }
    new = factory.signer(2)
    reissue(store, new, now=factory.T0 + timedelta(days=3))
    assert store.log_size() == 6  # a reissue adds no leaf
    publish(store, out, new, base_url=BASE, now=factory.T0 + timedelta(days=4))
    keys = KeySet([KEY.public_key, new.public_key])
    for bundle in _bundles(out).values():
        verify_bundle(bundle, keys, log=REQUIRED)
