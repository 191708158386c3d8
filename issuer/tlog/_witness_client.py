"""Asking witnesses to cosign a checkpoint: the client side of C2SP tlog-witness.

:func:`ask_witness` sends ``add-checkpoint`` (old size, consistency proof,
the signed checkpoint), follows one 409 to the size the witness reports, and
returns the cosignature lines the witness answered with. It checks their
shape only (timestamped Ed25519, type 0x04): the publisher need not know the
witnesses' keys, and verifiers check the cosignatures themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import httpx

from issuer.errors import FormatError, NetworkError
from issuer.fetch import TIMEOUT_SECONDS, post, shown_url
from issuer.tlog._checkpoint import Checkpoint
from issuer.tlog._note import Note, NoteSignature
from issuer.tlog._vkey import COSIGNATURE_ED25519
from issuer.tlog._witness import SIZE_CONTENT_TYPE, AddCheckpoint

MAX_WITNESS_ANSWER = 16 * 1024
_COSIGNATURE_SIZE = 8 + 64  # timestamp, Ed25519 signature (c2sp.org/tlog-cosignature)


def ask_witness(
    client: httpx.Client,
    url: str,
    note: Note,
    *,
    checkpoint: Checkpoint,
    old: int,
    proof: Callable[[int], list[bytes]],
    timeout: float = TIMEOUT_SECONDS,
) -> list[NoteSignature]:
    """The cosignature lines a witness returns for ``note``, asked from size ``old``.

    ``proof(old)`` is the consistency proof from ``old`` to the checkpoint's
    size. When the witness answers 409 with the size it cosigned last, the
    request is made once more from that size.

    Raises:
        NetworkError: the witness cannot be reached, is too slow or too verbose,
            refuses (its status and why), or answers with something that is not
            a cosignature.
    """
    shown = shown_url(url)
    if old > checkpoint.size:
        old = 0  # not a size of this log: the witness's 409 says which
    for attempt in range(2):
        body = AddCheckpoint(old, tuple(proof(old)), Note(note.text, note.signatures), checkpoint)
        answer = post(
            client,
            url.rstrip("/") + "/add-checkpoint",
            body.to_bytes(),
            max_bytes=MAX_WITNESS_ANSWER,
            timeout=timeout,
            name=f"witness {shown}",
        )
        if answer.status == httpx.codes.OK:
            return _cosignature_lines(shown, note, answer.data)
        if answer.status == httpx.codes.CONFLICT and answer.content_type.startswith(
            SIZE_CONTENT_TYPE
        ):
            size = _size_line(answer.data)
            if size is None:
                raise NetworkError(f"witness {shown}: a 409 without a tree size")
            if size > checkpoint.size:
                raise NetworkError(
                    f"witness {shown}: it cosigned size {size} of {checkpoint.origin}, larger "
                    f"than this log's {checkpoint.size} (a rollback, or another history)"
                )
            if attempt == 0 and size != old:
                old = size
                continue
        raise NetworkError(
            f"witness {shown}: refused: HTTP {answer.status}: {_first_line(answer.data)}"
        )
    raise AssertionError("unreachable")  # pragma: no cover


def add_cosignatures(note: Note, lines: Sequence[NoteSignature]) -> Note:
    """``note`` with ``lines``, each replacing an older signature by the same key."""
    keys = {(s.name, s.key_id) for s in lines}
    kept = tuple(s for s in note.signatures if (s.name, s.key_id) not in keys)
    return Note(note.text, kept + tuple(lines))


def _size_line(data: bytes) -> int | None:
    m = re.fullmatch(rb"(0|[1-9][0-9]{0,18})\n?", data)
    return None if m is None else int(m[1])


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace").strip().split("\n", 1)[0]
    return re.sub(r"[^\x20-\x7e]", "?", text)[:200] or "(no reason given)"


def _cosignature_lines(shown: str, note: Note, data: bytes) -> list[NoteSignature]:
    """The signature lines of a 200 answer: each must be a cosignature (type 0x04) line.

    With them, ``note`` must still be a note a reader takes.
    """
    try:
        lines = Note.parse(note.text.encode() + b"\n" + data).signatures
    except FormatError as e:
        raise NetworkError(f"witness {shown}: not a cosignature: {e.message}") from e
    origin = Checkpoint.from_text(note.text).origin
    for line in lines:
        if len(line.signature) != _COSIGNATURE_SIZE or line.name == origin:
            raise NetworkError(
                f"witness {shown}: not a cosignature (type {COSIGNATURE_ED25519:#04x}) line"
            )
    try:  # the checkpoint with them must still be a note readers take (at most 100 signatures)
        Note.parse(add_cosignatures(note, lines).to_bytes())
    except FormatError as e:
        raise NetworkError(
            f"witness {shown}: {len(lines)} cosignature lines would make the checkpoint "
            f"unreadable: {e.message}"
        ) from e
    return list(lines)
