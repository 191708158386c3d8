"""The registry's transparency log (issue 16 §1–2, §4): leaf entries, tree state, checkpoints.

What goes into the log, and the documents made from it, independent of any
database:

- **Leaf entries**: one per issued record version and one per signed event,
  the canonical JSON (spec §1) of a small object naming the record or event
  and the digest its signature covers (:func:`record_entry`,
  :func:`event_entry`, :func:`parse_entry`). No signature bytes, no key id and
  no ``signed_at``: a reissue (new signatures after a rotation or a
  compromise) changes no leaf, so a re-signed bundle keeps its proofs.
- **Tree state**: the :class:`~issuer.tlog.Appender` state at a checkpoint
  (size, frontier, partial tiles), stored beside the checkpoint so that the
  next checkpoint and the next publication hash only the new leaves.
- **Checkpoints**: C2SP checkpoints signed by the registry's own key as an
  Ed25519 note key named by the log's origin (:func:`sign_checkpoint`).
- **Inclusion proofs**: the ``timestamp_proofs`` entries of a bundle
  (:func:`inclusion_object`, :func:`parse_inclusion`).

Sequencing (which leaf gets which index, in the issuance transaction) is the
store's job; publishing tiles is :mod:`issuer.publish`'s; checking a bundle's
proofs is :mod:`issuer.verify`'s.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from issuer import cjson
from issuer.errors import FormatError
from issuer.keys import Signer
from issuer.tlog._appender import Appender, TileSink
from issuer.tlog._checkpoint import Checkpoint
from issuer.tlog._merkle import (
    HASH_SIZE,
    NodeReader,
    inclusion_proof,
    inclusion_ranges,
    leaf_hash,
    subtree_hash,
)
from issuer.tlog._note import Note, sign_note
from issuer.tlog._tiles import TILE_HEIGHT, EntryBundle, Tile, split_hashes
from issuer.tlog._vkey import ED25519, NoteSigner, VerifierKey, is_valid_name, key_id

ENTRY_VERSION = 1
RECORD = "record"
EVENT = "event"
PROOF_TYPE = "pith-tlog-inclusion-v1"
"""``type`` of an inclusion proof in a bundle's ``timestamp_proofs``."""
PROOF_FIELDS = frozenset(
    {"type", "log_origin", "leaf_index", "tree_size", "leaf", "proof", "checkpoint"}
)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HASH_B64_SIZE = 44  # base64 of 32 bytes
_LAST_SIXTH = frozenset("AEIMQUYcgkosw048")  # the 43rd character: its two low bits zero
_EVENT_ID = re.compile(r"sha256:([0-9a-f]{64})")
_PLAIN = re.compile(r"[ !#-\[\]-~]*")  # printable ASCII but '"' and '\': written as it is
_ENTRY_FIELDS = {
    RECORD: frozenset(
        {"canonical_sha256", "entry_version", "kind", "pith_number", "signed_digest"}
    ),
    EVENT: frozenset({"entry_version", "event_id", "kind", "pith_number", "signed_digest"}),
}
#: Deepest a tree of 2**63 leaves goes: the longest inclusion proof.
MAX_PROOF_HASHES = 63


def record_entry(pith_number: str, canonical_sha256: str) -> bytes:
    """The leaf entry of an issued record version.

    ``signed_digest`` is what the receipt signature covers: the 32 bytes of
    ``canonical_sha256`` (``signed_message`` ``canonical_sha256_bytes``).
    """
    if _plain(pith_number) and _plain(canonical_sha256):  # what dumps_parsed writes, spelt out
        return (
            f'{{"canonical_sha256":"{canonical_sha256}","entry_version":{ENTRY_VERSION},'
            f'"kind":"{RECORD}","pith_number":"{pith_number}",'
            f'"signed_digest":"{canonical_sha256}"}}'
        ).encode()
    return cjson.dumps_parsed(record_object(pith_number, canonical_sha256))


def _plain(text: object) -> bool:
    """Whether canonical JSON writes ``text`` between quotes as it is (no escape, ASCII)."""
    return type(text) is str and _PLAIN.fullmatch(text) is not None


