"""Trusting a checkpoint: the log's signature plus N of M witness cosignatures.

:func:`verify_checkpoint` runs the numbered steps below and raises at the
first failure; :func:`verify_checkpoint_report` returns the same outcome as a
:class:`CheckpointReport` for callers (the CLI) that print a result. The
rules fail closed: a signature by a configured key that does not verify
refuses the checkpoint even when enough others do, and duplicate
cosignatures by one witness count once.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from issuer.errors import FormatError, VerificationError
from issuer.reasons import Reason
from issuer.tlog._checkpoint import Checkpoint
from issuer.tlog._cosignature import Cosignature, cosignatures
from issuer.tlog._note import Note, verify_note
from issuer.tlog._vkey import COSIGNATURE_ED25519, ED25519, VerifierKey

logger = logging.getLogger(__name__)

STEPS = ("format", "origin", "log_signature", "cosignatures", "threshold")
"""The steps a report names; ``format`` covers both the note and the checkpoint body."""


@dataclass(frozen=True)
class CheckpointPolicy:
    """Whom a verifier trusts for one log.

    Args:
        log_key: the log's Ed25519 note key (type 0x01).
        witnesses: witness cosignature keys (type 0x04).
        threshold: how many distinct witnesses must cosign (default: all).
        origin: the log's origin line (default: the log key's name).
    """

    log_key: VerifierKey
    witnesses: tuple[VerifierKey, ...] = ()
    threshold: int | None = None
    origin: str | None = None

    def __post_init__(self) -> None:
        if self.log_key.sig_type != ED25519:
            raise ValueError(f"the log key {self.log_key.name} is not an Ed25519 note key")
        for w in self.witnesses:
            if w.sig_type != COSIGNATURE_ED25519:
                raise ValueError(f"witness key {w.name} is not a cosignature (0x04) key")
        if len(set(self.witnesses)) != len(self.witnesses):
            raise ValueError("a witness key is given twice")
        if not 0 <= self.required <= len(self.witnesses):
            raise ValueError(
                f"witness threshold {self.required} is not between 0 and "
                f"{len(self.witnesses)} (the number of witness keys)"
            )

    @property
    def required(self) -> int:
        """The number of witness cosignatures required."""
        return len(self.witnesses) if self.threshold is None else self.threshold

    @property
    def expected_origin(self) -> str:
        """The origin line a checkpoint of this log must carry."""
        return self.log_key.name if self.origin is None else self.origin


@dataclass(frozen=True)
class VerifiedCheckpoint:
    """A checkpoint that met a policy, with the cosignatures that counted."""

    checkpoint: Checkpoint
    note: Note
    cosignatures: tuple[Cosignature, ...]


def verify_checkpoint(data: bytes, policy: CheckpointPolicy) -> VerifiedCheckpoint:
    """Verify a signed checkpoint against ``policy``.

    Raises:
        FormatError: the note or the checkpoint body is malformed.
        VerificationError: with ``reason`` one of ``origin_mismatch``,
            ``no_log_signature``, ``bad_note_signature``, ``bad_cosignature``,
            ``witness_threshold_not_met``.
    """
    # (1) format: a strictly well-formed signed note, whose text is a checkpoint body.
    note = Note.parse(data)
    checkpoint = Checkpoint.from_text(note.text)
    # (2) origin: the checkpoint is of the log the policy is about.
    if checkpoint.origin != policy.expected_origin:
        raise VerificationError(
            f"the checkpoint is of log {checkpoint.origin!r}, not {policy.expected_origin!r}",
            reason=Reason.ORIGIN_MISMATCH,
            step="origin",
        )
    # (3) log_signature: signed by the log key (other signatures ignored).
    try:
        verify_note(note, [policy.log_key])
    except VerificationError as e:
        raise VerificationError(e.message, reason=e.reason, step="log_signature") from e
    # (4) cosignatures: every cosignature by a configured witness verifies.
    cosigned = tuple(cosignatures(note, policy.witnesses))
    # (5) threshold: enough distinct witnesses cosigned.
    if len(cosigned) < policy.required:
        raise VerificationError(
            f"{len(cosigned)} of {len(policy.witnesses)} witnesses cosigned, "
            f"{policy.required} required",
            reason=Reason.WITNESS_THRESHOLD,
            step="threshold",
        )
    logger.debug("checkpoint %s@%d verified", checkpoint.origin, checkpoint.size)
    return VerifiedCheckpoint(checkpoint, note, cosigned)


@dataclass(frozen=True)
class CheckpointReport:
    """The outcome of :func:`verify_checkpoint`, as data: ``ok``, or a reason and message."""

    source: str
    ok: bool
    reason: str | None = None
    message: str | None = None
    step: str | None = None
    result: VerifiedCheckpoint | None = None
    witnesses_required: int = 0
    witnesses_configured: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data (stable keys; no key material beyond public keys)."""
        out: dict[str, Any] = {
            "source": self.source,
            "ok": self.ok,
            "witnesses_required": self.witnesses_required,
            "witnesses_configured": self.witnesses_configured,
        }
        if self.result is not None:
            cp = self.result.checkpoint
            out |= {
                "origin": cp.origin,
                "tree_size": cp.size,
                "root_hash": base64.b64encode(cp.root_hash).decode(),
                "cosignatures": [
                    {"name": c.key.name, "key_id": c.key.key_id.hex(), "timestamp": c.timestamp}
                    for c in self.result.cosignatures
                ],
            }
        else:
            out |= {"step": self.step, "reason": self.reason, "message": self.message}
        return out


def verify_checkpoint_report(
    data: bytes, policy: CheckpointPolicy, source: str = "<checkpoint>"
) -> CheckpointReport:
    """Like :func:`verify_checkpoint`, but the outcome is returned, not raised."""
    required, configured = policy.required, len(policy.witnesses)
    try:
        result = verify_checkpoint(data, policy)
    except FormatError as e:
        reason = str(Reason.MALFORMED)
        return CheckpointReport(
            source, False, reason, e.message, "format", None, required, configured
        )
    except VerificationError as e:
        return CheckpointReport(
            source, False, str(e.reason), e.message, e.step, None, required, configured
        )
    return CheckpointReport(source, True, None, None, None, result, required, configured)


def parse_keys(
    log_key: str, witnesses: Sequence[str]
) -> tuple[VerifierKey, tuple[VerifierKey, ...]]:
    """Read a log vkey and witness vkeys, checking each is of the right type.

    Raises:
        FormatError: a malformed key, or a key of the wrong type.
    """
    log = VerifierKey.parse(log_key)
    if log.sig_type != ED25519:
        raise FormatError(f"log key {log.name}: expected an Ed25519 note key (type 0x01)")
    keys = tuple(VerifierKey.parse(w) for w in witnesses)
    for k in keys:
        if k.sig_type != COSIGNATURE_ED25519:
            raise FormatError(f"witness key {k.name}: expected a cosignature key (type 0x04)")
    return log, keys
