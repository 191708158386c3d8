"""The ``--json`` shape of a mirror comparison in which every mirror agrees."""

from __future__ import annotations

from issuer import cjson
from issuer.keys.keyset import KeySet
from issuer.verify import MirrorComparison, verify_bundle_report
from tests import factory


def test_mirrors_that_agree_report_no_reason() -> None:
    bundle = factory.bundle()
    keys = KeySet([factory.signer(1).public_key])
    reports = [verify_bundle_report(cjson.dumps(bundle), keys, m) for m in ("a", "b")]
    comparison = MirrorComparison(bundle["pith_number"], reports)
    assert comparison.to_dict() == {
        "pith_number": bundle["pith_number"],
        "ok": True,
        "agree": True,
        "reason": None,
        "disagreements": [],
        "mirrors": [r.to_dict() for r in reports],
    }
