"""Readers during issuance (#15, item 5): ``resolve``, ``show`` and ``bundle`` while ``pith issue``
runs, on a SQLite file and on a PostgreSQL database.

The issuer reads its input from a pipe, fed one batch (``BATCH_SIZE`` records) at a
time: while the pipe is open it cannot finish, so the reads are sure to happen
while it runs, without any timing. After each batch the test keeps reading until
the issuer has committed more records, so reads also land while it writes. Each
round checks, in one statement (one snapshot), that no record is visible without
its record_created event, its two log leaves and its arXiv alias; then resolves,
shows (in a separate process) and bundles the newest record, and verifies the
bundle. The issuance must then finish with every record: the readers did not
block it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from issuer.keys.keyset import KeySet
from issuer.pipeline import BATCH_SIZE
from issuer.store import open_store
from issuer.verify import verify_bundle
from tests import factory
from tests.cli._run import count_rows, ok, pith, pith_env, registry_of
from tests.registry_sql import rows

BATCHES = 5
TOTAL = BATCHES * BATCH_SIZE

# Records visible without a part that the same transaction writes: must always be 0.
HALF_WRITTEN = """
SELECT COUNT(*), SUM(CASE WHEN
    NOT EXISTS (SELECT 1 FROM events e WHERE e.record_id = r.id
                AND e.event_type = 'record_created' AND e.leaf_index = r.leaf_index + 1)
    OR r.leaf_index IS NULL
    OR NOT EXISTS (SELECT 1 FROM arxiv_alias a WHERE a.record_id = r.id AND a.until IS NULL)
  THEN 1 ELSE 0 END)
FROM records r
"""


class Reader:
    """One reader of the registry in ``home``: what it saw, and how often."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.url = registry_of(home)
        self.keys = KeySet.load(home / "keys")
        self.reads = 0
        self.numbers: set[str] = set()

    def read(self, out: Path) -> int:
        """One round of reads; returns how many records were visible."""
        with open_store(self.url, must_exist=True) as store:
            [(visible, half_written)] = rows(store, HALF_WRITTEN)
            assert (half_written or 0) == 0, f"{half_written} of {visible} records half-written"
            if not visible:
                return 0
            [(year, code, source_id, version)] = rows(
                store, "SELECT year, code, source_id, version FROM records ORDER BY id DESC LIMIT 1"
            )
        number = f"pith:{year}:{code}"
        resolved = ok(pith(self.home, "resolve", f"{source_id}v{version}"))
        assert json.loads(resolved.stdout)["unique"] == number
        shown = _show(self.home, number)
        assert shown["state"]["pith_number"] == number
        ok(pith(self.home, "bundle", number, "--out", str(out)))
        bundle = json.loads(out.read_bytes())
        assert [e["event_type"] for e in bundle["events"]] == ["record_created"]
        verify_bundle(bundle, self.keys)
        self.numbers.add(number)
        self.reads += 1
        return int(visible)


def _show(home: Path, number: str) -> Any:
    """``pith show`` in a process of its own, as a resolver on another machine runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "issuer", "show", number],
        env={**os.environ, **pith_env(home)},
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return json.loads(done.stdout)


def _finish(issuer: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Close the issuer's input and wait for it: its stdout and stderr."""
    if issuer.stdin is not None:
        issuer.stdin.close()
        issuer.stdin = None  # communicate() would flush it
    return issuer.communicate(timeout=600)


@pytest.mark.slow
def test_resolve_show_bundle_while_issuing_never_see_half_a_record_nor_block_it(
    tmp_path: Path, backend: str
) -> None:
    home = tmp_path / "home"
    ok(pith(home, "keys", "generate", "k1", "--signer", f"file:{tmp_path / 'k1.p8'}"))
    lines = factory.snapshot(tmp_path / "in.json", range(1, TOTAL + 1)).read_bytes().splitlines()
    assert len(lines) == TOTAL
    issuer = subprocess.Popen(
        [sys.executable, "-m", "issuer", "issue", "-", "--workers", "1", "--json"],
        env={**os.environ, **pith_env(home)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert issuer.stdin is not None
    reader = Reader(home)
    out = tmp_path / "bundle.json"
    url = registry_of(home)
    reads_while_running = 0
    try:
        for batch in range(BATCHES):
            chunk = lines[batch * BATCH_SIZE : (batch + 1) * BATCH_SIZE]
            issuer.stdin.write(b"\n".join(chunk) + b"\n")
            issuer.stdin.flush()
            # The issuer writes a batch once two more are signed (pipeline._drain), and it
            # reads ahead a few lines: once batch k is fed, batches up to k - 2 are sure
            # to be committed.
            expected = max(0, batch - 2) * BATCH_SIZE
            while True:
                assert issuer.poll() is None, _finish(issuer)[1].decode()[-2000:]
                committed = count_rows(url, "records")
                if committed:
                    reader.read(out)
                    # Its input is still open: the issuer cannot have ended.
                    assert issuer.poll() is None
                    reads_while_running += 1
                if committed >= expected:
                    break
        issuer.stdin.close()  # the issuer writes the last batches and ends
        while issuer.poll() is None:  # the last batches: read until it ends
            reader.read(out)
    finally:
        result, errors = _finish(issuer)
    assert issuer.returncode == 0, errors.decode()[-2000:]
    summary = json.loads(result)
    assert (summary["issued"], summary["refused"]) == (TOTAL, 0)
    assert reads_while_running >= 1 and len(reader.numbers) >= 2
    assert reader.read(out) == TOTAL  # every record, each whole
