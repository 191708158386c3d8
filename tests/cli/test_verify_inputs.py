"""``pith verify DIR``: the files a directory yields, their order, and what start-up imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from issuer.cli import app
from issuer.cli._verify import _inputs
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
