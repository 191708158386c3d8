"""Signing workers do not import the parent's main module (#14: most of their start-up)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from issuer._workers import worker_preparation

SCRIPT = """
import os, sys
from pathlib import Path

Path(sys.argv[1]).open("a").write(f"{os.getpid()}\\n")  # runs on every import of this file

if __name__ == "__main__":
    from issuer._workers import signing_pool
    from issuer.keys import SeedSigner

    with signing_pool(SeedSigner("k", bytes(32)), 2) as pool:
        pids = {pool.submit(os.getpid).result() for _ in range(4)}
    assert os.getpid() not in pids
    print(len(pids))
"""


def test_a_worker_does_not_run_the_main_module(tmp_path: Path) -> None:
    script, marker = tmp_path / "main.py", tmp_path / "imports"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(marker)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
    )
    assert int(done.stdout) >= 1  # the tasks ran in workers
    assert marker.read_text().split() == [marker.read_text().split()[0]]  # the parent only


def test_the_preparation_keeps_everything_but_the_main_module() -> None:
    data = worker_preparation("w")
    assert "init_main_from_path" not in data
    assert "init_main_from_name" not in data
    assert data["sys_path"] == sys.path  # modules are found as in the parent
