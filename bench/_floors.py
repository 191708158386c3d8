"""Floors, the JWS peer and the report format shared by every benchmark under bench/.

Speed is measured here, never by timed assertions in tests. Each benchmark
measures, in the same run as the step itself:

- floors: what the step cannot beat on this machine. libsodium (PyNaCl)
  Ed25519 sign and verify over 32-byte messages (the toolkit signs 32-byte
  digests) on 1 and 2 spawned processes; ``json.loads`` + ``hashlib`` for
  parsing; a bare write loop (tmp file + rename per file, the same files and
  bytes, directories created once, one sync at the end) for publishing;
- the peer: joserfc signing or verifying the same records as JWS compact
  serializations (``alg`` ``Ed25519``, the fully specified EdDSA of RFC 9864;
  joserfc warns that ``EdDSA`` is deprecated), with the same process count as
  the step measured;
- peak RSS of this process and of its children (``resource.getrusage``).

Parallel rates are aggregate: every process prepares its input, waits on a
barrier, times its own loop, and the rate is the total count over the slowest
process's time (process start-up is not counted). Floors and peer are the
best of three runs, so a burst of someone else's work lowers them less
(which, if anything, makes the ratios printed conservative). On a machine others are
using, the 2-process figures are the first to suffer: read the ratios, which
compare figures measured minutes apart, not the absolute rates.

:class:`Report` prints every benchmark's figures in one format, ending with a
``result:`` line of JSON for collecting them (docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import os
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import nacl.bindings
from joserfc import jws
from joserfc.jwk import OKPKey

MESSAGE_SIZE = 32  # every Pith signature is over a 32-byte SHA-256 digest
JWS_ALG = "Ed25519"
_SPAWN = multiprocessing.get_context("spawn")
REPEAT = 3  # floors and peer: best of three runs, as others share the cores
WARM_UP = 50


# ---------------------------------------------------------------- processes


def _messages(count: int, salt: int) -> list[bytes]:
    return [hashlib.sha256(f"{salt}:{i}".encode()).digest() for i in range(count)]


def _prepared(task: str, work: Any) -> tuple[list[Any], Callable[[Any], object]]:
    """Prepare ``task`` (untimed): the items, and what is done to each."""
    if task in {"sodium_sign", "sodium_verify"}:
        count, salt = work
        public, secret = nacl.bindings.crypto_sign_seed_keypair(os.urandom(32))
        msgs = _messages(count, salt)
        if task == "sodium_sign":
            return msgs, lambda m: nacl.bindings.crypto_sign(m, secret)
        signed = [nacl.bindings.crypto_sign(m, secret) for m in msgs]
        return signed, lambda s: nacl.bindings.crypto_sign_open(s, public)
    if task == "jws_sign":
        key = OKPKey.generate_key("Ed25519")
        header = {"alg": JWS_ALG}
        return work, lambda p: jws.serialize_compact(header, p, key, algorithms=[JWS_ALG])
    if task == "jws_verify":
        tokens, jwk = work
        public_key = OKPKey.import_key(jwk)
        return tokens, lambda t: jws.deserialize_compact(t, public_key, algorithms=[JWS_ALG])
    raise ValueError(f"unknown task {task!r}")


def _worker(task: str, work: Any, barrier: Barrier, out: Queue[tuple[int, float]]) -> None:
    items, fn = _prepared(task, work)
    for item in items[:WARM_UP]:  # caches and lazy imports
        fn(item)
    barrier.wait()
    start = time.perf_counter()
    for item in items:
        fn(item)
    out.put((len(items), time.perf_counter() - start))


def _parallel(task: str, shards: Sequence[Any], repeat: int = REPEAT) -> float:
    """Items/s of ``task`` over ``shards``, one spawned process per shard; best of ``repeat``."""
    best = 0.0
    for _ in range(repeat):
        barrier = _SPAWN.Barrier(len(shards))
        out: Queue[tuple[int, float]] = _SPAWN.Queue()
        procs = [_SPAWN.Process(target=_worker, args=(task, s, barrier, out)) for s in shards]
        for p in procs:
            p.start()
        results = [out.get() for _ in procs]
        for p in procs:
            p.join()
        best = max(best, sum(c for c, _ in results) / max(e for _, e in results))
    return best


def processes(n: int) -> str:
    """``1 process``, ``2 processes``."""
    return f"{n} process" if n == 1 else f"{n} processes"


def _split(items: Sequence[Any], parts: int) -> list[list[Any]]:
    return [list(items[i::parts]) for i in range(parts)]


# ---------------------------------------------------------------- floors


def sodium_sign(signatures: int, processes: int) -> float:
    """libsodium Ed25519 signatures/s over 32-byte messages on ``processes`` processes."""
    each = max(signatures // processes, 1)
    return _parallel("sodium_sign", [(each, p) for p in range(processes)])


def sodium_verify(signatures: int, processes: int) -> float:
    """libsodium Ed25519 verifications/s over 32-byte messages on ``processes`` processes."""
    each = max(signatures // processes, 1)
    return _parallel("sodium_verify", [(each, p) for p in range(processes)])


def json_hashlib(path: Path, repeat: int = REPEAT) -> float:
    """Lines/s read from ``path`` through ``json.loads`` and three SHA-256, one process.

    The three digests stand for the title, the abstract and the record; best of ``repeat``.
    """
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        n = 0
        with path.open("rb") as f:
            for line in f:
                obj = json.loads(line)
                hashlib.sha256(obj["title"].encode()).digest()
                hashlib.sha256(obj["abstract"].encode()).digest()
                hashlib.sha256(line).digest()
                n += 1
        best = max(best, n / (time.perf_counter() - start))
    return best


def tree_files(tree: Path) -> list[tuple[Path, bytes]]:
    """Every file of a published tree (not its dot files), as (relative path, bytes)."""
    return [
        (p.relative_to(tree), p.read_bytes())
        for p in sorted(tree.rglob("*"))
        if p.is_file() and not p.name.startswith(".")  # not the settings, lock or tmp files
    ]


def write_loop(files: Sequence[tuple[Path, bytes]], target: Path) -> float:
    """Seconds to write ``files`` under ``target`` as publish does, minus all the work.

    Each directory is created once; each file is written to a temporary file
    beside it and renamed over the target; one ``os.sync`` at the end (the
    publish run syncs once too).
    """
    start = time.perf_counter()
    made: set[Path] = set()
    for rel, data in files:
        out = target / rel
        if out.parent not in made:
            out.parent.mkdir(parents=True, exist_ok=True)
            made.add(out.parent)
        tmp = out.with_name(f".{out.name}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, out)
    os.sync()
    return time.perf_counter() - start


# ---------------------------------------------------------------- the JWS peer


def jws_sign(payloads: Sequence[bytes], processes: int) -> float:
    """JWS compact serializations/s signed by joserfc over ``payloads``."""
    return _parallel("jws_sign", _split(payloads, processes))


def jws_verify(payloads: Sequence[bytes], processes: int) -> float:
    """JWS compact serializations/s verified by joserfc (signed first, untimed)."""
    key = OKPKey.generate_key("Ed25519")
    header = {"alg": JWS_ALG}
    tokens = [jws.serialize_compact(header, p, key, algorithms=[JWS_ALG]) for p in payloads]
    public = key.as_dict(private=False)
    return _parallel("jws_verify", [(shard, public) for shard in _split(tokens, processes)])


# ---------------------------------------------------------------- memory and load


def peak_rss_mb() -> tuple[float, float]:
    """Peak RSS in MB of this process and of its largest waited-for child (Linux: KiB)."""
    self_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return self_kib * 1024 / 1e6, children_kib * 1024 / 1e6


def load() -> str:
    """The 1, 5 and 15 minute load averages, and the core count."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


