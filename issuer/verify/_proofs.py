"""A bundle's log proofs (issue 16 §4): its leaves are in a checkpoint the verifier trusts.

Each ``timestamp_proofs`` entry of type ``pith-tlog-inclusion-v1`` proves one
leaf of the registry's log, against the signed checkpoint it carries. The
steps, in order, for every proof (:func:`check_log_proofs`):

1. ``format``: the proof object is exactly the documented one (``malformed``);
2. ``entry``: its leaf entry is one the bundle implies, recomputed from the
   bundle's own record and events (``log_entry_mismatch``);
3. ``origin``: the checkpoint's origin is the proof's ``log_origin``, and the
   verifier's expected origin if it has one (``origin_mismatch``);
4. ``log_signature``: the checkpoint is signed, as the note key named by its
   origin, by a key of the verifier's trusted key set whose signatures count
   at the bundle's ``built_at`` (``no_log_signature``, ``bad_note_signature``,
   and the key set's own reasons: ``key_not_valid_at_signing_time``, ``key_revoked``);
5. ``cosignatures``: at least the required number of the verifier's witnesses
   cosigned it (``bad_cosignature``, ``witness_threshold_not_met``);
6. ``inclusion``: the proof leads from the leaf hash to the checkpoint's root
   at its size (``bad_inclusion_proof``).

Then, with ``require``: every leaf the bundle implies has a proof
(``missing_log_proof``). Each distinct checkpoint is verified once, each leaf
hash computed once, and the proofs of one tree are checked together
(:class:`~issuer.tlog.InclusionVerifier`, remembered per tree across bundles):
a proof folds only up to the node where it meets a path already accepted, so
the bundles of one publication cost a few hashes each, with every verdict and
message those of checking each proof alone.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from issuer.errors import Error, FormatError, VerificationError
from issuer.keys import verify as ed25519_verify
from issuer.keys.keyset import KeySet
from issuer.reasons import Reason
from issuer.tlog import (
    COSIGNATURE_ED25519,
    PROOF_TYPE,
    Checkpoint,
    Cosignature,
    InclusionSpelled,
    InclusionVerifier,
    Note,
    SpelledInclusions,
    VerifierKey,
    cosignatures,
    event_entry,
    inclusion_fields,
    inclusion_spelled,
    leaf_hash,
    note_key,
    record_entry,
)

STEP = "log"
RECORD_LEAF = "record"  # how a proof names the record's own leaf


@dataclass(frozen=True)
class LogPolicy:
    """What a verifier asks of a bundle's log proofs.

    Args:
        require: refuse a bundle any of whose leaves has no proof.
        witnesses: witness cosignature keys (type 0x04).
        threshold: how many distinct witnesses must cosign each checkpoint
            (default: all of ``witnesses``).
        origin: the log the proofs must be of (default: any log whose checkpoint
            a trusted key signed under that origin).
    """

    require: bool = False
    witnesses: tuple[VerifierKey, ...] = ()
    threshold: int | None = None
    origin: str | None = None

    def __post_init__(self) -> None:
        if any(w.sig_type != COSIGNATURE_ED25519 for w in self.witnesses):
            raise ValueError("a witness key is a cosignature (0x04) key")
        if len(set(self.witnesses)) != len(self.witnesses):
            raise ValueError("a witness key is given twice")
        if not 0 <= self.required <= len(self.witnesses):
            raise ValueError(
                f"witness threshold {self.required} is not between 0 and {len(self.witnesses)}"
            )

    @property
    def required(self) -> int:
        """How many witness cosignatures each checkpoint needs."""
        return len(self.witnesses) if self.threshold is None else self.threshold


@dataclass(frozen=True)
class VerifiedInclusion:
    """One leaf of the bundle, proven in a checkpoint signed by ``signed_by``."""

    origin: str
    leaf_index: int
    tree_size: int
    signed_by: str
    cosigned_by: tuple[str, ...]


def _fail(reason: Reason, message: str) -> VerificationError:
    return VerificationError(message, reason=reason, step=STEP)


def check_log_proofs(
    bundle: dict[str, Any], keys: KeySet, built_at: datetime, policy: LogPolicy
) -> list[VerifiedInclusion]:
    """Check every log proof of a bundle whose other steps passed.

    Raises:
        VerificationError: at the first failing step above, with step ``log``.
    """
    return [VerifiedInclusion(*found) for found in _check(bundle, keys, built_at, policy)]


def verify_log_proofs(
    bundle: dict[str, Any], keys: KeySet, built_at: datetime, policy: LogPolicy
) -> None:
    """:func:`check_log_proofs`, for a caller that needs only the verdict.

    Raises:
        VerificationError: as :func:`check_log_proofs`.
    """
    _check(bundle, keys, built_at, policy)


def _check(
    bundle: dict[str, Any], keys: KeySet, built_at: datetime, policy: LogPolicy
) -> list[tuple[str, int, int, str, tuple[str, ...]]]:
    """For each proof, the fields of its :class:`VerifiedInclusion`: the quick way, or the steps."""
    quick = _accepted(bundle, keys, built_at, policy) if _QUICK else None
    return quick if quick is not None else _steps(bundle, keys, built_at, policy)


def _steps(
    bundle: dict[str, Any], keys: KeySet, built_at: datetime, policy: LogPolicy
) -> list[tuple[str, int, int, str, tuple[str, ...]]]:
    """The steps, in order; for each proof, the fields of its :class:`VerifiedInclusion`."""
    number, events = bundle["pith_number"], bundle["events"]
    names = [RECORD_LEAF, *(e["event_id"] for e in events)]
    leaves: dict[int, bytes] = {}  # leaf hashes, each computed once
    proven: set[int] = set()
    notes: dict[str, tuple[_Vetted, str]] = {}  # this bundle's checkpoints, and who signed each
    out = []
    for i, obj in enumerate(bundle["timestamp_proofs"]):
        # (1) format
        try:
            origin, index, size, name, hashes, note = inclusion_fields(obj)
        except FormatError as e:
            raise _fail(Reason.MALFORMED, f"timestamp_proofs[{i}]: {e.message}") from e
        found = notes.get(note)
        vetted = _VETTED.get((note, policy)) if found is None else found[0]
        # parse_inclusion's bytes of the checkpoint (known to exist when it was seen before)
        data = note.encode() if vetted is None else vetted.data
        # (2) entry: recomputed from the bundle, never taken from the proof
        if name not in names:
            raise _fail(
                Reason.LOG_ENTRY_MISMATCH,
                f"timestamp_proofs[{i}] proves leaf {name!r:.80}, not one of this bundle's",
            )
        which = names.index(name)
        leaf = _leaf(bundle, number, which, name, leaves)
        # (3)-(5) the checkpoint, once per distinct note in a bundle (once per process
        # but for its signer's validity at this bundle's built_at: see _vet)
        if found is None:
            if vetted is None:
                found = _vet(note, data, keys, built_at, policy, i=i)
            else:
                where = f"timestamp_proofs[{i}].checkpoint"
                signer = _log_signer(data, vetted.checkpoint.origin, keys, built_at, where)
                found = (vetted, signer)
            notes[note] = found
        vetted, signer = found
        checkpoint = vetted.checkpoint
        if checkpoint.origin != origin:
            raise _fail(
                Reason.ORIGIN_MISMATCH,
                f"timestamp_proofs[{i}] names log {origin!r}, its checkpoint {checkpoint.origin!r}",
            )
        # (6) inclusion: the proofs of one tree share their upper nodes, checked once
        if checkpoint.size != size:
            raise _fail(
                Reason.BAD_INCLUSION_PROOF,
                f"timestamp_proofs[{i}] is for size {size}, its checkpoint {checkpoint.size}",
            )
        try:
            _tree(size, checkpoint.root_hash).verify(index, leaf, hashes)
        except VerificationError as e:
            raise _fail(Reason.BAD_INCLUSION_PROOF, f"timestamp_proofs[{i}]: {e.message}") from e
        proven.add(which)
        out.append((origin, index, size, signer, vetted.cosigners))
    if policy.require:
        missing = [k for k in range(len(names)) if k not in proven]
        if missing:
            raise _fail(
                Reason.MISSING_LOG_PROOF,
                f"{len(missing)} of the bundle's {len(names)} log leaves have no inclusion "
                f"proof ({PROOF_TYPE})",
            )
    return out


#: Private switch for the differential tests: False sends every bundle through the steps.
_QUICK = True


def _accepted(
    bundle: dict[str, Any], keys: KeySet, built_at: datetime, policy: LogPolicy
) -> list[tuple[str, int, int, str, tuple[str, ...]]] | None:
    """:func:`_check`'s answer for a bundle whose every proof passes the quick way, else None.

    The quick way: every proof is of the usual shape, against one checkpoint
    already vetted under ``policy`` and signed by a key that counts at
    ``built_at``, of a leaf the bundle implies, and accepted from its spellings
    (:class:`~issuer.tlog.SpelledInclusions`). Each of these is one of the
    steps' checks passing, so the answer is the steps' own. Whatever is not
    shown here (None) goes through the steps, whose verdict and message stand.
    """
    try:
        proofs, events = bundle["timestamp_proofs"], bundle["events"]
        if type(proofs) is not list or type(events) is not list:
            return None
        fields = [inclusion_spelled(obj) for obj in proofs]
        first = fields[0] if fields else None
        vetted = None if first is None else _VETTED.get((first[5], policy))
        if first is None or vetted is None:
            return None
        signer = _log_signer(vetted.data, vetted.checkpoint.origin, keys, built_at, "")
        return _accepted_proofs(
            bundle, events, fields, first[5], vetted, signer=signer, require=policy.require
        )
    # Any refusal or surprise at all (a bundle the other steps did not check, say): the
    # steps run from the start, in their order, and theirs is the answer.
    except (Error, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


def _accepted_proofs(
    bundle: dict[str, Any],
    events: list[Any],
    fields: list[InclusionSpelled | None],
    note: str,
    vetted: _Vetted,
    *,
    signer: str,
    require: bool,
) -> list[tuple[str, int, int, str, tuple[str, ...]]] | None:
    """:func:`_accepted` once the checkpoint counts: each proof, against that note."""
    checkpoint = vetted.checkpoint
    origin, size = checkpoint.origin, checkpoint.size
    number = bundle["pith_number"]
    names = [RECORD_LEAF, *(e["event_id"] for e in events)]
    tree = _spelled(size, checkpoint.root_hash)
    leaves: dict[int, bytes] = {}
    out = []
    for found in fields:
        if found is None or (found[0], found[2], found[5]) != (origin, size, note):
            return None
        name = found[3]
        which = names.index(name)  # ValueError: a leaf the bundle does not imply
        leaf = _leaf(bundle, number, which, name, leaves)
        if not tree.accepts(found[1], leaf, found[4]):
            return None
        out.append((origin, found[1], size, signer, vetted.cosigners))
    return None if require and len(leaves) < len(names) else out


def _leaf(
    bundle: dict[str, Any], number: str, which: int, name: str, leaves: dict[int, bytes]
) -> bytes:
    """The hash of the bundle's leaf ``which`` (0: its record, else the event ``name``).

    Recomputed from the bundle, never taken from a proof; each once per bundle
    (kept in ``leaves``).
    """
    leaf = leaves.get(which)
    if leaf is None:
        entry = (
            record_entry(number, bundle["canonical_sha256"])
            if which == 0
            else event_entry(number, name)
        )
        leaf = leaves[which] = leaf_hash(entry)
    return leaf


@dataclass(frozen=True)
class _Vetted:
    """A checkpoint note whose format, origin and witness cosignatures passed under a policy.

    None of these depends on the verifier's keys or on the bundle's ``built_at``:
    its log signature, which does, is checked for every bundle (:func:`_log_signer`).
    """

    data: bytes
    checkpoint: Checkpoint
    cosigners: tuple[str, ...]


# The bundles of one publication carry one checkpoint: a note that passed steps (3)-(5)
# under a policy is remembered with it, so a later bundle repeats only the log-signature
# step, which depends on the key set and built_at (and comes before (5), so a failure
# there is reported first, as for a note never seen). Successes only; bounded.
_VETTED: dict[tuple[str, LogPolicy], _Vetted] = {}
_VETTED_MAX = 64


def _vet(
    note: str, data: bytes, keys: KeySet, built_at: datetime, policy: LogPolicy, *, i: int
) -> tuple[_Vetted, str]:
    """Check a checkpoint in full (steps 3-5); remember it; return it and its signer's key id."""
    checkpoint, signer, cosigners = _checkpoint(data, keys, built_at, policy, i)
    vetted = _Vetted(data, checkpoint, cosigners)
    if len(_VETTED) >= _VETTED_MAX:
        del _VETTED[next(iter(_VETTED))]
    _VETTED[note, policy] = vetted
    return vetted, signer