def record_object(pith_number: str, canonical_sha256: str) -> dict[str, Any]:
    """The leaf entry of a record version, as an object (see :func:`record_entry`)."""
    return {
        "canonical_sha256": canonical_sha256,
        "entry_version": ENTRY_VERSION,
        "kind": RECORD,
        "pith_number": pith_number,
        "signed_digest": canonical_sha256,
    }


def event_entry(pith_number: str, event_id: str) -> bytes:
    """The leaf entry of a signed event.

    ``signed_digest`` is what the event signature covers: its content digest,
    which the event id carries (``sha256:`` + hex).

    Raises:
        ValueError: if ``event_id`` is not ``sha256:`` and 64 hex digits.
    """
    if _plain(pith_number) and type(event_id) is str:
        m = _EVENT_ID.fullmatch(event_id)
        if m is not None:  # what dumps_parsed writes, spelt out
            return (
                f'{{"entry_version":{ENTRY_VERSION},"event_id":"{event_id}",'
                f'"kind":"{EVENT}","pith_number":"{pith_number}",'
                f'"signed_digest":"{m[1]}"}}'
            ).encode()
    return cjson.dumps_parsed(event_object(pith_number, event_id))


def event_object(pith_number: str, event_id: str) -> dict[str, Any]:
    """The leaf entry of an event, as an object (see :func:`event_entry`).

    Raises:
        ValueError: if ``event_id`` is not ``sha256:`` and 64 hex digits.
    """
    m = _EVENT_ID.fullmatch(event_id)
    if m is None:
        raise ValueError(f"not an event id: {event_id!r}")
    return {
        "entry_version": ENTRY_VERSION,
        "event_id": event_id,
        "kind": EVENT,
        "pith_number": pith_number,
        "signed_digest": m[1],
    }


@dataclass(frozen=True)
class LogEntry:
    """A parsed leaf entry: its kind, record, what it is about and the signed digest."""

    kind: str
    pith_number: str
    subject: str  # canonical_sha256 (records) or event_id (events)
    signed_digest: str

    def to_bytes(self) -> bytes:
        """The canonical entry bytes (the leaf data)."""
        if self.kind == RECORD:
            return record_entry(self.pith_number, self.subject)
        return event_entry(self.pith_number, self.subject)


def parse_entry(data: Any) -> LogEntry:
    """Read a leaf entry (its bytes, or the parsed object), refusing anything but the two kinds.

    Raises:
        FormatError: not a canonical entry of a known kind and version.
    """
    obj = cjson.loads(data) if isinstance(data, bytes) else data
    if not isinstance(obj, dict) or obj.get("kind") not in _ENTRY_FIELDS:
        raise FormatError("not a log entry of a known kind (record, event)")
    kind = obj["kind"]
    if set(obj) != _ENTRY_FIELDS[kind] or obj["entry_version"] != ENTRY_VERSION:
        raise FormatError(f"a {kind} log entry has exactly {sorted(_ENTRY_FIELDS[kind])}")
    if not all(isinstance(obj[k], str) for k in _ENTRY_FIELDS[kind] - {"entry_version"}):
        raise FormatError(f"malformed {kind} log entry")
    subject = obj["canonical_sha256"] if kind == RECORD else obj["event_id"]
    try:
        entry = LogEntry(kind, obj["pith_number"], subject, obj["signed_digest"])
        canonical = entry.to_bytes()
    except (ValueError, FormatError) as e:
        raise FormatError(f"malformed {kind} log entry: {e}") from e
    if not _HEX64.fullmatch(entry.signed_digest) or cjson.loads(canonical) != obj:
        raise FormatError(f"a {kind} log entry whose signed digest is not its subject's")
    if isinstance(data, bytes) and data != canonical:
        raise FormatError(f"a {kind} log entry that is not canonical JSON")
    return entry


def bundle_entries(
    pith_number: str, canonical_sha256: str, events: Iterable[dict[str, Any]]
) -> list[bytes]:
    """Every leaf entry a bundle implies: its record's, then each event's."""
    return [cjson.dumps_parsed(o) for o in bundle_objects(pith_number, canonical_sha256, events)]


