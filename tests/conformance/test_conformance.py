"""The verifier over every conformance case folder: `_fail` ⇒ refused at its step, with its reason.

Keys are built the way ``pith verify --keys`` builds them: the shipped key
material plus the case's ``keys.json`` / ``keys/``, statements followed by the
trust builder. A key set the builder refuses is reported as step ``keys``.
Each case runs twice, through the bytes path (``cjson.loads`` then the
``dumps_parsed`` hashing fast path) and through the parsed-dict path (strict
``cjson.dumps``); both must reach the same outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from issuer import cjson
from issuer.errors import FormatError, VerificationError
from issuer.keys import verifier_keys
from issuer.keys.keyset import KeySet
from issuer.verify import STEPS, verify_bundle, verify_bundle_report

HERE = Path(__file__).parent / "bundles"
CASES = sorted(p for p in HERE.iterdir() if p.is_dir())
FILES = {"README.md", "bundle.json", "keys.json", "keys", "step", "reason", "message", "expected"}


@dataclass(frozen=True)
class Outcome:
    """What the verifier said about one case."""

    ok: bool
    step: str | None = None
    reason: str | None = None
    message: str | None = None


def _text(case: Path, name: str) -> str | None:
    path = case / name
    return path.read_text().strip() if path.exists() else None


def case_keys(case: Path) -> KeySet:
    """The shipped keys plus the case's keys, as ``pith verify --keys`` builds them.

    (:func:`issuer.keys.verifier_keys`, without the seen-keys memory: cases are independent.)

    Raises:
        VerificationError: the trust builder refuses the key set.
    """
    return verifier_keys([case / name for name in ("keys.json", "keys") if (case / name).exists()])


def run_case(case: Path) -> Outcome:
    """Verify ``case`` from its bytes, as ``pith verify`` does."""
    try:
        keys = case_keys(case)
    except VerificationError as e:
        return Outcome(False, e.step, str(e.reason), e.message)
    data = (case / "bundle.json").read_bytes()
    report = verify_bundle_report(data, keys, case.name, expected=_text(case, "expected"))
    if report.ok:
        return Outcome(True)
    return Outcome(False, report.failed_step, report.reason, report.message)


def test_cases_exist() -> None:
    assert len(CASES) >= 50
    assert sum(not c.name.endswith("_fail") for c in CASES) >= 8


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path) -> None:
    assert (case / "README.md").is_file()
    assert {p.name for p in case.iterdir()} <= FILES
    outcome = run_case(case)
    if case.name.endswith("_fail"):
        assert not outcome.ok, "accepted"
        assert (outcome.step, outcome.reason) == (_text(case, "step"), _text(case, "reason")), (
            outcome.message
        )
        fragment = _text(case, "message")
        if fragment is not None:
            assert outcome.message is not None and fragment in outcome.message
    else:
        assert outcome.ok, f"{outcome.step}: {outcome.reason}: {outcome.message}"
        assert not (case / "reason").exists() and not (case / "step").exists()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_parsed_dict_path_agrees(case: Path) -> None:
    """``verify_bundle`` on the parsed dict (strict hashing) reaches the same outcome."""
    try:
        keys = case_keys(case)
        bundle = cjson.loads((case / "bundle.json").read_bytes())
    except (VerificationError, FormatError):
        return  # refused before any hashing path is chosen; test_case covers it
    expected = run_case(case)
    try:
        result = verify_bundle(bundle, keys)
    except VerificationError as e:
        assert (e.step, str(e.reason)) == (expected.step, expected.reason), e.message
    else:
        wanted = _text(case, "expected")
        assert expected.ok or (wanted is not None and not result.pith_number.endswith(wanted))


def test_every_verifier_step_has_a_failing_case() -> None:
    steps = {_text(c, "step") for c in CASES if c.name.endswith("_fail")}
    assert steps >= {*STEPS, "keys", "record"}
