"""C2SP tlog-witness: the ``add-checkpoint`` request, the checks, and the answer.

A witness cosigns a log's checkpoint only if it is consistent with the last
checkpoint it cosigned for that log, so that a log cannot show two histories
(a split view) or roll one back without some witness refusing. This module
parses requests (:class:`AddCheckpoint`), runs the spec's checks in the
spec's order (:meth:`Witness.add_checkpoint`), and maps each refusal to the
spec's HTTP status (:func:`respond`). The state it keeps is
:mod:`._witness_state`'s; the HTTP server is :mod:`._witness_server`'s.

Request body (every line ends in a newline)::

    old <size>                  the size the client believes was cosigned last
    <base64 hash>               0 to 63 consistency proof lines
                                an empty line
    <signed checkpoint>         a C2SP signed note

Statuses: 400 malformed (or an old size above the checkpoint's), 404 unknown
origin, 403 no valid signature by a configured key of the log, 409 an old size
that is not the witness's (body: its size, ``text/x.tlog.size``) or the same
size with another root, 422 a consistency proof that does not verify.
"""

from __future__ import annotations

import base64
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from issuer.errors import Error, FormatError, VerificationError, WitnessConflictError
from issuer.reasons import Reason
from issuer.tlog._checkpoint import MAX_TREE_SIZE, Checkpoint
from issuer.tlog._cosignature import cosign
from issuer.tlog._merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency
from issuer.tlog._note import MAX_NOTE_SIZE, Note, NoteSignature, verify_note
from issuer.tlog._vkey import COSIGNATURE_ED25519, ED25519, NoteSigner, VerifierKey, decode_b64
from issuer.tlog._witness_state import Cosigned, WitnessState

logger = logging.getLogger(__name__)

