"""Synthetic arXiv snapshot lines in the real line format, with realistic field sizes."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

_WORDS = [
    "quantum",
    "field",
    "theory",
    "lattice",
    "gauge",
    "neural",
    "network",
    "gradient",
    "descent",
    "manifold",
    "topology",
    "spectral",
    "sequence",
    "cohomology",
    "galaxy",
    "cluster",
    "dark",
    "matter",
    "entropy",
    "Hamiltonian",
    "$\\alpha$",
    "$\\mathcal{O}(n^2)$",
    'H\\"older',
    'Schr\\"odinger',
    "über",
    "naïve",
    "résumé",
    "estimator",
    "convergence",
]
_CATS = ["cs.LG", "stat.ML", "hep-th", "math.AG", "cond-mat.str-el", "astro-ph.CO", "quant-ph"]
_LICENSES = [
    None,
    "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
    "http://creativecommons.org/licenses/by/4.0/",
]
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _date(rng: random.Random, year: int) -> str:
    return (
        f"{rng.choice(_DAYS)}, {rng.randint(1, 28)} {rng.choice(_MONTHS)} {year} "
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} GMT"
    )


def _text(rng: random.Random, words: int) -> str:
    out = []
    for i in range(words):
        out.append(rng.choice(_WORDS))
        if i % 12 == 11:
            out.append("\n")
    return " ".join(out)


def snapshot_lines(count: int, seed: int = 7) -> Iterator[bytes]:
    """``count`` unique snapshot lines (ids 0001.00000 upward), ~1.5 KB each like the real file."""
    rng = random.Random(seed)
    for n in range(count):
        year = 2007 + n % 18
        versions = [
            {"version": f"v{v}", "created": _date(rng, year)}
            for v in range(1, rng.randint(1, 4) + 1)
        ]
        record = {
            "id": f"{(year % 100):02d}{(n // 99_999) % 12 + 1:02d}.{n % 99_999 + 1:05d}",
            "submitter": "A. Author",
            "authors": ", ".join(f"Author {rng.randint(1, 999)}" for _ in range(rng.randint(1, 8))),
            "title": _text(rng, rng.randint(6, 18)),
            "comments": f"{rng.randint(3, 40)} pages, {rng.randint(0, 12)} figures",
            "journal-ref": None,
            "doi": None,
            "report-no": None,
            "categories": " ".join(rng.sample(_CATS, rng.randint(1, 3))),
            "license": rng.choice(_LICENSES),
            "abstract": "  " + _text(rng, rng.randint(120, 220)) + "\n",
            "versions": versions,
            "update_date": f"{year}-01-01",
            "authors_parsed": [["Author", "A.", ""]],
        }
        yield json.dumps(record).encode() + b"\n"


def write_snapshot(path: Path, count: int) -> Path:
    """Write ``count`` synthetic lines to ``path`` (reused when already there)."""
    if path.exists() and sum(1 for _ in path.open("rb")) == count:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.writelines(snapshot_lines(count))
    return path
