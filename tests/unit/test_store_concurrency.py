"""Several ``pith issue`` processes on one registry at once, and one of them killed (issue #15 §3).

Each process is the real command line (``python -c LAUNCHER issue …``) in
its own process, with its own connection. The launcher changes two things
before it hands over to :data:`issuer.cli.app`, both in-process and both only
to make the races observable: batches of :data:`BATCH` records, so that the
processes' write transactions interleave many times over a small input; and
the codes of a few chosen papers forced to one 8-character prefix, since
SHA-256 prefixes cannot be made to collide on demand (as
:func:`tests.factory.force_code_prefix` does in-process). A forced record
does not derive its own Pith number, so it is checked through SQL, never
bundled.

Three shapes of input, on each backend: every process on (a) its own papers,
(b) papers shared with its neighbour, (c) the same papers. The inputs spread
three versions of one arXiv id and the three colliding papers across the
processes. Afterwards: every (arXiv id, version) issued exactly once, one
``record_created`` each, the unversioned alias on the newest version with a
whole history, log leaves dense from 0 with one record leaf per record, the
collisions recorded across processes, and the bundles verify.

The kill test runs three processes on each backend, SIGKILLs one chosen at
random once the registry holds a random count of records (observed, never
timed), lets the others finish, then runs the killed one's input again.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from issuer import registry
from issuer.keys.keyset import KeySet
from issuer.store import Store, open_store
from issuer.verify import verify_bundle
from tests import factory
from tests.cli._run import ok, pith, pith_env
from tests.registry_sql import rows

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-05-17T23:59:22Z"
N = 3
PER = 300  # papers in each process's input
BATCH = 25  # records per write transaction, so that the processes interleave
VERSIONED = 90001  # one arXiv id, in versions 1..N spread over the processes
COLLIDING = [80001 + i for i in range(N)]  # papers whose codes share PREFIX
PREFIX = "SHAREDAA"

LAUNCHER = """
import sys
from issuer import pipeline
from issuer.identifiers import PithNumber
batch, prefix, forced = int(sys.argv[1]), sys.argv[2], set(sys.argv[3].split(","))
pipeline.Issuer.__init__.__kwdefaults__["batch_size"] = batch
derive = PithNumber.for_record
def for_record(record):
    number = derive(record)
    if record.source_id not in forced:
        return number
    return PithNumber(number.year, prefix + number.code[len(prefix):])
PithNumber.for_record = staticmethod(for_record)
from issuer.cli import app
app(sys.argv[4:], prog_name="pith")
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A registry home holding one file key, shared by every issuing process."""
    home = tmp_path / "home"
    ok(pith(home, "keys", "generate", "dev-1", "--signer", f"file:{tmp_path / 'dev-1.p8'}"))
    return home


@dataclass(frozen=True)
class Inputs:
    """What each process reads: lines of (paper, versions) in order."""

    lines: list[list[tuple[int, int]]]

    def write(self, tmp_path: Path) -> list[Path]:
        paths = []
        for i, lines in enumerate(self.lines):
            path = tmp_path / f"in{i}.json"
            path.write_bytes(b"".join(factory.snapshot_line(n, versions=v) for n, v in lines))
            paths.append(path)
        return paths

    @property
    def issued(self) -> set[tuple[str, int]]:
        """Every (arXiv id, version) the processes issue between them."""
        return {(f"2401.{n:05d}", v) for lines in self.lines for n, v in lines}


def _spread(papers: list[range], extra: list[list[tuple[int, int]]]) -> Inputs:
    """Each process's papers (version 1), with its extra lines spread through the middle."""
    lines = []
    for own, more in zip(papers, extra, strict=True):
        plain = [(n, 1) for n in own]
        middle = len(plain) // 2
        lines.append(plain[:middle] + more + plain[middle:])
    return Inputs(lines)