# ---------------------------------------------------------------- the report


@dataclass
class Report:
    """One benchmark's figures, printed in the format every bench/ script shares."""

    step: str
    unit: str  # "records/s", "bundles/s", ...
    rate: float = 0.0
    ratios: dict[str, float] = field(default_factory=dict)
    peers: dict[str, float] = field(default_factory=dict)
    targets: list[tuple[str, float, float]] = field(default_factory=list)
    step_rss: tuple[float, float] | None = None

    def header(self, what: str) -> None:
        """Print what is measured, and the machine load now."""
        print(f"== {self.step}: {what}")
        print(f"   at start: {load()}")

    def step_done(self) -> None:
        """Take peak RSS now, right after the step and before the floors and the peer run."""
        self.step_rss = peak_rss_mb()

    def measured(self, rate: float, detail: str = "") -> None:
        """The step's own rate, in :attr:`unit`."""
        self.rate = rate
        extra = f"   ({detail})" if detail else ""
        print(f"rate    {rate:14,.0f} {self.unit}{extra}")

    def floor(self, name: str, rate: float, per: float = 1.0, unit: str = "") -> float:
        """A floor of ``rate`` (in ``unit``, ``per`` of them per step unit); prints the ratio."""
        in_units = rate / per
        ratio = self.rate / in_units
        self.ratios[name] = ratio
        raw = f"{rate:,.0f} {unit} = " if per != 1 else ""
        print(f"floor   {name:44s} {raw}{in_units:,.0f} {self.unit}   ratio {ratio:.2f}")
        return ratio

    def peer(self, name: str, rate: float, per: float = 1.0, rate_of: float | None = None) -> float:
        """The JWS peer's rate (``per`` of its items per step unit); prints our rate over it."""
        in_units = rate / per
        ratio = (self.rate if rate_of is None else rate_of) / in_units
        self.peers[name] = ratio
        print(f"peer    {name:44s} {in_units:,.0f} {self.unit}   ratio {ratio:.2f}")
        return ratio

    def note(self, text: str) -> None:
        """Any other figure the step reports."""
        print(f"        {text}")

    def target(self, ratio_name: str, minimum: float, text: str) -> None:
        """Compare a ratio printed above with the target of issue #14."""
        ratio = (self.ratios | self.peers)[ratio_name]
        self.targets.append((ratio_name, minimum, ratio))
        verdict = "met" if ratio >= minimum else "NOT met"
        print(f"target  {text}: {ratio:.2f} vs >= {minimum:.2f}: {verdict}")

    def finish(self) -> None:
        """Print peak RSS, the load now, and the ``result:`` JSON line."""
        own, children = peak_rss_mb() if self.step_rss is None else self.step_rss
        print(f"peak RSS  self {own:,.0f} MB, largest child {children:,.0f} MB (the step)")
        if self.step_rss is not None:
            end_self, end_children = peak_rss_mb()
            print(f"          {end_self:,.0f} MB, {end_children:,.0f} MB with floors and peer")
        print(f"   at end: {load()}")
        result = {
            "step": self.step,
            "rate": round(self.rate, 1),
            "unit": self.unit,
            "ratios": {k: round(v, 3) for k, v in self.ratios.items()},
            "peers": {k: round(v, 3) for k, v in self.peers.items()},
            "targets": [
                {"ratio": n, "min": m, "value": round(v, 3), "met": v >= m}
                for n, m, v in self.targets
            ],
            "peak_rss_mb": {"self": round(own), "children": round(children)},
            "load": os.getloadavg()[0],
        }
        print("result: " + json.dumps(result, sort_keys=True))


def signing_floors_and_peer(
    report: Report, records: int, per_record: int, snapshot: Path, workers: int
) -> None:
    """The libsodium signing floors (1 and 2 processes) and the JWS peer, for a signing step.

    ``records`` is capped at 100,000 for the floors (a rate); the peer signs the
    first 20,000 lines of ``snapshot`` on ``workers`` processes.
    """
    signatures = min(records, 100_000) * per_record
    for procs in (1, 2):
        report.floor(
            f"libsodium sign, {processes(procs)}",
            sodium_sign(signatures, procs),
            per_record,
            "sig/s",
        )
    with snapshot.open("rb") as f:
        lines = list(itertools.islice(f, 20_000))
    report.peer(f"joserfc JWS sign, {processes(workers)}", jws_sign(lines, workers))
