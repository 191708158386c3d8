"""The short, deterministic fuzz pass that runs with the suite.

Every committed seed is replayed through its target, then a few hundred
inputs made from the seeds by seeded byte-level mutations (flips, cuts,
repeats, splices, and tokens that have broken parsers before). Same seed,
same inputs, every run. Anything a target raises that is not
:class:`issuer.errors.Error` fails the test, naming the input. The long,
coverage-guided runs are ``make fuzz``.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.fuzz.harnesses import HARNESSES

CORPUS = Path(__file__).resolve().parent / "corpus"
# Mutated inputs per target: the verifier targets cost more per input.
ROUNDS = {"cjson": 300, "sources": 200, "keys": 200, "verify_bytes": 200, "verify_mutated": 120}
TOKENS = (
    b"[" * 200,
    b"{" * 5,
    b'"',
    b"\\u",
    b"\\ud800",
    b"9" * 20,
    b"-0",
    b"1e400",
    b"\x00",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\x1f\x8b\x08",
    b"<!DOCTYPE a>",
    b"<!-- ",
    b"]]>",
    b"&lt;",
    b"\r\n",
    b'"event_id":',
    b"null",
)


def _seeds(name: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted((CORPUS / name).iterdir()) if p.is_file()]


def _mutant(rng: random.Random, seeds: list[bytes]) -> bytes:
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(data))
        op = rng.randrange(6)
        if op == 0 and data:
            data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[at:at] = rng.choice(TOKENS)
        elif op == 2:
            del data[at : at + rng.randint(1, 64)]
        elif op == 3:
            data[at:at] = data[at : at + rng.randint(1, 64)] * rng.randint(2, 8)
        elif op == 4:
            other = rng.choice(seeds)
            cut = rng.randint(0, len(other))
            data = data[:at] + other[cut:]
        else:
            data[at:at] = rng.randbytes(rng.randint(1, 8))
    return bytes(data)


def _run(name: str, data: bytes) -> None:
    try:
        HARNESSES[name](data)
    except Exception as e:  # noqa: BLE001 - whatever escapes is the finding: name its input
        pytest.fail(f"{name}: {type(e).__name__}: {e} on input {data[:400]!r}")


def test_every_target_has_seeds() -> None:
    assert sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) == sorted(HARNESSES)
    for name in HARNESSES:
        assert _seeds(name), name


@pytest.mark.parametrize("name", sorted(HARNESSES))
def test_the_seed_corpus_replays_clean(name: str) -> None:
    for data in _seeds(name):
        _run(name, data)


@pytest.mark.parametrize("name", sorted(HARNESSES))
def test_seeded_mutations_raise_only_toolkit_errors(name: str) -> None:
    rng = random.Random(f"pith-fuzz-{name}")  # noqa: S311 - reproducible inputs, not secrets
    seeds = _seeds(name)
    for _ in range(ROUNDS[name]):
        _run(name, _mutant(rng, seeds))
