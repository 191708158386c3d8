"""Run one fuzz target under atheris (libFuzzer), coverage-guided.

Usage: ``python -m tests.fuzz.run TARGET [libFuzzer options]``, e.g.
``-max_total_time=600``. ``make fuzz`` runs every target for ``FUZZ_SECONDS``.

Seeds come from the committed ``tests/fuzz/corpus/TARGET/`` (read only);
inputs that reach new code are kept in ``.fuzz/TARGET/corpus/`` and crashes
(any exception that is not :class:`issuer.errors.Error`, or running over the
memory or time limit) are written to ``.fuzz/TARGET/``. Replay a crash with
``python -m tests.fuzz.run TARGET .fuzz/TARGET/crash-…``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris
from atheris.import_hook import instrument_imports

HERE = Path(__file__).resolve().parent
WORK = HERE.parents[1] / ".fuzz"

# Inputs of verify_mutated are choices, not documents: let them grow past the tiny seeds.
MAX_LEN = {"verify_mutated": 1024}

# Coverage comes from instrumenting the toolkit's own bytecode as it is imported.
with instrument_imports(include=["issuer"]):
    from tests.fuzz.harnesses import HARNESSES


def main(argv: list[str]) -> None:
    """Fuzz ``argv[1]`` with the remaining arguments passed to libFuzzer."""
    if len(argv) < 2 or argv[1] not in HARNESSES:
        raise SystemExit(f"usage: python -m tests.fuzz.run {{{','.join(HARNESSES)}}} [options]")
    name, options = argv[1], argv[2:]
    work = WORK / name
    (work / "corpus").mkdir(parents=True, exist_ok=True)
    replaying = any(not o.startswith("-") for o in options)
    dirs = [] if replaying else [str(work / "corpus"), str(HERE / "corpus" / name)]
    atheris.Setup(
        [
            argv[0],
            f"-artifact_prefix={work}/",
            "-rss_limit_mb=2048",  # memory bounded by input: a bundle that needs more is a bug
            "-timeout=30",
            *([f"-max_len={MAX_LEN[name]}"] if name in MAX_LEN else []),
            *options,
            *dirs,
        ],
        HARNESSES[name],
    )
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