def _checkpoint(
    data: bytes, keys: KeySet, built_at: datetime, policy: LogPolicy, i: int
) -> tuple[Checkpoint, str, tuple[str, ...]]:
    """The checkpoint ``data``, checked: (checkpoint, Pith key id, witness names)."""
    where = f"timestamp_proofs[{i}].checkpoint"
    try:
        checkpoint = _parsed(data)[1]
    except FormatError as e:
        raise _fail(Reason.MALFORMED, f"{where}: {e.message}") from e
    # (3) origin
    if policy.origin is not None and checkpoint.origin != policy.origin:
        raise _fail(
            Reason.ORIGIN_MISMATCH,
            f"{where} is of log {checkpoint.origin!r}, not {policy.origin!r}",
        )
    # (4) log signature by a trusted key, valid when the bundle was built
    signer = _log_signer(data, checkpoint.origin, keys, built_at, where)
    # (5) witnesses
    try:
        cosigned = _cosignatures(data, policy.witnesses)
    except (FormatError, VerificationError) as e:
        raise _fail(Reason.BAD_COSIGNATURE, f"{where}: {e.message}") from e
    if len(cosigned) < policy.required:
        raise _fail(
            Reason.WITNESS_THRESHOLD,
            f"{where}: {len(cosigned)} of {len(policy.witnesses)} witnesses cosigned, "
            f"{policy.required} required",
        )
    return checkpoint, signer, tuple(c.key.name for c in cosigned)


