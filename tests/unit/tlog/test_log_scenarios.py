"""The transparency log's threats as one table of scenarios (issue 16 §8).

In the manner of the key rotation table: each row is a story (a log that
forks, rolls back or drops a leaf; a checkpoint signed too late, cosigned too
little or forged; a witness restarted; a registry killed between issuance and
checkpoint) and the outcome the one who should catch it must reach: ``None``
when everything checks, else the reason it refuses with (a witness's or a
verifier's :class:`Reason`, or the step an audit names).

The stories call into the same code and fixtures as the detailed tests: the
witness world of ``test_witness_scenarios.py``, the published registries of
``test_registry_log_audit.py``, the proof bundles of
``test_registry_log_proofs.py``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from issuer.errors import VerificationError
from issuer.keys.keyset import KeySet
from issuer.publish import CHECKPOINT_FILE, publish
from issuer.reasons import Reason
from issuer.store import open_store
from issuer.tlog import EntryBundle, respond
from issuer.verify import LogPolicy, verify_bundle
from tests import factory
from tests.conformance._log_cases import with_proofs
from tests.conformance.forge import GOOD, TRUSTED
from tests.unit.tlog import test_witness_scenarios as witness_stories
from tests.unit.tlog.test_registry_log_audit import BASE, KEY, _audit, _tree
from tests.unit.tlog.test_registry_log_proofs import SCENARIOS as PROOF_SCENARIOS
from tests.unit.tlog.test_registry_log_publish import _bundles

ROOT = Path(__file__).resolve().parents[3]
Outcome = str | None
"""None: accepted; else a :class:`Reason` (a witness's or a verifier's), or an audit's step."""


def witness(story: witness_stories.Story) -> Callable[[Path], Outcome]:
    """A story told to a witness served on 127.0.0.1; the reason of its last answer."""

    def run(tmp_path: Path) -> Outcome:
        world = witness_stories.World(tmp_path / "witness-state.json")
        try:
            body = story(world)
            return respond(world.witness, body).reason
        finally:
            world.stop()

    return run


def audit_of(build: Callable[[Path], tuple[Path, bytes | None]]) -> Callable[[Path], Outcome]:
    """An audit of the tree ``build`` publishes, having seen the checkpoint it returns."""

    def run(tmp_path: Path) -> Outcome:
        out, seen = build(tmp_path)
        problems, report = _audit(out, seen)
        if report.split_view is not None:
            return Reason.SPLIT_VIEW
        return problems[0] if problems else None

    return run


def _checkpoint(out: Path) -> bytes:
    return (out / CHECKPOINT_FILE).read_bytes()


def second_history(tmp_path: Path) -> tuple[Path, bytes | None]:
    """The same key and base URL, other records: size 6 again, another root."""
    honest = _tree(tmp_path, "honest", range(1, 4))
    return _tree(tmp_path, "fork", range(7, 10)), _checkpoint(honest)


def rolled_back(tmp_path: Path) -> tuple[Path, bytes | None]:
    """Size 10 seen, then a tree of the same first records at size 6."""
    grown = _tree(tmp_path, "grown", range(1, 4), then=range(4, 6))
    return _tree(tmp_path, "small", range(1, 4)), _checkpoint(grown)


def dropped_leaf(tmp_path: Path) -> tuple[Path, bytes | None]:
    out = _tree(tmp_path, "site", range(1, 4))
    bundle = out / EntryBundle(0, 6).path
    bundle.write_bytes(bundle.read_bytes()[:-200])
    return out, None


def verified(
    bundle: dict[str, Any], keys: KeySet = TRUSTED, policy: LogPolicy | None = None
) -> Callable[[Path], Outcome]:
    """``pith verify`` of ``bundle``; its reason when refused."""

    def run(_: Path) -> Outcome:
        return _verify(bundle, keys, policy or LogPolicy())

    return run


def proof_scenario(name: str) -> Callable[[Path], Outcome]:
    """A row of the proof table of ``test_registry_log_proofs.py``, verified the same way."""
    bundle, keys, policy, _ = PROOF_SCENARIOS[name]
    return verified(bundle, keys, policy)


def _verify(bundle: dict[str, Any], keys: KeySet, policy: LogPolicy) -> Outcome:
    try:
        verify_bundle(bundle, keys, log=policy)
    except VerificationError as e:
        assert e.step == "log", e.message
        return str(e.reason)
    return None


# Issues records into a registry, then dies before anything makes a checkpoint.
_KILLED_AFTER_ISSUANCE = """
import os, signal, sys
from issuer.pipeline import Issuer
from issuer.store import open_store
from tests import factory
store = open_store(sys.argv[1])
Issuer(store, factory.signer(), lambda: factory.T0, workers=1).run([sys.argv[2]])
os.kill(os.getpid(), signal.SIGKILL)
"""


