"""Print mutmut's results as killed/total per module (`make mutation`, docs/mutation.md).

Usage: python bench/mutation_report.py [--mutants DIR] [--survivors] [--min PERCENT]
       python bench/mutation_report.py --reset-survivors

Reads the ``*.py.meta`` files mutmut 3 leaves under ``mutants/`` (one per mutated
module, mapping each mutant's name to the exit code of its test run) and prints one
row per module, then one per module set (``issuer/verify/`` as a whole) and the
total. A mutant counts as killed when its tests failed or timed out; a survivor is
a mutant whose tests all passed; "no tests" means no selected test reaches its
function; "not run" means mutmut has not run it yet.

With ``--survivors`` the names of the mutants that were not killed follow the
table (see them with ``mutmut show NAME``). With ``--min`` the exit code is 1
when a module set scores below PERCENT.

``--reset-survivors`` marks every mutant that was not killed as not run, so the
next ``mutmut run`` tries it again against the tests as they are now: mutmut
itself re-runs a mutant only when its function changed, not when a test was added.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

# mutmut's own exit-code table (mutmut/stats.py), reduced to the columns shown.
KILLED_CODES = {1, 3}  # tests failed (3: pytest's internal error, also a kill)
TIMEOUT_CODES = {36, 24, -24, 152, 255}  # the mutant made the tests hang
SURVIVED_CODES = {0}
NO_TESTS_CODES = {5, 33}


@dataclass
class Tally:
    """Counts for one module or module set."""

    killed: int = 0
    timeout: int = 0
    survived: int = 0
    no_tests: int = 0
    not_run: int = 0
    other: int = 0
    survivors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Every mutant of the module."""
        return (
            self.killed + self.timeout + self.survived + self.no_tests + self.not_run + self.other
        )

    @property
    def detected(self) -> int:
        """Mutants the tests caught: failed or hung."""
        return self.killed + self.timeout

    def add(self, name: str, code: int | None) -> None:
        """Count one mutant's result."""
        if code is None:
            self.not_run += 1
        elif code in KILLED_CODES:
            self.killed += 1
        elif code in TIMEOUT_CODES:
            self.timeout += 1
        elif code in SURVIVED_CODES:
            self.survived += 1
        elif code in NO_TESTS_CODES:
            self.no_tests += 1
        else:
            self.other += 1
        if code is not None and code not in KILLED_CODES | TIMEOUT_CODES:
            self.survivors.append(name)

    def merge(self, other: Tally) -> None:
        """Add another tally's counts to this one."""
        self.killed += other.killed
        self.timeout += other.timeout
        self.survived += other.survived
        self.no_tests += other.no_tests
        self.not_run += other.not_run
        self.other += other.other
        self.survivors.extend(other.survivors)


def load(mutants: Path) -> dict[str, Tally]:
    """One tally per mutated module, keyed by its path (``issuer/cjson.py``)."""
    tallies: dict[str, Tally] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        module = str(meta.relative_to(mutants).with_suffix(""))
        data = json.loads(meta.read_text(encoding="utf-8"))
        codes: dict[str, int | None] = data["exit_code_by_key"]
        if not codes:
            continue
        tally = Tally()
        for name, code in sorted(codes.items()):
            tally.add(name, code)
        tallies[module] = tally
    return tallies


def reset_survivors(mutants: Path) -> int:
    """Mark every mutant that was run and not killed as not run; return how many."""
    count = 0
    for meta in sorted(mutants.rglob("*.py.meta")):
        data = json.loads(meta.read_text(encoding="utf-8"))
        codes: dict[str, int | None] = data["exit_code_by_key"]
        for name, code in codes.items():
            if code is not None and code not in KILLED_CODES | TIMEOUT_CODES:
                codes[name] = None
                count += 1
        meta.write_text(json.dumps(data, indent=4), encoding="utf-8")
    return count


def module_set(module: str) -> str:
    """The set a module is scored in: its package for ``verify/``, else itself."""
    parent, _, _ = module.rpartition("/")
    return parent + "/" if parent.endswith("/verify") else module


def percent(part: int, whole: int) -> str:
    """``part/whole`` as a percentage with one decimal, or a dash for nothing."""
    return f"{100 * part / whole:5.1f}%" if whole else "    -"


def row(name: str, t: Tally) -> str:
    """One table line."""
    return (
        f"| {name:<28} | {t.detected:>5}/{t.total:<5} | {percent(t.detected, t.total)} "
        f"| {t.killed:>6} | {t.timeout:>7} | {t.survived:>8} | {t.no_tests:>8} "
        f"| {t.not_run:>7} |"
    )


def main() -> int:
    """Print the table; return 1 when a module set is below ``--min``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--survivors", action="store_true")
    parser.add_argument("--min", type=float, default=None, metavar="PERCENT")
    parser.add_argument("--reset-survivors", action="store_true")
    args = parser.parse_args()
    if args.reset_survivors:
        print(f"{reset_survivors(args.mutants)} surviving mutants will run again")
        return 0
    tallies = load(args.mutants)
    if not tallies:
        print(f"no mutmut results under {args.mutants}/: run `make mutation` first")
        return 1
    sets: dict[str, Tally] = defaultdict(Tally)
    total = Tally()
    for module, tally in tallies.items():
        sets[module_set(module)].merge(tally)
        total.merge(tally)
    print(
        "| module                       | caught/total | score  | killed | timeout "
        "| survived | no tests | not run |"
    )
    print(f"|{'-' * 30}|{'-' * 14}|{'-' * 8}|{'-' * 8}|{'-' * 9}|{'-' * 10}|{'-' * 10}|{'-' * 9}|")
    for module, tally in tallies.items():
        print(row(module, tally))
    for name, tally in sorted(sets.items()):
        if name.endswith("/"):
            print(row(name + " (set)", tally))
    print(row("all", total))
    if args.survivors:
        for module, tally in tallies.items():
            if tally.survivors:
                print(f"\n{module}:")
                for name in tally.survivors:
                    print(f"  {name}")
    below = [
        name
        for name, tally in sorted(sets.items())
        if args.min is not None and tally.total and 100 * tally.detected / tally.total < args.min
    ]
    if below:
        print(f"\nbelow {args.min}%: {', '.join(below)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
