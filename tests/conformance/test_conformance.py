"""The verifier over every conformance case folder: `_fail` ⇒ refused with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from issuer.keys.keyset import KeySet
from issuer.verify import verify_bundle_report

CASES = sorted(p for p in (Path(__file__).parent / "bundles").iterdir() if p.is_dir())


def test_cases_exist() -> None:
    assert len(CASES) >= 10
    assert any(c.name.endswith("_fail") for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path) -> None:
    assert (case / "README.md").is_file()
    keys = KeySet.shipped()
    if (case / "keys.json").exists():
        keys = keys.merged(KeySet.load(case / "keys.json"))
    report = verify_bundle_report((case / "bundle.json").read_bytes(), keys, case.name)
    if case.name.endswith("_fail"):
        assert not report.ok
        assert report.reason == (case / "reason").read_text().strip(), report.message
    else:
        assert report.ok, f"{report.failed_step}: {report.reason}: {report.message}"