def bundle_objects(
    pith_number: str, canonical_sha256: str, events: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """:func:`bundle_entries` as objects, before serializing."""
    out = [record_object(pith_number, canonical_sha256)]
    out += [event_object(pith_number, e["event_id"]) for e in events]
    return out


# -- tree state ---------------------------------------------------------------


def encode_state(appender: Appender) -> bytes:
    """The appender's resumable state: size, frontier, partial tiles (entries are in the store)."""
    partial = _partial_hashes(appender)
    parts = [
        appender.size.to_bytes(8, "big"),
        len(appender.frontier).to_bytes(1, "big"),
        *appender.frontier,
        len(partial).to_bytes(1, "big"),
    ]
    for hashes in partial:
        parts.append(len(hashes).to_bytes(2, "big"))
        parts.extend(hashes)
    return b"".join(parts)


def _partial_hashes(appender: Appender) -> list[list[bytes]]:
    partial: list[list[bytes]] = []
    for tile, data in appender.partial_tiles():
        if isinstance(tile, Tile):
            partial += [[] for _ in range(tile.level + 1 - len(partial))]
            partial[tile.level] = split_hashes(data, tile)
    return partial


def decode_state(
    data: bytes, pending_entries: Iterable[bytes] = (), *, sink: TileSink | None = None
) -> Appender:
    """An appender resumed from :func:`encode_state` bytes (and the pending entries, if any).

    Raises:
        FormatError: if the state is truncated or inconsistent.
    """
    try:
        size = int.from_bytes(data[:8], "big")
        pos = 9
        frontier = [data[pos + i * HASH_SIZE : pos + (i + 1) * HASH_SIZE] for i in range(data[8])]
        pos += data[8] * HASH_SIZE
        levels, pos = data[pos], pos + 1
        partial = []
        for _ in range(levels):
            n, pos = int.from_bytes(data[pos : pos + 2], "big"), pos + 2
            partial.append(
                [data[pos + i * HASH_SIZE : pos + (i + 1) * HASH_SIZE] for i in range(n)]
            )
            pos += n * HASH_SIZE
        if pos != len(data) or any(len(h) != HASH_SIZE for h in frontier):
            raise ValueError("trailing or truncated bytes")
        return Appender(
            sink,
            size=size,
            frontier=frontier,
            partial=partial,
            pending_entries=list(pending_entries),
        )
    except (IndexError, ValueError) as e:
        raise FormatError(f"the stored log state is unreadable: {e}") from e


def grow(appender: Appender, entries: Iterable[bytes]) -> None:
    """Append entries by their leaf hashes (for a checkpoint: no entry bundles needed)."""
    appender.append_hashes(leaf_hash(e) for e in entries)


def tile_start(size: int) -> int:
    """The first leaf of the partial entry bundle at ``size`` (its pending entries)."""
    return size - size % (1 << TILE_HEIGHT)


# -- checkpoints --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A signed checkpoint of the log, with the tree state at its size."""

    tree_size: int
    origin: str
    note: bytes  # the signed note, as served
    state: bytes  # encode_state at tree_size
    created_at: str
    id: int = 0  # 0 until stored

    @property
    def root_hash(self) -> bytes:
        """The root hash the checkpoint signs."""
        return Checkpoint.from_text(Note.parse(self.note).text).root_hash


class LogStore(Protocol):
    """What the log needs of a registry (SQLite today; any backend that sequences leaves)."""

    def log_size(self) -> int:
        """How many leaves the log holds."""

    def log_entries(self, start: int, stop: int) -> Iterator[bytes]:
        """The entries of leaves ``[start, stop)``, in order."""

    def checkpoints(
        self, origin: str | None = None, *, latest: bool = False
    ) -> list[StoredCheckpoint]:
        """Stored checkpoints, oldest first (the newest only, if ``latest``)."""

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> StoredCheckpoint:
        """Store a checkpoint; it becomes the current one."""


def _resume(store: LogStore, previous: StoredCheckpoint | None, *, entries: bool) -> Appender:
    """The appender at ``previous`` (empty if None), with its pending entries when ``entries``."""
    if previous is None:
        return Appender()
    pending: list[bytes] = []
    if entries:
        pending = list(store.log_entries(tile_start(previous.tree_size), previous.tree_size))
    return decode_state(previous.state, pending)


def make_checkpoint(
    store: LogStore, signer: Signer, origin: str, created_at: str
) -> StoredCheckpoint:
    """Sign and store a checkpoint of the whole log, unless the current one already is one.

    Only the leaves since the newest stored checkpoint are hashed. The current
    checkpoint is reused when it has the same origin and size and was signed
    by ``signer``'s key.

    Raises:
        FormatError: if the stored state is unreadable.
        SigningError, KeyAccessError: from the signer.
    """
    latest = next(iter(store.checkpoints(latest=True)), None)
    size = store.log_size()
    if latest is not None and latest.origin == origin and latest.tree_size == size:
        key = note_key(origin, signer.public_key.raw)
        if Note.parse(latest.note).signed_by(key):
            return latest
    appender = _resume(store, latest, entries=False)
    grow(appender, store.log_entries(appender.size, size))
    note = sign_checkpoint(origin, size, appender.root(), signer)
    return store.add_checkpoint(
        StoredCheckpoint(size, origin, note.to_bytes(), encode_state(appender), created_at)
    )


def write_tiles(
    store: LogStore,
    previous: StoredCheckpoint | None,
    current: StoredCheckpoint,
    sink: Callable[[str, bytes], None],
) -> None:
    """Hand ``sink(path, data)`` every tile and entry bundle new since ``previous``.

    Full tiles are written once; the partial ones of ``current``'s size last.
    ``previous`` is the checkpoint whose tiles are already published (None: none are).

    Raises:
        FormatError: if the tiles do not reproduce ``current``'s root (a corrupt store).
    """

    def to_sink(item: Tile | EntryBundle, data: bytes) -> None:
        sink(item.path, data)

    if previous is not None and previous.tree_size <= current.tree_size:
        pending = store.log_entries(tile_start(previous.tree_size), previous.tree_size)
        appender = decode_state(previous.state, pending, sink=to_sink)
    else:
        appender = Appender(to_sink)
    appender.append_entries(store.log_entries(appender.size, current.tree_size))
    if appender.root() != current.root_hash:
        raise FormatError(
            f"the log's leaves do not reproduce the root of checkpoint {current.id}",
            hint="the registry is corrupt or was edited by hand; restore it from a backup",
        )
    for item, data in appender.partial_tiles():
        sink(item.path, data)


def origin_of(base_url: str) -> str:
    """The log origin of a published tree: host and path of its base URL (no scheme, no ``/``).

    Raises:
        ValueError: if the URL has no host or the result cannot name a note key.
    """
    parts = urlsplit(base_url)
    if not parts.hostname:
        raise ValueError(f"no host in {base_url!r}")
    host = parts.netloc.rsplit("@", 1)[-1]
    origin = (host + parts.path).rstrip("/")
    note_key(origin, b"\x00" * 32, check=False)
    return origin


def note_key(origin: str, public_key: bytes, *, check: bool = True) -> VerifierKey:
    """The registry key ``public_key`` as the note key of the log ``origin`` (type 0x01).

    Raises:
        ValueError: an origin that cannot name a note key.
        FormatError: a public key refused by the point checks (``check``).
    """
    if not is_valid_name(origin):
        raise ValueError(f"the log origin {origin!r} cannot name a note key (a space or '+')")
    if not check:
        return VerifierKey(origin, key_id(origin, ED25519, public_key), ED25519, public_key)
    return VerifierKey.of(origin, ED25519, public_key)


def sign_checkpoint(origin: str, size: int, root: bytes, signer: Signer) -> Note:
    """A C2SP checkpoint of the tree, signed by the registry key as the log's note key.

    Raises:
        SigningError, KeyAccessError: from the signer.
    """
    text = Checkpoint(origin, size, root).text()
    return sign_note(text, [NoteSigner(origin, ED25519, signer)])


# -- inclusion proofs in bundles ----------------------------------------------


def leaf_name(entry: bytes) -> str:
    """How a proof names its leaf: ``record``, or the event id.

    An entry that is byte for byte the one :func:`record_entry` or
    :func:`event_entry` makes of its own fields (every entry the registry
    rebuilds) is named from those fields; any other goes through the strict
    :func:`parse_entry`, which names it or refuses it.

    Raises:
        FormatError: as :func:`parse_entry`.
    """
    try:
        obj = orjson.loads(entry)
        if obj["kind"] == RECORD and entry == record_entry(
            obj["pith_number"], obj["signed_digest"]
        ):
            return RECORD
        if obj["kind"] == EVENT and entry == event_entry(obj["pith_number"], obj["event_id"]):
            return str(obj["event_id"])
    except (ValueError, TypeError, KeyError):  # not JSON, not an object, a field missing
        pass
    parsed = parse_entry(entry)
    return RECORD if parsed.kind == RECORD else parsed.subject


def inclusion_object(
    origin: str,
    leaf_index: int,
    *,
    tree_size: int,
    entry: bytes,
    proof: list[bytes],
    checkpoint: bytes,
) -> dict[str, Any]:
    """One ``timestamp_proofs`` entry: leaf ``leaf_index`` of the tree the checkpoint signs."""
    return _inclusion_object(
        origin,
        leaf_index,
        tree_size,
        leaf_name(entry),
        [base64.b64encode(h).decode() for h in proof],
        checkpoint.decode(),
    )


def _inclusion_object(  # noqa: PLR0917 - the object's fields, in its order
    origin: str, leaf_index: int, tree_size: int, leaf: str, proof: list[str], checkpoint: str
) -> dict[str, Any]:
    return {
        "type": PROOF_TYPE,
        "log_origin": origin,
        "leaf_index": leaf_index,
        "tree_size": tree_size,
        "leaf": leaf,
        "proof": proof,
        "checkpoint": checkpoint,
    }


@dataclass(frozen=True)
class Inclusion:
    """A parsed inclusion proof (not yet checked)."""

    origin: str
    leaf_index: int
    tree_size: int
    leaf: str  # "record", or the event id: which of the bundle's leaves
    proof: tuple[bytes, ...]
    checkpoint: bytes


def parse_inclusion(obj: Any) -> Inclusion:
    """Read a ``pith-tlog-inclusion-v1`` object strictly.

    Raises:
        FormatError: not exactly that object's fields and types.
    """
    if not isinstance(obj, dict) or obj.get("type") != PROOF_TYPE:
        raise FormatError(f"a timestamp proof of an unknown type (expected {PROOF_TYPE!r})")
    if set(obj) != PROOF_FIELDS:
        raise FormatError(f"a {PROOF_TYPE} proof has exactly the fields {sorted(PROOF_FIELDS)}")
    index, size, proof = obj["leaf_index"], obj["tree_size"], obj["proof"]
    if not (
        isinstance(index, int)
        and isinstance(size, int)
        and not isinstance(index, bool)
        and not isinstance(size, bool)
        and 0 <= index < size
    ):
        raise FormatError("leaf_index and tree_size are integers, 0 <= leaf_index < tree_size")
    if not all(isinstance(obj[k], str) for k in ("log_origin", "checkpoint", "leaf")):
        raise FormatError("log_origin, leaf and checkpoint are strings")
    if not isinstance(proof, list) or len(proof) > MAX_PROOF_HASHES:
        raise FormatError(f"proof is a list of at most {MAX_PROOF_HASHES} hashes")
    return Inclusion(
        obj["log_origin"],
        index,
        size,
        obj["leaf"],
        _proof_hashes(proof),
        obj["checkpoint"].encode(),
    )


def _proof_hashes(proof: list[Any]) -> tuple[bytes, ...]:
    """The hashes of a proof, each the one canonical base64 spelling of 32 bytes.

    Raises:
        FormatError: naming the first element that is not.
    """
    try:
        hashes: tuple[bytes, ...] | None = tuple(map(_proof_hash, proof))
    except TypeError:  # an element that is not a string (or cannot be a cache key)
        hashes = None
    if hashes is not None and all(hashes):
        return hashes
    # Some element is refused: name the first.
    bad = next(i for i, h in enumerate(proof) if not isinstance(h, str) or not _proof_hash(h))
    raise FormatError(f"proof[{bad}] is not the canonical base64 of a 32-byte hash")


def spelt_hash(text: str) -> bytes:
    """The 32 bytes ``text`` spells, or ``b""`` if it is not their canonical base64.

    Raises:
        TypeError: ``text`` is a value with no length (other values that are
            not strings give ``b""``).
    """
    # Exactly the canonical spellings: 42 characters, a 43rd whose two low bits are zero
    # (it carries the last 4 bits), then one "=". The strict decoder refuses any other
    # character, a "=" anywhere else, and text that is not ASCII.
    if len(text) != _HASH_B64_SIZE or text[-1] != "=" or text[-2] not in _LAST_SIXTH:
        return b""
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return b""


# Proofs of nearby leaves (a bundle's, a publication's) repeat their upper hashes: each
# spelling is checked and decoded once per process, not once per proof. Bounded.
_proof_hash = functools.lru_cache(maxsize=1 << 12)(spelt_hash)


def inclusion_proofs(
    leaves: Iterable[tuple[int, bytes]], checkpoint: StoredCheckpoint, nodes: NodeReader
) -> list[dict[str, Any]]:
    """The ``timestamp_proofs`` of a bundle: each of its leaves (index, entry) in ``checkpoint``.

    Leaves the checkpoint does not cover yet (appended since) get no proof.
    With :class:`CachedNodes`, each hash is spelt in base64 once per range
    (neighbouring leaves' proofs share most of theirs).
    """
    if isinstance(nodes, CachedNodes):
        size = checkpoint.tree_size
        text = checkpoint.note.decode()
        return [
            _inclusion_object(
                checkpoint.origin,
                index,
                size,
                leaf_name(entry),
                _spelt_proof(nodes, index, size),
                text,
            )
            for index, entry in leaves
            if index < size
        ]
    return [
        inclusion_object(
            checkpoint.origin,
            index,
            tree_size=checkpoint.tree_size,
            entry=entry,
            proof=_inclusion_proof(nodes, index, checkpoint.tree_size),
            checkpoint=checkpoint.note,
        )
        for index, entry in leaves
        if index < checkpoint.tree_size
    ]


def _inclusion_proof(nodes: NodeReader, index: int, size: int) -> list[bytes]:
    """:func:`~issuer.tlog.inclusion_proof`, its incomplete subtrees remembered by ``nodes``."""
    if not isinstance(nodes, CachedNodes):
        return inclusion_proof(nodes, index, size)
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    return [nodes.subtree(s, e) for s, e in inclusion_ranges(index, 0, size)]


def _spelt_proof(nodes: CachedNodes, index: int, size: int) -> list[str]:
    """:func:`_inclusion_proof`'s hashes in base64, each range's spelt once per ``nodes``."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    return [nodes.spelt(s, e) for s, e in inclusion_ranges(index, 0, size)]


class CachedNodes:
    """A :class:`NodeReader` that remembers the nodes it read (proofs share their upper nodes).

    At most ``limit`` nodes are kept: when it is reached the cache starts
    again, so publishing millions of records keeps its memory flat (a node
    read again is recomputed from the tiles, with the same result).
    """

    def __init__(self, nodes: NodeReader, *, limit: int = 1 << 18) -> None:
        self._nodes = nodes
        self._limit = limit
        self._cache: dict[tuple[int, int], bytes] = {}
        self._spelt: dict[tuple[int, int], str] = {}

    def node(self, level: int, index: int) -> bytes:
        """The hash of the complete subtree ``(level, index)``."""
        key = (level, index)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= self._limit:
                self._cache.clear()
            found = self._cache[key] = self._nodes.node(level, index)
        return found

    def subtree(self, start: int, end: int) -> bytes:
        """:func:`~issuer.tlog.subtree_hash` of ``[start, end)``, remembered when incomplete.

        The proofs of one publication share the incomplete subtrees at the
        tree's right edge, each a fold of up to 63 nodes: kept beside the nodes
        (the same limit), so they are folded once.
        """
        width = end - start
        if width & (width - 1) == 0:  # complete (a power of two): one node
            if width and start & (width - 1) == 0:  # aligned, as every proof's range is
                level = width.bit_length() - 1
                return self.node(level, start >> level)
            return subtree_hash(self, start, end)
        key = (-start - 1, end)  # apart from the nodes' (level, index) keys
        found = self._cache.get(key)
        if found is None:
            found = subtree_hash(self, start, end)  # reads its nodes through the cache
            if len(self._cache) >= self._limit:
                self._cache.clear()
            self._cache[key] = found
        return found

    def spelt(self, start: int, end: int) -> str:
        """The base64 of :meth:`subtree` ``(start, end)``, as a proof spells it; remembered too."""
        key = (start, end)
        found = self._spelt.get(key)
        if found is None:
            if len(self._spelt) >= self._limit:
                self._spelt.clear()
            found = self._spelt[key] = base64.b64encode(self.subtree(start, end)).decode()
        return found

    def __len__(self) -> int:
        """How many nodes are kept now."""
        return len(self._cache)
