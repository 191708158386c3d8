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

The registry's use of all this (leaves at issuance, publication, proofs in
bundles, the witness server) is built on these names; see
docs/transparency-log.md.
"""

from __future__ import annotations

from issuer.tlog._appender import Appender, TileSink
from issuer.tlog._checkpoint import MAX_TREE_SIZE, Checkpoint
from issuer.tlog._cosignature import (
    Cosignature,
    cosign,
    cosignatures,
    cosigned_message,
    verify_cosignature,
)
from issuer.tlog._merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
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
from issuer.tlog._vkey import COSIGNATURE_ED25519, ED25519, NoteSigner, VerifierKey, key_id

__all__ = [
    "COSIGNATURE_ED25519",
    "ED25519",
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_LINES",
    "MAX_NOTE_SIZE",
    "MAX_SIGNATURES",
    "MAX_TREE_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Appender",
    "Checkpoint",
    "CheckpointPolicy",
    "CheckpointReport",
    "Cosignature",
    "EntryBundle",
    "MemoryTree",
    "NodeReader",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "Tile",
    "TileFetcher",
    "TileReader",
    "TileSink",
    "VerifiedCheckpoint",
    "VerifierKey",
    "consistency_proof",
    "cosign",
    "cosignatures",
    "cosigned_message",
    "decode_bundle",
    "encode_bundle",
    "entry_bundles",
    "inclusion_proof",
    "index_path",
    "key_id",
    "leaf_hash",
    "new_tiles",
    "node_hash",
    "parse_keys",
    "parse_path",
    "root_from_inclusion_proof",
    "sign_note",
    "split_hashes",
    "subtree_hash",
    "tile_of_node",
    "tiles",
    "verify_checkpoint",
    "verify_checkpoint_report",
    "verify_consistency",
    "verify_cosignature",
    "verify_inclusion",
    "verify_note",
]
