"""Fetching one record from several mirrors and comparing what each serves.

Each mirror's bundle is verified on its own against local trust; then the
valid ones are compared. Two genuine bundles can still differ: a mirror that
lags serves an older state, one that hides events serves a smaller one. Any
difference is reported, naming the field and what each mirror said; which
mirror is right is for the operator to judge (the newest valid state is
usually the primary's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from issuer.errors import NetworkError, UsageError
from issuer.fetch import fetch, mirror_bundle_url, new_client, shown_url
from issuer.identifiers import parse_pith_number
from issuer.keys.keyset import KeySet
from issuer.reasons import Reason
from issuer.verify._verifier import VerificationReport, verify_bundle_report

# What every mirror must agree on: the record, its state, and the signer.
COMPARED = ("pith_number", "canonical_sha256", "state_sha256", "signed_by")


@dataclass
class MirrorComparison:
    """Every mirror's verification report, and where the valid ones differ."""

    pith_number: str
    reports: list[VerificationReport]
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every mirror served a valid bundle and all of them agree."""
        return all(r.ok for r in self.reports) and not self.disagreements

    @property
    def reason(self) -> Reason | None:
        """``mirrors_disagree`` when valid mirrors serve different histories, else None."""
        return Reason.MIRRORS_DISAGREE if self.disagreements else None

    @property
    def unreachable(self) -> bool:
        """No mirror could be read at all."""
        return all(r.reason == Reason.UNREADABLE for r in self.reports)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "pith_number": self.pith_number,
            "ok": self.ok,
            "agree": not self.disagreements,
            "reason": None if self.reason is None else self.reason.value,
            "disagreements": self.disagreements,
            "mirrors": [r.to_dict() for r in self.reports],
        }


def compare_mirrors(pith_number: str, mirrors: list[str], keys: KeySet) -> MirrorComparison:
    """Fetch a record's bundle from every mirror base URL, verify each, compare the valid ones.

    Raises:
        FormatError: ``pith_number`` is not a full Pith number.
    """
    code = parse_pith_number(pith_number).code
    reports = []
    with new_client() as client:
        for base in mirrors:
            url = mirror_bundle_url(base, code)
            shown = shown_url(url)  # a report names a mirror without its user and password
            try:
                fetched = fetch(url, client=client)
            except (NetworkError, UsageError) as e:
                reports.append(
                    VerificationReport(shown, False, [], "fetch", str(Reason.UNREADABLE), e.message)
                )
                continue
            reports.append(verify_bundle_report(fetched.data, keys, shown, expected=pith_number))
    return MirrorComparison(pith_number, reports, _disagreements(reports))


def _disagreements(reports: list[VerificationReport]) -> list[dict[str, Any]]:
    valid = [r for r in reports if r.ok and r.result is not None]
    out = []
    for name in COMPARED:
        values = {r.source: getattr(r.result, name) for r in valid}
        if len(set(values.values())) > 1:
            out.append({"field": name, "values": values})
    return out