def inputs(shape: str) -> Inputs:
    """(a) ``different`` papers, (b) ``overlapping`` halves, (c) the ``same`` papers."""
    if shape == "different":
        papers = [range(i * PER + 1, (i + 1) * PER + 1) for i in range(N)]
        mine = [[i] for i in range(N)]
    elif shape == "overlapping":
        papers = [range(i * PER // 2 + 1, i * PER // 2 + PER + 1) for i in range(N)]
        mine = [[i, (i + 1) % N] for i in range(N)]
    else:
        papers = [range(1, PER + 1)] * N
        mine = [list(range(N))] * N
    # Version k+1 of VERSIONED and colliding paper k go to the processes holding k.
    extra = [[(VERSIONED, k + 1) for k in ks] + [(COLLIDING[k], 1) for k in ks] for ks in mine]
    return _spread(papers, extra)


Spawn = Callable[[str, Path, str], "subprocess.Popen[bytes]"]


@pytest.fixture
def spawn(home: Path) -> Iterator[Spawn]:
    """Start ``pith issue`` on an input; any process still running at the end is killed."""
    started: list[subprocess.Popen[bytes]] = []
    forced = ",".join(f"2401.{n:05d}" for n in COLLIDING)

    def start(url: str, data: Path, tag: str) -> subprocess.Popen[bytes]:
        options = ["--now", NOW, "--workers", "1", "--json", "--rejects", f"{data}.{tag}.rejects"]
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                LAUNCHER,
                str(BATCH),
                PREFIX,
                forced,
                "issue",
                str(data),
                *options,
            ],
            env={**os.environ, **pith_env(home), "PITH_REGISTRY": url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _finish(proc: subprocess.Popen[bytes]) -> dict[str, int]:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    summary: dict[str, int] = json.loads(out)
    return summary


@pytest.mark.parametrize("shape", ["different", "overlapping", "same"])
def test_three_issuers_at_once_issue_each_record_once(
    home: Path, tmp_path: Path, registry_url: str, shape: str, spawn: Spawn
) -> None:
    plan = inputs(shape)
    paths = plan.write(tmp_path)
    procs = [spawn(registry_url, p, "run") for p in paths]
    summaries = [_finish(p) for p in procs]
    assert sum(s["issued"] for s in summaries) == len(plan.issued)
    for summary, lines in zip(summaries, plan.lines, strict=True):
        assert summary["issued"] + summary["already_issued"] == len(lines)
        assert summary["conflicts"] == summary["refused"] == 0
    with open_store(registry_url) as store:
        _check_registry(store, plan.issued, home)
        [current] = store.current_arxiv(f"2401.{VERSIONED:05d}")
        assert store.by_version(f"2401.{VERSIONED:05d}", N) == [current]


def _check_registry(store: Store, issued: set[tuple[str, int]], home: Path) -> None:
    """Every record once and whole, the log dense, the aliases and collisions right."""
    assert set(rows(store, "SELECT source_id, version FROM records")) == issued
    assert store.count() == len(issued)
    # One record_created per record, and no other event.
    per_record = rows(
        store,
        "SELECT r.id, COUNT(e.id) FROM records r LEFT JOIN events e ON e.record_id=r.id "
        "AND e.event_type='record_created' GROUP BY r.id HAVING COUNT(e.id) != 1",
    )
    assert per_record == []
    assert rows(store, "SELECT COUNT(*) FROM events")[0][0] == len(issued)
    # The log: leaves 0..n-1, one leaf in each record's row and one in each event's.
    leaves = rows(
        store,
        "SELECT leaf_index, id, NULL FROM records UNION ALL "
        "SELECT leaf_index, record_id, id FROM events ORDER BY 1",
    )
    assert [leaf[0] for leaf in leaves] == list(range(2 * len(issued)))
    assert store.log_size() == len(leaves)
    # Each record's own leaf comes just before its record_created event's.
    for (_, record_id, event_row), after in zip(leaves, [*leaves[1:], None], strict=True):
        if event_row is None:
            assert after is not None and after[1] == record_id and after[2] is not None
    _check_aliases(store, issued)
    _check_collisions(store)
    _check_bundles(store, home)


def _check_aliases(store: Store, issued: set[tuple[str, int]]) -> None:
    """The unversioned alias on the newest version of each id; every version in its history."""
    newest: dict[str, int] = {}
    for source_id, version in issued:
        newest[source_id] = max(version, newest.get(source_id, 0))
    current = rows(
        store,
        "SELECT a.source_id, r.version FROM arxiv_alias a JOIN records r ON r.id=a.record_id "
        "WHERE a.until IS NULL",
    )
    assert sorted(current) == sorted(newest.items())
    for source_id, top in newest.items():
        if top == 1:
            continue
        history = store.alias_history(source_id)
        assert sorted(h["version"] for h in history) == list(range(1, top + 1))
        [now] = [h for h in history if h["until"] is None]
        assert now["pith_number"] == store.by_version(source_id, top)[0]
        assert all(h["since"] <= h["until"] for h in history if h["until"] is not None)


def _forced_numbers(store: Store) -> list[str]:
    ids = [f"2401.{n:05d}" for n in COLLIDING]
    found = rows(
        store,
        f"SELECT year, code FROM records WHERE source_id IN ({','.join('?' * len(ids))})",  # noqa: S608 - placeholders only
        ids,
    )
    return sorted(f"pith:{year}:{code}" for year, code in found)


def _check_collisions(store: Store) -> None:
    """The forced papers collide on their 8-character alias, whoever issued them."""
    forced = _forced_numbers(store)
    assert len(forced) == N
    assert all(n.split(":")[2].startswith(PREFIX) for n in forced)
    recorded = {
        (c["alias_kind"], c["alias_value"], c["pith_number"]) for c in store.short_collisions()
    }
    assert recorded == {("pith_short_8", PREFIX, n) for n in forced}
    assert registry.resolve(store, f"pith:{PREFIX}").candidates == forced


def _check_bundles(store: Store, home: Path, every: int = 1) -> None:
    """The bundle of every ``every``-th record (forced ones aside) verifies."""
    keys = KeySet.load(home / "keys").merged(KeySet([factory.signer().public_key]))
    forced = set(_forced_numbers(store))
    numbers = [
        f"pith:{year}:{code}"
        for year, code in rows(store, "SELECT year, code FROM records ORDER BY id")
    ]
    for number in [n for n in numbers if n not in forced][::every]:
        built = registry.bundle(store, number, factory.signer(), factory.T0, factory.BASE_URL)
        verify_bundle(built, keys)


# -- SIGKILL ---------------------------------------------------------------------


def _committed(url: str) -> int:
    """How many records the registry holds (0 before any issuer created the schema)."""
    if not url.startswith("postgresql://"):
        if not Path(url).exists():
            return 0
        db = sqlite3.connect(url, timeout=60)
        try:
            return int(db.execute("SELECT COUNT(*) FROM records").fetchone()[0])
        except sqlite3.OperationalError:  # the schema is not created yet
            return 0
        finally:
            db.close()
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('records')").fetchone() == (None,):
            return 0
        row = conn.execute("SELECT COUNT(*) FROM records").fetchone()
        return 0 if row is None else int(row[0])


def _poll(url: str) -> Iterator[int]:
    while True:
        yield _committed(url)
        time.sleep(0.01)


@pytest.mark.slow
def test_sigkill_of_one_of_three_issuers_then_rerun_loses_and_duplicates_nothing(
    home: Path, tmp_path: Path, registry_url: str, spawn: Spawn
) -> None:
    """One of three concurrent issuers is killed at a random point; the rest go on.

    The point is a count of committed records, observed by polling the
    registry: the victim is killed once the registry holds a random 5-40% of
    the records. Each process's input is half the papers, so the victim
    cannot have finished by then, however the processes were scheduled. The
    seed (PITH_KILL_SEED to replay) is printed, so pytest shows it with any failure.
    """
    seed = int(os.environ.get("PITH_KILL_SEED", time.time_ns()))
    print(f"PITH_KILL_SEED={seed}")
    rng = random.Random(seed)  # noqa: S311 - a test schedule, not a secret
    plan = inputs("overlapping")
    total = len(plan.issued)
    paths = plan.write(tmp_path)
    victim = rng.randrange(N)
    target = rng.randint(total // 20, total * 2 // 5)
    procs = [spawn(registry_url, p, "run") for p in paths]
    for committed in _poll(registry_url):
        if committed >= target or procs[victim].poll() is not None:
            break
    assert procs[victim].poll() is None, f"seed {seed}: process {victim} ended before {target}"
    procs[victim].send_signal(signal.SIGKILL)
    procs[victim].communicate(timeout=60)
    assert procs[victim].returncode == -signal.SIGKILL
    for i, proc in enumerate(procs):
        if i != victim:
            done = _finish(proc)
            assert done["issued"] + done["already_issued"] == len(plan.lines[i]), seed
    again = _finish(spawn(registry_url, paths[victim], "rerun"))
    assert again["issued"] + again["already_issued"] == len(plan.lines[victim]), seed
    assert again["conflicts"] == again["refused"] == 0, seed
    with open_store(registry_url) as store:
        _check_registry(store, plan.issued, home)
