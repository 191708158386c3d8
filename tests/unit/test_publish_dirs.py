"""Publishing makes each directory once per run, and a directory gone meanwhile is an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from issuer._fs import atomic_write
from issuer.pipeline import Issuer
from issuer.publish import publish
from issuer.store import open_store
from tests import factory

RECORDS = 20


def test_each_directory_is_made_once_per_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(tmp_path / "r.sqlite3") as store:
        Issuer(store, factory.signer(), lambda: factory.T0, workers=1).run(
            [str(factory.snapshot(tmp_path / "in.json", range(1, RECORDS + 1)))]
        )
        made: list[Path] = []
        real = Path.mkdir

        def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
            made.append(self)
            real(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", mkdir)
        summary = publish(
            store, tmp_path / "site", factory.signer(), base_url="https://a.example", now=factory.T0
        )
    assert summary.written == RECORDS
    record_dirs = [p for p in made if p.parent == tmp_path / "site" / "pith" and len(p.name) == 26]
    # One call per record, though three files land in each (the first call also makes
    # site/pith/, and Path.mkdir then calls itself again for the record's directory).
    assert len(set(record_dirs)) == RECORDS
    assert len(record_dirs) <= RECORDS + 1


def test_a_directory_said_to_exist_is_not_made(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "missing" / "f.json", b"{}", durable=False, parent_exists=True)
    assert not (tmp_path / "missing").exists()
    atomic_write(tmp_path / "made" / "f.json", b"{}", durable=False)
    assert (tmp_path / "made" / "f.json").read_bytes() == b"{}"