MAX_PROOF_LINES = 63
"""Most consistency proof lines a client may send (the spec's limit)."""
_OLD_LINE = len("old ") + 19 + 1
_PROOF_LINE = 44 + 1  # base64 of 32 bytes, newline
MAX_REQUEST_SIZE = _OLD_LINE + MAX_PROOF_LINES * _PROOF_LINE + 1 + MAX_NOTE_SIZE
"""Largest ``add-checkpoint`` body: the longest header, then the largest note."""
_OLD_RE = re.compile(rb"old (0|[1-9][0-9]{0,18})")
SIZE_CONTENT_TYPE = "text/x.tlog.size"
"""The content type of a 409 body that carries the witness's tree size."""


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed ``add-checkpoint`` body: old size, consistency proof, the signed checkpoint."""

    old_size: int
    proof: tuple[bytes, ...]
    note: Note
    checkpoint: Checkpoint

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """Read a request body, strictly.

        Raises:
            FormatError: anything that is not a well-formed request (HTTP 400).
        """
        if len(body) > MAX_REQUEST_SIZE:
            raise FormatError(f"an add-checkpoint body is at most {MAX_REQUEST_SIZE} bytes")
        end = body.find(b"\n")
        old = _OLD_RE.fullmatch(body[: max(end, 0)])
        if end < 0 or old is None or int(old[1]) > MAX_TREE_SIZE:
            raise FormatError("an add-checkpoint body starts with 'old SIZE' (canonical decimal)")
        proof: list[bytes] = []
        start = end + 1
        while True:
            end = body.find(b"\n", start)
            if end < 0:
                raise FormatError(
                    "an add-checkpoint body needs an empty line before the checkpoint"
                )
            line = body[start:end]
            start = end + 1
            if not line:
                break
            if len(proof) == MAX_PROOF_LINES:
                raise FormatError(f"at most {MAX_PROOF_LINES} consistency proof lines")
            proof.append(_proof_hash(line, len(proof)))
        note = Note.parse(body[start:])
        return cls(int(old[1]), tuple(proof), note, Checkpoint.from_text(note.text))

    def to_bytes(self) -> bytes:
        """The request body, as a client sends it."""
        lines = [f"old {self.old_size}\n".encode()]
        lines += [base64_line(h) for h in self.proof]
        return b"".join([*lines, b"\n", self.note.to_bytes()])


def base64_line(h: bytes) -> bytes:
    """One proof line: the hash in base64, and a newline."""
    return base64.b64encode(h) + b"\n"


def _proof_hash(line: bytes, n: int) -> bytes:
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError as e:
        raise FormatError(f"consistency proof line {n + 1} is not base64") from e
    h = decode_b64(text, f"consistency proof line {n + 1}")
    if len(h) != HASH_SIZE:
        raise FormatError(f"consistency proof line {n + 1} is {len(h)} bytes, not {HASH_SIZE}")
    return h


def _refuse(message: str, reason: Reason, step: str) -> VerificationError:
    return VerificationError(message, reason=reason, step=step)


class Witness:
    """Cosigns checkpoints of the configured logs that extend what it cosigned before.

    Args:
        cosigner: the witness key, a type 0x04 :class:`NoteSigner` over any signer URI.
        logs: origin → the log's Ed25519 note keys (a signature by any one suffices).
        state: where the last cosigned checkpoint of each log is kept.
        clock: POSIX seconds, for the cosignature timestamps.
    """

    def __init__(
        self,
        cosigner: NoteSigner,
        logs: Mapping[str, Sequence[VerifierKey]],
        state: WitnessState,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if cosigner.sig_type != COSIGNATURE_ED25519:
            raise ValueError(f"witness key {cosigner.name} is not a cosignature (0x04) key")
        for origin, keys in logs.items():
            if not keys or any(k.sig_type != ED25519 for k in keys):
                raise ValueError(f"log {origin!r} needs one or more Ed25519 note keys")
        self.cosigner = cosigner
        self.logs = {origin: tuple(keys) for origin, keys in logs.items()}
        self.state = state
        self._clock = clock

    @property
    def verifier_key(self) -> VerifierKey:
        """The key verifiers configure to check this witness's cosignatures."""
        return self.cosigner.verifier_key

    def add_checkpoint(self, body: bytes) -> NoteSignature:
        """Check an ``add-checkpoint`` body and cosign its checkpoint; remember it first.

        Raises:
            FormatError: a malformed body (400).
            VerificationError: ``unknown_log`` (404); ``no_log_signature`` or
                ``bad_note_signature`` (403); ``log_rollback``, an old size above
                the checkpoint's (400); ``split_view``, the cosigned size with another
                root (409); ``bad_consistency_proof`` (422).
            WitnessConflictError: ``old_size_mismatch``, with the size this witness
                cosigned last (409).
            StoreError: the state cannot be read or written (500).
            KeyAccessError, SigningError: from the witness key (500).
        """
        # (1) format: old size line, proof lines, empty line, a signed checkpoint.
        request = AddCheckpoint.parse(body)
        cp = request.checkpoint
        # (2) origin: a log this witness is configured for (404 otherwise).
        keys = self.logs.get(cp.origin)
        if keys is None:
            raise _refuse(
                f"this witness does not witness log {cp.origin!r}", Reason.UNKNOWN_LOG, "origin"
            )
        # (3) log_signature: by one of the log's keys; others ignored (403 otherwise).
        try:
            signed_by = verify_note(request.note, keys)
        except VerificationError as e:
            raise VerificationError(e.message, reason=e.reason, step="log_signature") from e
        # (4) sizes: the old size is at most the checkpoint's (400 otherwise).
        if request.old_size > cp.size:
            raise _refuse(
                f"old size {request.old_size} is above the checkpoint's size {cp.size}",
                Reason.LOG_ROLLBACK,
                "old_size",
            )
        with self.state.changing() as logs:
            saved = logs.get(cp.origin)
            known_size, known_root = (0, EMPTY_ROOT) if saved is None else _size_root(saved)
            # (5) old_size: the size this witness cosigned last (409 with that size otherwise).
            if request.old_size != known_size:
                raise WitnessConflictError(
                    f"log {cp.origin}: this witness cosigned size {known_size} last, "
                    f"not {request.old_size}",
                    known_size=known_size,
                )
            # (6) consistency: the same root at the same size (409), else a proof (422).
            self._check_consistency(request, known_size, known_root)
            # (7) cosign, and persist before answering (the spec's order).
            signature = cosign(cp.text(), self.cosigner, max(int(self._clock()), 1))
            log_signatures = [
                s for s in request.note.signatures if any(s.is_by(k) for k in signed_by)
            ]
            logs[cp.origin] = Cosigned(cp, Note(request.note.text, tuple(log_signatures)))
        logger.info("cosigned %s at size %d (was %d)", cp.origin, cp.size, known_size)
        return signature

    @staticmethod
    def _check_consistency(request: AddCheckpoint, known_size: int, known_root: bytes) -> None:
        cp = request.checkpoint
        if known_size == cp.size:
            if not hmac.compare_digest(known_root, cp.root_hash):
                raise _refuse(
                    f"log {cp.origin}: size {cp.size} was cosigned with another root hash "
                    "(a split view)",
                    Reason.SPLIT_VIEW,
                    "consistency",
                )
            if request.proof:
                raise _refuse(
                    "trees of equal size need an empty proof",
                    Reason.BAD_CONSISTENCY_PROOF,
                    "consistency",
                )
            return
        if known_size == 0:
            if request.proof:  # the spec: the proof MUST be empty if the old size is zero
                raise _refuse(
                    "a proof from the empty tree must be empty",
                    Reason.BAD_CONSISTENCY_PROOF,
                    "consistency",
                )
            return
        try:
            verify_consistency(known_size, cp.size, request.proof, known_root, cp.root_hash)
        except VerificationError as e:
            raise VerificationError(
                f"log {cp.origin}: size {cp.size} does not extend the cosigned size "
                f"{known_size}: {e.message}",
                reason=e.reason,
                step="consistency",
            ) from e

    def latest(self, origin: str) -> Checkpoint | None:
        """The last checkpoint this witness cosigned for ``origin``, if any.

        Raises:
            StoreError: the state cannot be read.
        """
        saved = self.state.read().get(origin)
        return None if saved is None else saved.checkpoint


