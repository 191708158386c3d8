"""Offline verification of Pith bundles (spec §1–9), failing closed.

Public: :func:`verify_bundle` (raises), :func:`verify_bundle_report` (returns a
:class:`VerificationReport`), :class:`VerifiedBundle`, :data:`STEPS`, and
:func:`compare_mirrors` (one record fetched from several mirrors).
"""

from __future__ import annotations

from issuer.verify._mirrors import MirrorComparison, compare_mirrors
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
    "MirrorComparison",
    "VerificationReport",
    "VerifiedBundle",
    "compare_mirrors",
    "verify_bundle",
    "verify_bundle_bytes",
    "verify_bundle_report",
]
