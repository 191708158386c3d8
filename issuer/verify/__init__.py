"""Offline verification of Pith bundles (spec §1–9), failing closed.

Public: :func:`verify_bundle` (raises), :func:`verify_bundle_report` (returns a
:class:`VerificationReport`), :class:`VerifiedBundle`, and :data:`STEPS`.
"""

from __future__ import annotations

from issuer.verify._verifier import (
    STEPS,
    VerificationReport,
    VerifiedBundle,
    verify_bundle,
    verify_bundle_bytes,
    verify_bundle_report,
)

__all__ = [
    "STEPS",
    "VerificationReport",
    "VerifiedBundle",
    "verify_bundle",
    "verify_bundle_bytes",
    "verify_bundle_report",
]