def crash_between_issuance_and_checkpoint(tmp_path: Path, registry: str | None = None) -> Outcome:
    """Issued, killed before ``pith log checkpoint``; the next checkpoint covers the records.

    ``registry``: its URL (default: a SQLite file in ``tmp_path``).
    """
    registry = registry or str(tmp_path / "registry.sqlite3")
    data = factory.snapshot(tmp_path / "in.json", range(1, 4))
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_AFTER_ISSUANCE, registry, str(data)],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr
    with open_store(registry) as store:
        assert (store.log_size(), store.checkpoints()) == (6, [])
        publish(store, tmp_path / "site", KEY, base_url=BASE, now=factory.T0)
        assert store.checkpoints()[-1].tree_size == 6
    bundles = _bundles(tmp_path / "site")
    assert len(bundles) == 3
    keys = KeySet([KEY.public_key])
    refusals = [_verify(b, keys, LogPolicy(require=True)) for b in bundles.values()]
    return next((r for r in refusals if r is not None), None)


@dataclass
class Scenario:
    name: str
    run: Callable[[Path], Outcome]
    expected: Outcome


SCENARIOS = [
    Scenario(
        "a split view, caught by a witness",
        witness(witness_stories.split_view_same_size),
        Reason.SPLIT_VIEW,
    ),
    Scenario(
        "a split view at a larger size, caught by a witness (no consistency proof)",
        witness(witness_stories.split_view_larger),
        Reason.BAD_CONSISTENCY_PROOF,
    ),
    Scenario("a split view, caught by an audit", audit_of(second_history), Reason.SPLIT_VIEW),
    Scenario(
        "a log rollback to a smaller tree, caught by a witness",
        witness(witness_stories.rollback_claiming_the_witness_size),
        Reason.LOG_ROLLBACK,
    ),
    Scenario(
        "a log rollback to a smaller tree, caught by an audit",
        audit_of(rolled_back),
        Reason.SPLIT_VIEW,
    ),
    Scenario("a dropped leaf, caught by an audit", audit_of(dropped_leaf), "tiles"),
    Scenario(
        "a dropped leaf's proof, caught by verify --require-log",
        proof_scenario("one leaf's proof dropped, --require-log"),
        Reason.MISSING_LOG_PROOF,
    ),
    Scenario(
        "a checkpoint signed by a key after its rotates_at",
        proof_scenario("checkpoint signed by a key after its rotates_at"),
        Reason.KEY_NOT_VALID,
    ),
    Scenario(
        "cosignatures below the threshold",
        proof_scenario("cosignatures below the threshold"),
        Reason.WITNESS_THRESHOLD,
    ),
    Scenario("enough cosignatures", proof_scenario("2 of 3 witnesses cosigned, 2 required"), None),
    Scenario(
        "a forged cosignature", proof_scenario("a forged cosignature"), Reason.BAD_COSIGNATURE
    ),
    Scenario(
        "a proof against a checkpoint of another origin than the proof names",
        verified(with_proofs(GOOD, note_origin="other.example")),
        Reason.ORIGIN_MISMATCH,
    ),
    Scenario(
        "a proof against a checkpoint of another origin than the verifier expects",
        proof_scenario("proof against a checkpoint of another origin than expected"),
        Reason.ORIGIN_MISMATCH,
    ),
    Scenario(
        "a witness restarted from its saved state accepts growth",
        witness(witness_stories.restarted_then_growth),
        None,
    ),
    Scenario(
        "a witness restarted from its saved state refuses a rollback",
        witness(witness_stories.restarted_then_rollback),
        Reason.OLD_SIZE_MISMATCH,
    ),
    Scenario(
        "a witness restarted from its saved state refuses a split view",
        witness(witness_stories.restarted_then_split_view),
        Reason.SPLIT_VIEW,
    ),
    Scenario(
        "a crash between issuance and checkpoint: the next checkpoint covers the records",
        crash_between_issuance_and_checkpoint,
        None,
    ),
]


@pytest.mark.parametrize("case", SCENARIOS, ids=lambda c: c.name)
def test_log_scenario(case: Scenario, tmp_path: Path) -> None:
    assert case.run(tmp_path) == case.expected


def test_a_crash_between_issuance_and_checkpoint_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """The table's crash row, with the registry on PostgreSQL (issue 15)."""
    assert crash_between_issuance_and_checkpoint(tmp_path, pg_url) is None
