"""The README's walkthrough runs as printed: from a key to a published, verified tree (#13)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

README = ROOT / "README.md"


def _walkthrough() -> str:
    """The shell block of "From clone to a published, verified tree", up to serving it."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## From clone to a published, verified tree", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the walkthrough has no sh block"
    return block[1].split("# 6.", 1)[0]  # serving needs a port; the test of serving is elsewhere


def test_readme_walkthrough_runs_as_printed(tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PITH_KEY_PASSPHRASE": "a passphrase for the walkthrough",
    }
    env.pop("PITH_HOME", None)
    env.pop("PITH_REGISTRY", None)
    script = "set -euo pipefail\n" + _walkthrough()
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "issued 12" in done.stderr
    assert done.stderr.count("OK: ") == 12
    home = tmp_path / "pith-registry"
    assert {"registry.sqlite3", "signers.json", "keys"} <= {p.name for p in home.iterdir()}
    assert (tmp_path / "site" / "pith-signing-key.json").is_file()
