"""Publishing into a tree someone else could write to: links, FIFOs, the umask.

Whoever can write OUTDIR (another user of a shared web root, an earlier
compromised run) must not be able to make ``pith publish`` write outside it,
hang it, or leave the served tree writable by others.
"""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from issuer.publish import PublishError, PublishSummary, publish
from issuer.store import Store, open_store
from tests import factory
from tests.registry_sql import issue


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "r.sqlite3") as opened:
        issue(opened, tmp_path, range(1, 4))
        yield opened


def _publish(store: Store, out: Path, **kw: Any) -> PublishSummary:
    return publish(store, out, factory.signer(), base_url="https://a.example", now=factory.T0, **kw)


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(
    "link", ["pith", ".well-known", ".well-known/pith", "tile", "tile/entries", "years"]
)
def test_a_directory_linked_elsewhere_is_refused_and_nothing_is_written_there(
    store: Store, tmp_path: Path, link: str
) -> None:
    out, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / link).parent.mkdir(parents=True, exist_ok=True)
    (out / link).symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(PublishError, match=f"{out / link}: a symbolic link"):
        _publish(store, out)
    assert _listing(elsewhere) == []


def test_a_record_directory_linked_elsewhere_is_refused_even_when_complete(
    store: Store, tmp_path: Path
) -> None:
    out, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    _publish(store, out)
    code = sorted(os.listdir(out / "pith"))[0]
    (out / "pith" / code).rename(elsewhere)  # every file there, as the run expects
    (out / "pith" / code).symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / ".notes.txt.123.tmp").write_bytes(b"not the tree's")
    before = {p: p.read_bytes() for p in elsewhere.iterdir()}
    with pytest.raises(PublishError, match=f"{out / 'pith' / code}: a symbolic link"):
        _publish(store, out, force=True)
    assert {p: p.read_bytes() for p in elsewhere.iterdir()} == before


def test_a_linked_lock_file_creates_nothing_where_it_points(store: Store, tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / ".pith-publish.lock").symlink_to(elsewhere / "created")
    with pytest.raises(PublishError, match=r"\.pith-publish\.lock: a symbolic link"):
        _publish(store, out)
    assert _listing(elsewhere) == []


def test_stale_temporary_files_are_not_swept_through_a_linked_year(
    store: Store, tmp_path: Path
) -> None:
    out, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    _publish(store, out)
    elsewhere.mkdir()
    victim = elsewhere / ".index.html.4242.tmp"
    victim.write_bytes(b"someone else's")
    (out / "years" / "1999").symlink_to(elsewhere, target_is_directory=True)
    _publish(store, out)  # the link is not one the run writes through
    assert victim.read_bytes() == b"someone else's"


@pytest.mark.parametrize("name", ["index.html", "pith-signing-key.json", "checkpoint"])
def test_a_fifo_or_a_link_in_place_of_a_file_is_replaced_not_read(
    store: Store, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "site"
    _publish(store, out)
    want = (out / name).read_bytes()
    (out / name).unlink()
    os.mkfifo(out / name)  # reading it would wait for a writer forever
    _publish(store, out)
    assert (out / name).read_bytes() == want
    secret = tmp_path / "secret"
    secret.write_bytes(want)  # what the run would find if it followed the link
    (out / name).unlink()
    (out / name).symlink_to(secret)
    _publish(store, out)
    assert not (out / name).is_symlink()
    assert (out / name).read_bytes() == want


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_the_served_tree_is_0755_directories_and_0644_files_whatever_the_umask(
    store: Store, tmp_path: Path, umask: int
) -> None:
    out = tmp_path / "site"
    old = os.umask(umask)
    try:
        _publish(store, out / "tree")
    finally:
        os.umask(old)
    modes = {
        str(p.relative_to(out)): stat.S_IMODE(p.lstat().st_mode) for p in (out / "tree").rglob("*")
    }
    assert {m for p, m in modes.items() if (out / p).is_dir()} == {0o755}
    hidden = {p for p in modes if os.path.basename(p).startswith(".pith-")}
    assert {m for p, m in modes.items() if (out / p).is_file() and p not in hidden} == {0o644}
    assert not any(modes[p] & (stat.S_IWGRP | stat.S_IWOTH) for p in hidden)


@pytest.fixture
def full_tile_store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "full.sqlite3") as opened:
        issue(opened, tmp_path, range(1, 130))  # 258 leaves: one full tile, and a partial one
        yield opened


@pytest.mark.parametrize("gone", ["tile/0/000", "tile/entries/000"])
def test_a_full_tile_deleted_from_the_tree_is_written_again(
    full_tile_store: Store, tmp_path: Path, gone: str
) -> None:
    out = tmp_path / "site"
    _publish(full_tile_store, out)
    want = (out / gone).read_bytes()
    (out / gone).unlink()
    assert _publish(full_tile_store, out).log_files == 1
    assert (out / gone).read_bytes() == want


def test_force_rewrites_a_tile_altered_in_the_tree(full_tile_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "site"
    _publish(full_tile_store, out)
    tile = out / "tile" / "0" / "000"
    want = tile.read_bytes()
    tile.write_bytes(bytes(len(want)))  # as long as a tile, every hash wrong
    _publish(full_tile_store, out, force=True)
    assert tile.read_bytes() == want


def test_a_second_run_on_the_same_tree_is_refused_while_the_first_holds_it(
    store: Store, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    _publish(store, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    fd = os.open(out / ".pith-publish.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a run writing the tree holds it
        with pytest.raises(PublishError, match="another pith publish is writing"):
            _publish(store, out, force=True)
    finally:
        os.close(fd)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(
    "name", ["pith/{}/bundle.json", "pith/{}/state.json", ".well-known/pith/{}/bundle.json"]
)
def test_a_record_file_deleted_from_the_tree_is_written_again(
    store: Store, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "site"
    _publish(store, out)
    path = out / name.format(sorted(os.listdir(out / "pith"))[0])
    path.unlink()
    assert _publish(store, out).written == 1
    assert path.is_file()