# The bundles of one publication share their checkpoint: its signatures are checked once
# per process, not once per bundle (pure functions of their arguments, so safe to remember).
@functools.lru_cache(maxsize=64)
def _parsed(data: bytes) -> tuple[Note, Checkpoint]:
    note = Note.parse(data)
    return note, Checkpoint.from_text(note.text)


# The proofs of the bundles of one publication are of nearby leaves of one tree: the nodes
# an accepted proof computed are remembered per tree (facts about the tree that its size
# and root fix, whoever signed it), so the next proof folds only up to where they meet.
@functools.lru_cache(maxsize=16)
def _tree(size: int, root: bytes) -> InclusionVerifier:
    return InclusionVerifier(size, root)


# The same, for proofs accepted from their spellings (_accepted).
@functools.lru_cache(maxsize=16)
def _spelled(size: int, root: bytes) -> SpelledInclusions:
    return SpelledInclusions(size, root)


@functools.lru_cache(maxsize=256)
def _signature_valid(data: bytes, public_key: bytes) -> bool | None:
    """Whether the note's signatures by ``public_key``, as its origin's note key, verify.

    None when the note has no signature by that key.

    Raises:
        FormatError: as :func:`_parsed`.
        ValueError: an origin that cannot name a note key.
    """
    note, checkpoint = _parsed(data)
    found = note.signed_by(note_key(checkpoint.origin, public_key, check=False))
    if not found:
        return None
    text = note.text.encode()
    return all(ed25519_verify(public_key, text, s.signature) for s in found)


