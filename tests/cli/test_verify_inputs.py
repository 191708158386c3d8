"""``pith verify DIR``: the files a directory yields, their order, and what start-up imports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from issuer.cli import app
from issuer.cli._verify import _bundles_under, _inputs
from tests.conftest import BUNDLE_PATH

runner = CliRunner()

# Names whose order as strings differs from their order as paths ("-" sorts before "/").
LAYOUT = [
    "a/b.json",
    "a-c.json",
    "a.json",
    "a/b/c.json",
    "a b/x.json",
    "Z.json",
    "pith/CODE/bundle.json",
    "pith/CODE/state.json",  # a published tree's state: skipped
    "pith-signing-key.json",  # its key document: skipped
    ".hidden.json",  # hidden file: skipped
    ".well-known/pith/CODE/bundle.json",  # under a hidden directory: skipped
    "a/.cache/d.json",  # likewise, deeper down
    "notes.txt",  # not *.json
]
EXPECTED = [
    "a/b.json",
    "a-c.json",
    "a.json",
    "a/b/c.json",
    "a b/x.json",
    "Z.json",
    "pith/CODE/bundle.json",
]


def _tree(root: Path) -> None:
    for name in LAYOUT:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(BUNDLE_PATH.read_bytes())
    (root / "dir.json").mkdir()  # a directory named like a bundle is not one


def test_a_directory_yields_its_bundles_in_path_order(tmp_path: Path) -> None:
    _tree(tmp_path)
    got = [name for name, _, _ in _inputs([str(tmp_path)])]
    assert got == [str(p) for p in sorted(tmp_path / name for name in EXPECTED)]
    assert got != sorted(got)  # the string order would differ: the test can tell them apart


def test_the_command_prints_them_in_that_order(tmp_path: Path) -> None:
    _tree(tmp_path)
    result = runner.invoke(app, ["verify", "--jobs", "1", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    printed = [line[len("OK: ") : line.rindex(" (")] for line in result.stderr.splitlines()]
    assert printed == [str(p) for p in sorted(tmp_path / name for name in EXPECTED)]


def _rglob_listing(path: Path) -> list[Path]:
    """The listing as ``rglob`` gives it, filtered afterwards: what the walk must equal."""
    depth = len(path.parts)
    return [
        file
        for file in path.rglob("*.json")
        if file.is_file()
        and file.name not in {"state.json", "pith-signing-key.json"}
        and not file.name.startswith(".")
        and not any(part.startswith(".") for part in file.parts[depth:-1])
    ]


def _awkward_tree(root: Path) -> None:
    """LAYOUT, and what a directory walk could get wrong: links, loops, odd names."""
    _tree(root)
    (root / "dir.json" / "inner.json").write_bytes(b"{}")  # inside a directory named *.json
    (root / "UPPER.JSON").write_bytes(b"{}")
    (root / "x.json.bak").write_bytes(b"{}")
    (root / "deep" / "er" / "est").mkdir(parents=True)
    (root / "deep" / "er" / "est" / "z.json").write_bytes(b"{}")
    (root / "empty").mkdir()
    (root / "file-link.json").symlink_to(root / "notes.txt")  # a link to a file: a file
    (root / "to-a.json").symlink_to(root / "a", target_is_directory=True)  # not followed
    (root / "link-dir").symlink_to(root / "a", target_is_directory=True)  # not entered
    (root / "broken.json").symlink_to(root / "nowhere.json")
    (root / "loop.json").symlink_to(root / "loop.json")
    (root / ".hidden-dir" / "sub").mkdir(parents=True)
    (root / ".hidden-dir" / "sub" / "h.json").write_bytes(b"{}")
    for name in ("a-z.json", "a0.json", "A.json"):  # around the directory a/
        (root / name).write_bytes(b"{}")


@pytest.mark.parametrize("start", ["", "a", ".hidden-dir"])
def test_the_walk_lists_what_rglob_lists(tmp_path: Path, start: str) -> None:
    _awkward_tree(tmp_path)
    top = tmp_path / start
    walked = list(_bundles_under(str(top)))
    # Found in the order of the sorted paths (by parts: a/b.json before a-z.json).
    assert walked == [str(p) for p in sorted(_rglob_listing(top))]
    if not start:
        names = {Path(p).relative_to(tmp_path).as_posix() for p in walked}
        assert names.issuperset({"a-z.json", "a0.json", "A.json", "a/b.json"})
        assert {"dir.json/inner.json", "file-link.json", "deep/er/est/z.json"} <= names
        assert not names & {"to-a.json", "link-dir/b.json", "broken.json", "loop.json"}


def test_an_unreadable_directory_is_skipped_as_rglob_skips_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path)
    locked = tmp_path / "locked"
    (locked / "in").mkdir(parents=True)
    (locked / "in" / "x.json").write_bytes(b"{}")
    scandir = os.scandir

    def refusing(path: Any) -> Any:  # as for a directory without read permission
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    walked = list(_bundles_under(str(tmp_path)))
    assert walked == [str(p) for p in sorted(_rglob_listing(tmp_path))]
    assert len(walked) == len(EXPECTED)


def test_the_working_directory_names_its_files_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    for start in (".", "./", ".//"):
        got = [name for name, _, _ in _inputs([start])]
        assert got == [str(p) for p in sorted(map(Path, EXPECTED))]  # a/b.json, not ./a/b.json


def test_a_directory_removed_during_the_walk_is_skipped_as_a_removed_file_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path)
    gone = tmp_path / "a"
    scandir = os.scandir

    def removed(path: Any) -> Any:  # listed in its parent, gone when its turn came
        if Path(path) == gone:
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", removed)
    walked = [Path(p).relative_to(tmp_path).as_posix() for p in _bundles_under(str(tmp_path))]
    assert walked == [str(p) for p in sorted(map(Path, EXPECTED)) if p.parts[0] != "a"]
    assert len(walked) == len(EXPECTED) - 2  # a/b.json and a/b/c.json


def test_verify_does_not_import_the_postgresql_driver() -> None:
    code = (
        "import sys\n"
        "from issuer.cli import app\n"
        "try:\n"
        f"    app(['verify', {str(BUNDLE_PATH)!r}])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "assert 'psycopg' not in sys.modules, 'psycopg imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_a_password_in_a_url_is_not_printed(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port of 127.0.0.1 nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://user:s3cret@127.0.0.1:{port}/pith/{'A' * 26}/bundle.json"
    result = runner.invoke(app, ["verify", url, "--json"], env={"PITH_HOME": str(tmp_path)})
    assert result.exit_code == 2  # unreadable
    assert f"http://***@127.0.0.1:{port}/" in result.stderr
    assert "s3cret" not in result.stdout + result.stderr
