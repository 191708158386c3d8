"""Every reason code has a producer: a conformance case, or a named test in the table below.

A new ``Reason`` fails here until a case folder (``generate.py``) or a named
test that produces it is added. Reasons that no code emits yet are listed in
``GAPS`` as strict xfails: the day one gets a producer, its xfail passes and
fails the run, so the table cannot go stale.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from issuer.reasons import Reason

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "tests" / "unit"
MERKLE, NOTE = "tlog/test_merkle.py", "tlog/test_note.py"
CASES = sorted(p for p in (Path(__file__).parent / "bundles").iterdir() if p.is_dir())

# Reasons the verifier of one bundle cannot emit: the test (under tests/unit) producing each.
NAMED: dict[Reason, tuple[str, str]] = {
    # A mirror that cannot be fetched (compare_mirrors); the CLI says the same of a bad file.
    Reason.UNREADABLE: ("verify/test_mirrors.py", "test_an_unreachable_mirror_is_unreadable"),
    # Valid mirrors serving different histories of one record (compare_mirrors).
    Reason.MIRRORS_DISAGREE: (
        "verify/test_mirrors.py",
        "test_mirrors_serving_different_states_disagree",
    ),
    # A key set older than one this verifier has seen (keys/_seen.py, before any bundle).
    Reason.KEY_ROLLBACK: ("keys/test_statements.py", "test_seen_file_round_trips_and_only_grows"),
    # Transparency log (issue 16): proofs, signed notes, checkpoints and cosignatures.
    Reason.BAD_CONSISTENCY_PROOF: (MERKLE, "test_a_proof_for_another_leaf_or_size_is_refused"),
    Reason.BAD_NOTE_SIGNATURE: (NOTE, "test_a_bad_signature_by_a_known_key_refuses_the_note"),
    Reason.BAD_COSIGNATURE: (
        "tlog/test_checkpoint.py",
        "test_a_cosignature_with_another_timestamp_is_refused",
    ),
    Reason.WITNESS_THRESHOLD: ("tlog/test_policy.py", "test_policy_scenarios"),
    # The witness (issue 16 §5): its refusals, each a row of the witness scenario table.
    Reason.UNKNOWN_LOG: ("tlog/test_witness_scenarios.py", "test_scenario"),
    Reason.OLD_SIZE_MISMATCH: ("tlog/test_witness_scenarios.py", "test_scenario"),
    Reason.SPLIT_VIEW: ("tlog/test_witness_scenarios.py", "test_scenario"),
    Reason.LOG_ROLLBACK: ("tlog/test_witness_scenarios.py", "test_scenario"),
    # Log proofs in bundles (issue 16 §4): only a verifier that requires the log refuses this.
    Reason.MISSING_LOG_PROOF: ("tlog/test_registry_log_proofs.py", "test_log_proof_scenarios"),
}

# Reasons no code emits today (issue 12): known gaps, not silently dropped.
GAPS: dict[Reason, str] = {
    Reason.EQUIVOCATION: "the merge lists equivocating events under `equivocations` "
    "(cases equivocation_listed, hidden_equivocation_fail), never with this reason",
    Reason.INVALID_EVENT: "no code emits it; each invalid event carries its specific reason",
}


def _case_reasons() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for case in CASES:
        if (case / "reason").exists():
            found.setdefault((case / "reason").read_text().strip(), []).append(case.name)
    return found


def _param(reason: Reason) -> object:
    if reason in GAPS:
        return pytest.param(reason, marks=pytest.mark.xfail(strict=True, reason=GAPS[reason]))
    return reason


@pytest.mark.parametrize("reason", [_param(r) for r in Reason], ids=str)
def test_reason_has_a_producer(reason: Reason) -> None:
    if reason.value in _case_reasons():
        return
    assert reason in NAMED, (
        f"no conformance case or named test produces {reason.value!r}: add a case to "
        "tests/conformance/generate.py, or a row to NAMED naming the test that produces it"
    )
    file, test = NAMED[reason]
    text = (UNIT / file).read_text()
    assert f"def {test}(" in text, f"tests/unit/{file}::{test} does not exist"
    assert f"Reason.{reason.name}" in text or f'"{reason.value}"' in text, (
        f"{file} never names {reason.value!r}"
    )


def test_every_case_reason_is_a_reason() -> None:
    values = {r.value for r in Reason}
    assert set(_case_reasons()) <= values


def test_the_tables_list_only_what_cases_do_not_cover() -> None:
    covered = set(_case_reasons())
    assert not {r.value for r in NAMED} & covered, "a case covers it: drop the NAMED row"
    assert not set(NAMED) & set(GAPS)
