"""Asking witnesses to cosign a checkpoint: the client side of C2SP tlog-witness.

:func:`ask_witness` sends ``add-checkpoint`` (old size, consistency proof,
the signed checkpoint), follows one 409 to the size the witness reports, and
returns the cosignature lines the witness answered with. It checks their
shape only (timestamped Ed25519, type 0x04): the publisher need not know the
witnesses' keys, and verifiers check the cosignatures themselves.

What the publisher can check is who answered under which key.
:class:`WitnessKeys` adds an answer to the checkpoint only under the key its
witness URL answered with the first time (trust on first use), and never
under a key another URL holds: a witness, however it answers, cannot remove
or replace a cosignature obtained from another.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

from issuer.errors import FormatError, NetworkError
from issuer.fetch import TIMEOUT_SECONDS, post, shown_url
from issuer.tlog._checkpoint import Checkpoint
from issuer.tlog._note import Note, NoteSignature
from issuer.tlog._vkey import COSIGNATURE_ED25519, KEY_ID_SIZE, is_valid_name
from issuer.tlog._witness import SIZE_CONTENT_TYPE, AddCheckpoint

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

MAX_WITNESS_ANSWER = 16 * 1024
BUSY_RETRIES = 2
"""Times a witness that answers 503 (busy) is asked again."""
MAX_BUSY_WAIT = 5.0
"""The longest wait before asking a busy witness again, whatever its ``Retry-After`` says."""
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
    sleep: Callable[[float], None] = time.sleep,
) -> list[NoteSignature]:
    """The cosignature lines a witness returns for ``note``, asked from size ``old``.

    ``proof(old)`` is the consistency proof from ``old`` to the checkpoint's
    size. When the witness answers 409 with the size it cosigned last, the
    request is made once more from that size. When it answers 503 (busy), the
    request is made again after its ``Retry-After`` (1 s when it gives none, at
    most :data:`MAX_BUSY_WAIT`), up to :data:`BUSY_RETRIES` times.

    Raises:
        NetworkError: the witness cannot be reached, is too slow or too verbose,
            refuses (its status and why), stays busy, or answers with something
            that is not a cosignature.
    """
    shown = shown_url(url)
    if old > checkpoint.size:
        old = 0  # not a size of this log: the witness's 409 says which
    asked_again = False
    busy = 0
    while True:
        body = AddCheckpoint(old, tuple(proof(old)), Note(note.text, note.signatures), checkpoint)
        answer = post(
            client,
            url.rstrip("/") + "/add-checkpoint",
            body.to_bytes(),
            max_bytes=MAX_WITNESS_ANSWER,
            timeout=timeout,
            name=f"witness {shown}",
        )
        if answer.status == HTTPStatus.OK:
            return _cosignature_lines(shown, note, answer.data)
        if answer.status == HTTPStatus.SERVICE_UNAVAILABLE and busy < BUSY_RETRIES:
            busy += 1
            wait = min(MAX_BUSY_WAIT, 1.0 if answer.retry_after is None else answer.retry_after)
            logger.info("witness %s is busy (503): asking again in %g s", shown, wait)
            sleep(wait)
            continue
        if answer.status == HTTPStatus.CONFLICT and answer.content_type.startswith(
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
            if not asked_again and size != old:
                asked_again = True
                old = size
                continue
        tries = f" ({busy + 1} tries)" if busy else ""
        raise NetworkError(
            f"witness {shown}: refused: HTTP {answer.status}{tries}: {_first_line(answer.data)}"
        )


def add_cosignatures(note: Note, lines: Sequence[NoteSignature]) -> Note:
    """``note`` with ``lines``, each replacing an older signature by the same key."""
    keys = {(s.name, s.key_id) for s in lines}
    kept = tuple(s for s in note.signatures if (s.name, s.key_id) not in keys)
    return Note(note.text, kept + tuple(lines))


@dataclass(frozen=True)
class CosignerKey:
    """The key a cosignature line is under: its key name and 4-byte key id.

    Written ``NAME+KEYID`` (8 lowercase hex digits), as a verifier key begins.
    """

    name: str
    key_id: bytes

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id.hex()}"

    @classmethod
    def of(cls, line: NoteSignature) -> CosignerKey:
        """The key ``line`` is under."""
        return cls(line.name, line.key_id)

    @classmethod
    def parse(cls, text: str) -> CosignerKey:
        """Read ``NAME+KEYID``.

        Raises:
            FormatError: not a key name, ``+``, and 8 lowercase hex digits.
        """
        name, _, hex_id = text.rpartition("+")
        if (
            not is_valid_name(name)
            or len(hex_id) != 2 * KEY_ID_SIZE
            or re.fullmatch("[0-9a-f]+", hex_id) is None
        ):
            raise FormatError(f"not a cosigner key (NAME+KEYID): {text[:200]!r}")
        return cls(name, bytes.fromhex(hex_id))


class WitnessKeys:
    """The cosignature key each witness URL answered with: trusted on first use.

    The publisher does not know the witnesses' keys, so it cannot tell a
    cosignature from a forgery; a verifier can. What the publisher can keep
    apart is who answered under which key, so that one witness's answer never
    removes or replaces a cosignature another witness URL gave. An answer is
    taken (:meth:`add`) when, in order:

    1. its lines are all under one key;
    2. its URL has no key yet, or answered under this key before;
    3. no other witness URL holds this key (from an earlier run, or earlier in
       this one); a URL that differs only by its user and password is the same
       witness;
    4. if its URL has no key yet, the checkpoint carries no line under this key
       (one an earlier run got from a URL no longer recorded).

    Its URL then holds its key. Anything else is refused, and adds nothing.

    Args:
        held: the key each witness URL holds, from earlier runs.
    """

    def __init__(self, held: Mapping[str, CosignerKey] | None = None) -> None:
        self._held = dict(held or {})

    @property
    def held(self) -> dict[str, CosignerKey]:
        """The key each witness URL holds, now."""
        return dict(self._held)

    def add(self, url: str, note: Note, lines: Sequence[NoteSignature]) -> Note:
        """``note`` with ``lines``, the answer of the witness at ``url``.

        Each line replaces an older one under its key, which can only be one
        this URL gave. ``url`` is the witness URL as shown (without a
        password), as it is recorded.

        Raises:
            NetworkError: the answer is refused (the rules above); why, naming the keys.
        """
        # (1) one key per answer.
        keys = sorted({CosignerKey.of(s) for s in lines}, key=str)
        if len(keys) != 1:
            raise NetworkError(
                f"witness {url}: cosignature lines under {len(keys)} keys "
                f"({', '.join(map(str, keys))}); a witness answers under one"
            )
        key = keys[0]
        # (2) the key this URL answered with before.
        mine = self._held.get(url)
        if mine is not None and mine != key:
            raise NetworkError(
                f"witness {url}: a cosignature under {key}, not under {mine}, the key this URL "
                "answered with before (if the witness changed its key, remove its entry from "
                "the tree's .pith-witnesses.json)"
            )
        # (3) nobody else's key.
        holders = sorted(u for u, k in self._held.items() if k == key)
        others = [u for u in holders if _endpoint(u) != _endpoint(url)]
        if others:
            raise NetworkError(
                f"witness {url}: a cosignature under {key}, the key of witness {others[0]}"
            )
        # (4) no displacing a line nobody is known to have given.
        if not holders and any(CosignerKey.of(s) == key for s in note.signatures):
            raise NetworkError(
                f"witness {url}: a cosignature under {key}, which the checkpoint already carries "
                "from a witness URL not recorded"
            )
        self._held[url] = key
        return add_cosignatures(note, lines)


def _endpoint(url: str) -> str:
    """``url`` without its user and password, and without a final ``/``: the witness it names."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=host)).rstrip("/")


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
