"""Publishing's writes on plain string paths (#14): same files, same modes, same failures."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from issuer._fs import atomic_write
from issuer.pipeline import Issuer
from issuer.publish import publish
from issuer.store import open_store
from tests import factory

RECORDS = 6


def test_a_string_path_is_written_like_a_path(tmp_path: Path) -> None:
    atomic_write(str(tmp_path / "a" / "f.json"), b"{}", mode=0o600, durable=False)
    atomic_write(tmp_path / "b" / "f.json", b"{}", mode=0o600)
    for name in ("a", "b"):
        written = tmp_path / name / "f.json"
        assert written.read_bytes() == b"{}"
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
        assert os.listdir(tmp_path / name) == ["f.json"]  # no temporary file left


def test_the_mode_is_exact_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        atomic_write(str(tmp_path / "f.html"), b"x", mode=0o644, durable=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.html").stat().st_mode) == 0o644


def test_a_large_file_is_written_whole(tmp_path: Path) -> None:
    data = bytes(range(256)) * (1 << 16)  # 16 MiB: more than one write() may take
    atomic_write(str(tmp_path / "big"), data, durable=False)
    assert (tmp_path / "big").read_bytes() == data


def test_a_failed_rename_leaves_the_target_and_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "target").mkdir()  # a directory where the file should go: the rename fails
    with pytest.raises(OSError, match="directory"):
        atomic_write(str(tmp_path / "target"), b"data", durable=False)
    assert os.listdir(tmp_path) == ["target"]
    assert (tmp_path / "target").is_dir()


def test_a_rerun_into_an_existing_tree_makes_no_record_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A directory the run found (listing it for completeness) is not made again.
    with open_store(tmp_path / "r.sqlite3") as store:
        Issuer(store, factory.signer(), lambda: factory.T0, workers=1).run(
            [str(factory.snapshot(tmp_path / "in.json", range(1, RECORDS + 1)))]
        )
        site = tmp_path / "site"
        publish(store, site, factory.signer(), base_url="https://a.example", now=factory.T0)
        before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
        made: list[Path] = []
        real = Path.mkdir

        def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
            made.append(self)
            real(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", mkdir)
        again = publish(
            store, site, factory.signer(), base_url="https://a.example", now=factory.T0, force=True
        )
    assert again.written == RECORDS
    assert [p for p in made if len(p.name) == 26] == []
    after = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    assert after.keys() == before.keys()