@functools.lru_cache(maxsize=64)
def _cosignatures(note: bytes, witnesses: tuple[VerifierKey, ...]) -> tuple[Cosignature, ...]:
    return tuple(cosignatures(_parsed(note)[0], witnesses))


def _log_signer(data: bytes, origin: str, keys: KeySet, built_at: datetime, where: str) -> str:
    """The id of the trusted key whose note signature on ``data`` verifies and counts."""
    problems: list[VerificationError] = []
    for key in keys:
        try:
            valid = _signature_valid(data, key.raw)
        except ValueError:
            break  # the origin cannot name a note key: nothing signed it
        if valid is None:
            continue
        if not valid:
            key_id = note_key(origin, key.raw).key_id.hex()
            raise _fail(
                Reason.BAD_NOTE_SIGNATURE,
                f"{where}: the signature by {origin} ({key_id}) does not verify",
            )
        try:
            keys.require(key.key_id, key.fingerprint, built_at)
        except VerificationError as e:
            problems.append(e)
            continue
        return key.key_id
    if problems:
        raise _fail(Reason(problems[0].reason), f"{where}: {problems[0].message}")
    raise _fail(
        Reason.NO_LOG_SIGNATURE,
        f"{where} is not signed by a trusted key as log {origin!r}",
    )


def log_policy(
    *,
    require: bool = False,
    witnesses: Sequence[str] = (),
    threshold: int | None = None,
    origin: str | None = None,
) -> LogPolicy:
    """A :class:`LogPolicy` from command-line text (witness vkeys).

    Raises:
        FormatError: a malformed witness key, or one of the wrong type.
        ValueError: a threshold out of range.
    """
    parsed = tuple(VerifierKey.parse(w) for w in witnesses)
    for w in parsed:
        if w.sig_type != COSIGNATURE_ED25519:
            raise FormatError(f"witness key {w.name}: expected a cosignature key (type 0x04)")
    return LogPolicy(require, parsed, threshold, origin)
