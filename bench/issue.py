"""Benchmark ``pith issue`` at scale: records/s and peak RSS, against floors and the JWS peer.

Usage: python bench/issue.py [--records N] [--workers W] [--quick]
                             [--registry postgresql://… | --registry throwaway [--rounds R]]
                             [--cpu [--rounds R]]
(default 1,000,000 records, one worker per CPU; --quick: 5,000)

A generator writes N synthetic snapshot lines in the real format; they are
issued into a fresh SQLite registry with an in-memory key. In the same run
(bench/_floors.py): libsodium signing of 32-byte digests on 1 and 2 processes
(2 signatures per record: receipt and record_created event), and the JWS
peer, joserfc signing the same snapshot lines as JWS compact serializations
(one per record) on W processes. RSS is sampled at 10%, 50% and 100% of the
input, to show that memory stays flat as the input grows.

With ``--registry postgresql://USER@HOST/DB`` (an empty database; the password
from PGPASSWORD or ~/.pgpass, as for ``pith``), the same input is first issued
into that PostgreSQL registry with the same workers, then into SQLite, and the
run prints both rates and PostgreSQL's over SQLite's (issue #15's target: >= 0.8).
``--registry throwaway`` starts a throwaway server for the run the way the
tests do (tests/_pg.py: initdb in a temporary directory, 127.0.0.1, fsync off);
with it, ``--rounds R`` alternates the two backends R times and keeps the best
rate of each, as the floors do, since on a shared machine the load moves
between two runs minutes apart.

Registry size: SQLite's is the file's (the WAL checkpointed into it on
close); PostgreSQL's is what the registry adds to its database,
``pg_database_size`` after the run less the same before the first record
(an empty registry: the catalogs of a new database are ~8 MB), as written,
without a ``VACUUM``. Each is then broken down table by table and index by
index (bench/_sizes.py): a table's heap (with, on PostgreSQL, its free space
and visibility maps) and TOAST, and each index.

``--cpu`` measures CPU time instead of wall time, which a shared machine's
load moves far less: the issuing process's (the reader and single writer)
and its workers' (``RUSAGE_CHILDREN``, the pool is joined when the run ends),
per record, best of ``--rounds`` runs on SQLite, against libsodium's CPU time
for the same 2 signatures per record in this process (best of as many rounds).
On W cores the run cannot go faster than its total CPU time over W, nor than
its single writer's, so it prints the ratio that bounds it:
``floor / max(total, W × main)``, i.e. its best rate over the W-process floor.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import _floors
import _sizes
import nacl.bindings
import psutil
from _synth import write_snapshot

from issuer.keys import SeedSigner
from issuer.pipeline import Issuer, IssueSummary
from issuer.store import Store, open_store, parse_registry_url
from tests.registry_sql import db_of

SIGNATURES_PER_RECORD = 2
PG_TARGET = 0.8  # issue #15: PostgreSQL >= 0.8 of SQLite's records/s


class _Sampler:
    def __init__(self) -> None:
        self.total = 1
        self.done = 0
        self.samples: list[tuple[float, float]] = []
        self.process = psutil.Process()

    def start(self, total_bytes: int | None) -> None:
        self.total = total_bytes or 1

    def advance(self, bytes_done: int, summary: IssueSummary) -> None:
        self.done += bytes_done
        self.samples.append((self.done / self.total, self.process.memory_info().rss / 1e6))

    def finish(self) -> None:
        pass


@dataclass
class _Run:
    issued: int
    elapsed: float
    size: int  # bytes the registry takes
    sampler: _Sampler
    parts: list[_sizes.Part]  # its tables and indexes

    @property
    def rate(self) -> float:
        return self.issued / self.elapsed


def _issue(store: Store, snapshot: Path, workers: int) -> tuple[IssueSummary, float, _Sampler]:
    sampler = _Sampler()
    fixed = datetime(2026, 5, 17, tzinfo=UTC)
    issuer = Issuer(
        store,
        SeedSigner("bench", os.urandom(32)),
        lambda: fixed,
        progress=sampler,
        workers=workers,
    )
    start = time.perf_counter()
    summary = issuer.run([str(snapshot)])
    return summary, time.perf_counter() - start, sampler


def _sqlite_run(snapshot: Path, workers: int) -> _Run:
    with tempfile.TemporaryDirectory(dir=snapshot.parent) as tmp:
        path = Path(tmp) / "registry.sqlite3"
        with open_store(path) as store:
            summary, elapsed, sampler = _issue(store, snapshot, workers)
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        parts = _sizes.sqlite_sizes(path)
    return _Run(summary.issued, elapsed, size, sampler, parts)


def _postgres_run(url: str, snapshot: Path, workers: int) -> _Run:
    with open_store(url) as store:
        if store.count():
            raise SystemExit(f"{parse_registry_url(url).display} is not empty: give an empty one")
        # What the registry occupies: the database less an empty registry (the catalogs of a
        # new database, ~8 MB, are not the registry's), as written, before any VACUUM.
        empty = _sizes.postgres_database_size(store)
        summary, elapsed, sampler = _issue(store, snapshot, workers)
        size = _sizes.postgres_database_size(store) - empty
        db_of(store).execute("ANALYZE")  # row counts for the breakdown, after the size
        parts = _sizes.postgres_sizes(store)
    return _Run(summary.issued, elapsed, size, sampler, parts)


@contextlib.contextmanager
def _postgres_urls(registry: str | None, rounds: int) -> Iterator[list[str]]:
    """One empty PostgreSQL registry URL per round, starting a throwaway server if asked."""
    if registry != "throwaway":
        if registry is not None and parse_registry_url(registry).is_sqlite:
            raise SystemExit("--registry: a postgresql:// URL or 'throwaway' (SQLite is the base)")
        if registry is not None and rounds > 1:
            raise SystemExit("--rounds > 1 needs --registry throwaway (a new database per round)")
        yield [] if registry is None else [registry]
        return
    from tests._pg import PgCluster  # noqa: PLC0415 - only this mode needs a server

    cluster = PgCluster()
    cluster.start()
    saved = {k: os.environ.get(k) for k in cluster.env()}
    os.environ.update(cluster.env())  # libpq (and the workers) read the password file from here
    try:
        yield [cluster.create_database() for _ in range(rounds)]
    finally:
        cluster.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _notes(report: _floors.Report, name: str, run: _Run, floor_2: float) -> None:
    report.note(
        f"{name}: {run.rate:,.0f} records/s ({run.issued:,} in {run.elapsed:,.1f} s), "
        f"{run.rate / floor_2:.2f} of the 2-process floor; "
        f"registry {run.size / 1e9:.2f} GB = {run.size / max(run.issued, 1):,.0f} B/record"
    )
    for line in _sizes.table_lines(run.parts, run.issued):
        report.note(f"{name}: {line}")
    report.note(
        f"{name}: projected 1M records {1e6 / run.rate:,.0f} s, "
        f"2.9M {2.9e6 / run.rate / 60:.1f} min"
    )
    for mark in (0.1, 0.5, 1.0):
        samples = run.sampler.samples
        rss = next((r for f, r in samples if f >= mark), samples[-1][1] if samples else 0.0)
        report.note(f"{name}: RSS at {mark:>4.0%} of input: {rss:,.0f} MB")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_round(snapshot: Path, workers: int) -> tuple[int, float, float]:
    """(records issued, CPU s of this process, CPU s of its workers) for one SQLite run."""
    with (
        tempfile.TemporaryDirectory(dir=snapshot.parent) as tmp,
        open_store(Path(tmp) / "registry.sqlite3") as store,
    ):
        main, children = time.process_time(), _children_cpu()
        summary, _, _ = _issue(store, snapshot, workers)
        return summary.issued, time.process_time() - main, _children_cpu() - children


def _sodium_cpu(signatures: int) -> float:
    """CPU s of libsodium making ``signatures`` signatures over 32-byte digests, here."""
    _, secret = nacl.bindings.crypto_sign_seed_keypair(os.urandom(32))
    digests = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(signatures)]
    start = time.process_time()
    for digest in digests:
        nacl.bindings.crypto_sign(digest, secret)
    return time.process_time() - start


def _cpu_main(n: int, workers: int, rounds: int) -> None:
    """``--cpu``: CPU time per record, best of ``rounds``, and the ratio it bounds."""
    snapshot = write_snapshot(Path(__file__).parent / "out" / f"snapshot-{n}.json", n)
    print(f"== issue CPU time: {n:,} records, {_floors.processes(workers)}, sqlite")
    print(f"   at start: {_floors.load()}")
    best: tuple[float, float] | None = None
    floor = float("inf")
    for round_ in range(rounds):
        issued, main, children = _cpu_round(snapshot, workers)
        floor = min(floor, _sodium_cpu(n * SIGNATURES_PER_RECORD) / n)
        per = (main / issued, children / issued)
        print(
            f"round {round_ + 1}: main {per[0] * 1e6:,.1f} us/record, "
            f"workers {per[1] * 1e6:,.1f} us/record, floor {floor * 1e6:,.1f} us/record"
        )
        if best is None or sum(per) < sum(best):
            best = per
    assert best is not None  # noqa: S101 - rounds >= 1
    main, children = best
    total = main + children
    bound = floor / max(total, workers * main)
    print(
        f"cpu     main {main * 1e6:,.1f} + workers {children * 1e6:,.1f} = "
        f"{total * 1e6:,.1f} us/record; libsodium floor {floor * 1e6:,.1f} us/record "
        f"(2 signatures)"
    )
    print(
        f"ratio   floor / max(total, {workers} x main) = {bound:.2f} of the "
        f"{_floors.processes(workers)} floor (target 0.35)"
    )
    print(f"   at end: {_floors.load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help="5,000 records")
    parser.add_argument(
        "--registry",
        help="also issue into this empty PostgreSQL registry (postgresql://USER@HOST/DB), "
        "or 'throwaway' to start a throwaway server for the run",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="with --registry throwaway: alternate the backends this many times, keep the best "
        "of each (as the floors do), so that a burst of someone else's load biases neither",
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="CPU time per record (issuing process and workers) against libsodium's, "
        "best of --rounds: steadier than rates on a loaded machine",
    )
    args = parser.parse_args()
    n = 5_000 if args.quick else args.records
    if args.cpu:
        _cpu_main(n, args.workers, args.rounds)
        return
    report = _floors.Report("issue", "records/s")
    backends = "sqlite" if args.registry is None else "postgresql, then sqlite"
    if args.rounds > 1:
        backends += f", {args.rounds} rounds, best of each"
    report.header(f"{n:,} records, {_floors.processes(args.workers)}, {backends}")
    snapshot = write_snapshot(Path(__file__).parent / "out" / f"snapshot-{n}.json", n)
    report.note(f"input: {snapshot.stat().st_size / 1e9:.2f} GB of synthetic snapshot lines")
    postgres_runs: list[_Run] = []
    sqlite_runs: list[_Run] = []
    with _postgres_urls(args.registry, args.rounds) as pg_urls:
        if pg_urls:
            report.note(f"postgresql: {parse_registry_url(pg_urls[0]).display}")
        for round_ in range(max(len(pg_urls), 1)):
            # PostgreSQL first: SQLite's page cache (256 MiB) would stay in this process's RSS.
            if pg_urls:
                postgres_runs.append(_postgres_run(pg_urls[round_], snapshot, args.workers))
            sqlite_runs.append(_sqlite_run(snapshot, args.workers))
            if len(pg_urls) > 1:
                report.note(
                    f"round {round_ + 1}: postgresql {postgres_runs[-1].rate:,.0f}, "
                    f"sqlite {sqlite_runs[-1].rate:,.0f} records/s"
                )
        report.step_done()
    # The best of each; RSS as sampled in the first round (PostgreSQL's unmixed with SQLite's).
    sqlite = max(sqlite_runs, key=lambda r: r.rate)
    sqlite.sampler = sqlite_runs[0].sampler
    postgres = max(postgres_runs, key=lambda r: r.rate) if postgres_runs else None
    if postgres is not None:
        postgres.sampler = postgres_runs[0].sampler
    report.measured(sqlite.rate, f"sqlite: {sqlite.issued:,} in {sqlite.elapsed:,.1f} s")
    if postgres is not None:
        ratio = postgres.rate / sqlite.rate
        report.ratios["postgresql / sqlite"] = ratio
        print(
            f"rate    {postgres.rate:14,.0f} records/s   (postgresql: {postgres.issued:,} in "
            f"{postgres.elapsed:,.1f} s)   ratio to sqlite {ratio:.2f}"
        )
    _floors.signing_floors_and_peer(report, n, SIGNATURES_PER_RECORD, snapshot, args.workers)
    floor_2 = sqlite.rate / report.ratios["libsodium sign, 2 processes"]
    _notes(report, "sqlite", sqlite, floor_2)
    if postgres is not None:
        report.ratios["postgresql, libsodium sign, 2 processes"] = postgres.rate / floor_2
        _notes(report, "postgresql", postgres, floor_2)
    report.target("libsodium sign, 2 processes", 0.35, "issue >= 0.35 of the 2-process floor")
    if postgres is not None:
        report.target(
            "postgresql / sqlite",
            PG_TARGET,
            f"postgresql >= {PG_TARGET} of sqlite, {_floors.processes(args.workers)}",
        )
    report.finish()


if __name__ == "__main__":
    main()
