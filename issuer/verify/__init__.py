"""Offline verification of Pith bundles (spec §1–9), failing closed.

Public: :func:`verify_bundle` (raises), :func:`verify_bundle_report` (returns a
:class:`VerificationReport`), :class:`VerifiedBundle`, :data:`STEPS`,
:func:`compare_mirrors` (one record fetched from several mirrors), and
:func:`verify_many` (many inputs in order, on ``jobs`` processes; :func:`verify_batches`
gives them in batches of those ready together).
"""

from __future__ import annotations

from issuer.verify._batch import (
    InputSource,
    VerifyInput,
    failure_report,
    read_input,
    verify_batches,
    verify_many,
)
from issuer.verify._mirrors import MirrorComparison, compare_mirrors
from issuer.verify._proofs import LogPolicy, VerifiedInclusion, check_log_proofs, log_policy
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
    "InputSource",
    "LogPolicy",
    "MirrorComparison",
    "VerificationReport",
    "VerifiedBundle",
    "VerifiedInclusion",
    "VerifyInput",
    "check_log_proofs",
    "compare_mirrors",
    "failure_report",
    "log_policy",
    "read_input",
    "verify_batches",
    "verify_bundle",
    "verify_bundle_bytes",
    "verify_bundle_report",
    "verify_many",
]