def _size_root(saved: Cosigned) -> tuple[int, bytes]:
    return saved.checkpoint.size, saved.checkpoint.root_hash


@dataclass(frozen=True)
class WitnessResponse:
    """An HTTP answer to ``add-checkpoint``: status, content type, body."""

    status: int
    content_type: str
    body: bytes
    reason: str | None = None
    """The refusal's reason code (``None`` for 200 and internal errors)."""


_STATUS: dict[str, int] = {
    Reason.UNKNOWN_LOG: 404,
    Reason.NO_LOG_SIGNATURE: 403,
    Reason.BAD_NOTE_SIGNATURE: 403,
    Reason.LOG_ROLLBACK: 400,
    Reason.OLD_SIZE_MISMATCH: 409,
    Reason.SPLIT_VIEW: 409,
    Reason.BAD_CONSISTENCY_PROOF: 422,
}
"""HTTP status of each refusal :meth:`Witness.add_checkpoint` makes (a test checks coverage)."""
_TEXT = "text/plain; charset=utf-8"


def refusal(error: FormatError | VerificationError) -> WitnessResponse:
    """The HTTP answer to a refused ``add-checkpoint``: the spec's status, and why."""
    if isinstance(error, WitnessConflictError):
        body = f"{error.known_size}\n".encode()
        return WitnessResponse(409, SIZE_CONTENT_TYPE, body, error.reason)
    if isinstance(error, VerificationError):
        status = _STATUS.get(error.reason, 500)
        return WitnessResponse(status, _TEXT, f"{error.message}\n".encode(), str(error.reason))
    return WitnessResponse(400, _TEXT, f"{error.message}\n".encode(), str(Reason.MALFORMED))


def respond(witness: Witness, body: bytes) -> WitnessResponse:
    """The HTTP answer to an ``add-checkpoint`` body: 200 with the cosignature line, or why not.

    Errors of the witness itself (its state or key unavailable) are 500, with a
    generic body: their details go to the log, not to the client.
    """
    try:
        signature = witness.add_checkpoint(body)
    except (FormatError, VerificationError) as e:
        return refusal(e)
    except Error as e:  # the witness's own failure (state, key): not the client's business
        logger.error("add-checkpoint failed: %s", e.diagnostics())
        return WitnessResponse(500, _TEXT, b"internal error\n")
    return WitnessResponse(200, _TEXT, signature.line().encode())


def parse_log_keys(specs: Sequence[str]) -> dict[str, tuple[VerifierKey, ...]]:
    """Read ``ORIGIN=VKEY`` specs (or a bare ``VKEY``, whose name is then the origin).

    An origin given several times trusts each of its keys (a log rotating its key).

    Raises:
        FormatError: a malformed spec or key, or a key that is not an Ed25519 note key.
    """
    logs: dict[str, list[VerifierKey]] = {}
    for spec in specs:
        # A vkey's name has no '=' before its first '+'; base64 may end in '='.
        origin, sep, vkey = spec.partition("=")
        if not sep or "+" in origin:
            origin, vkey = "", spec
        key = VerifierKey.parse(vkey)
        if key.sig_type != ED25519:
            raise FormatError(f"log key {key.name}: expected an Ed25519 note key (type 0x01)")
        origin = origin or key.name
        if "\n" in origin:
            raise FormatError("a log origin is one line")
        if key not in logs.setdefault(origin, []):
            logs[origin].append(key)
    return {origin: tuple(keys) for origin, keys in logs.items()}
