"""Transparency log primitives (issue 16): RFC 6962 trees and the C2SP formats.

- :mod:`._merkle`: leaf and node hashes, roots, inclusion and consistency
  proofs and their verification (RFC 6962, RFC 9162 §2.1).
- :mod:`._vkey`: note keys, ``name+keyid+base64(type || key)``.
- :mod:`._note`: C2SP signed notes (strict parsing, Ed25519 signatures).
- :mod:`._checkpoint`: C2SP tlog-checkpoint bodies.
- :mod:`._cosignature`: C2SP tlog-cosignature, type 0x04.
- :mod:`._policy`: a checkpoint trusted through a log key and N of M witnesses.
- :mod:`._tiles`: C2SP tlog-tiles paths and arithmetic, entry bundles.
- :mod:`._appender`: incremental appends that emit tiles.
- :mod:`._tilereader`: proofs computed from published tiles.
- :mod:`._log`, :mod:`._audit`: the registry's log (leaf entries, checkpoints,
  tiles, proofs in bundles) and its audit; :mod:`._inclusion`: proofs read at a
  verifier's pace.
- :mod:`._witness`, :mod:`._witness_state`, :mod:`._witness_server`: the C2SP
  tlog-witness ``add-checkpoint`` checks, the witness's saved state, its HTTP server.

The registry's use of all this (leaves at issuance, publication, proofs in
bundles, the witness server) is built on these names; see
docs/transparency-log.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from issuer.tlog._appender import Appender, TileSink
from issuer.tlog._checkpoint import MAX_TREE_SIZE, Checkpoint
from issuer.tlog._cosignature import (
    Cosignature,
    cosign,
    cosignatures,
    cosigned_message,
    verify_cosignature,
)
from issuer.tlog._inclusion import (
    InclusionFields,
    InclusionSpelled,
    inclusion_fields,
    inclusion_spelled,
)
from issuer.tlog._log import (
    PROOF_TYPE,
    CachedNodes,
    Inclusion,
    LogEntry,
    LogStore,
    StoredCheckpoint,
    bundle_entries,
    bundle_objects,
    decode_state,
    encode_state,
    event_entry,
    inclusion_object,
    inclusion_proofs,
    make_checkpoint,
    note_key,
    origin_of,
    parse_entry,
    parse_inclusion,
    record_entry,
    sign_checkpoint,
    write_tiles,
)
from issuer.tlog._merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    InclusionVerifier,
    MemoryTree,
    NodeReader,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
    verify_inclusions,
)
from issuer.tlog._note import (
    MAX_LINES,
    MAX_NOTE_SIZE,
    MAX_SIGNATURES,
    Note,
    NoteSignature,
    sign_note,
    verify_note,
)
from issuer.tlog._policy import (
    CheckpointPolicy,
    CheckpointReport,
    VerifiedCheckpoint,
    parse_keys,
    verify_checkpoint,
    verify_checkpoint_report,
)
from issuer.tlog._spelled import SpelledInclusions
from issuer.tlog._tilereader import TileFetcher, TileReader
from issuer.tlog._tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    EntryBundle,
    Tile,
    decode_bundle,
    encode_bundle,
    entry_bundles,
    index_path,
    new_tiles,
    parse_path,
    split_hashes,
    tile_of_node,
    tiles,
)
from issuer.tlog._vkey import (
    COSIGNATURE_ED25519,
    ED25519,
    NoteSigner,
    VerifierKey,
    is_valid_name,
    key_id,
)
from issuer.tlog._witness import (
    MAX_PROOF_LINES,
    MAX_REQUEST_SIZE,
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    Witness,
    WitnessResponse,
    parse_log_keys,
    refusal,
    respond,
)
from issuer.tlog._witness_client import (
    MAX_WITNESS_ANSWER,
    CosignerKey,
    WitnessKeys,
    add_cosignatures,
    ask_witness,
)
from issuer.tlog._witness_state import Cosigned, WitnessState

# Loaded when first used (PEP 562): the audit and the witness's HTTP server are not part
# of verifying a bundle, and the server's http.server brings ssl and email with it.
_LAZY = {
    "SEEN_CHECKPOINTS": "_audit",
    "AuditReport": "_audit",
    "SplitView": "_audit",
    "audit": "_audit",
    "load_seen": "_audit",
    "save_seen": "_audit",
    "WitnessServer": "_witness_server",
    "submit": "_witness_server",
}

if TYPE_CHECKING:
    from issuer.tlog._audit import (
        SEEN_CHECKPOINTS,
        AuditReport,
        SplitView,
        audit,
        load_seen,
        save_seen,
    )
    from issuer.tlog._witness_server import WitnessServer, submit


if not TYPE_CHECKING:  # mypy sees the imports above, and still catches a misspelt name

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:  # the lazy names too, before their first use (PEP 562)
        return sorted({*globals(), *_LAZY})


__all__ = [
    "COSIGNATURE_ED25519",
    "ED25519",
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_LINES",
    "MAX_NOTE_SIZE",
    "MAX_PROOF_LINES",
    "MAX_REQUEST_SIZE",
    "MAX_SIGNATURES",
    "MAX_TREE_SIZE",
    "MAX_WITNESS_ANSWER",
    "PROOF_TYPE",
    "SEEN_CHECKPOINTS",
    "SIZE_CONTENT_TYPE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "AddCheckpoint",
    "Appender",
    "AuditReport",
    "CachedNodes",
    "Checkpoint",
    "CheckpointPolicy",
    "CheckpointReport",
    "Cosignature",
    "Cosigned",
    "CosignerKey",
    "EntryBundle",
    "Inclusion",
    "InclusionFields",
    "InclusionSpelled",
    "InclusionVerifier",
    "LogEntry",
    "LogStore",
    "MemoryTree",
    "NodeReader",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "SpelledInclusions",
    "SplitView",
    "StoredCheckpoint",
    "Tile",
    "TileFetcher",
    "TileReader",
    "TileSink",
    "VerifiedCheckpoint",
    "VerifierKey",
    "Witness",
    "WitnessKeys",
    "WitnessResponse",
    "WitnessServer",
    "WitnessState",
    "add_cosignatures",
    "ask_witness",
    "audit",
    "bundle_entries",
    "bundle_objects",
    "consistency_proof",
    "cosign",
    "cosignatures",
    "cosigned_message",
    "decode_bundle",
    "decode_state",
    "encode_bundle",
    "encode_state",
    "entry_bundles",
    "event_entry",
    "inclusion_fields",
    "inclusion_object",
    "inclusion_proof",
    "inclusion_proofs",
    "inclusion_spelled",
    "index_path",
    "is_valid_name",
    "key_id",
    "leaf_hash",
    "load_seen",
    "make_checkpoint",
    "new_tiles",
    "node_hash",
    "note_key",
    "origin_of",
    "parse_entry",
    "parse_inclusion",
    "parse_keys",
    "parse_log_keys",
    "parse_path",
    "record_entry",
    "refusal",
    "respond",
    "root_from_inclusion_proof",
    "save_seen",
    "sign_checkpoint",
    "sign_note",
    "split_hashes",
    "submit",
    "subtree_hash",
    "tile_of_node",
    "tiles",
    "verify_checkpoint",
    "verify_checkpoint_report",
    "verify_consistency",
    "verify_cosignature",
    "verify_inclusion",
    "verify_inclusions",
    "verify_note",
    "write_tiles",
]
