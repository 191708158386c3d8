"""Conformance cases for step (10), the log proofs in ``timestamp_proofs`` (issue 16 §4)."""

from __future__ import annotations

import base64
import copy
from typing import Any

from issuer import tlog
from issuer.identifiers import PithNumber
from issuer.keys import SeedSigner
from tests.conformance.forge import (
    GOOD,
    K1,
    K2,
    NUMBER,
    OTHER,
    REC,
    TRUSTED_DOC,
    Json,
    resign,
    write,
)

ORIGIN = "registry.example"


def log_with(bundle: Json, *, before: int = 5, after: int = 2) -> list[bytes]:
    """A log holding ``bundle``'s leaves among others' (records of OTHER)."""
    other = str(PithNumber.for_record(OTHER))
    filler = [tlog.record_entry(other, f"{n:064x}") for n in range(before + after)]
    ours = tlog.bundle_entries(NUMBER, REC.canonical_sha256, bundle["events"])
    return filler[:before] + ours + filler[before:]


def with_proofs(
    bundle: Json,
    *,
    signer: SeedSigner = K1,
    origin: str = ORIGIN,
    entries: list[bytes] | None = None,
    note_origin: str | None = None,
) -> Json:
    """``bundle`` carrying an inclusion proof of each of its leaves, re-signed."""
    entries = log_with(bundle) if entries is None else entries
    tree = tlog.MemoryTree(tlog.leaf_hash(e) for e in entries)
    size = tree.size
    note = tlog.sign_checkpoint(note_origin or origin, size, tree.root(), signer).to_bytes()
    wanted = set(tlog.bundle_entries(NUMBER, REC.canonical_sha256, bundle["events"]))
    proofs = [
        tlog.inclusion_object(
            origin,
            i,
            tree_size=size,
            entry=e,
            proof=tlog.inclusion_proof(tree, i, size),
            checkpoint=note,
        )
        for i, e in enumerate(entries)
        if e in wanted
    ]
    return resign(bundle, timestamp_proofs=proofs)


def _edit(bundle: Json, index: int, **changes: Any) -> Json:
    proofs = copy.deepcopy(bundle["timestamp_proofs"])
    proofs[index].update(changes)
    return resign(bundle, timestamp_proofs=proofs)


def log_cases() -> None:
    """Step (10): proofs of the bundle's leaves in a checkpoint signed by a trusted key."""
    proven = with_proofs(GOOD)
    write(
        "log_proofs_valid",
        "test_key_issued carrying an inclusion proof (pith-tlog-inclusion-v1) of each of its "
        "three leaves (the record, record_created, graph_snapshot) in a 10-leaf log whose "
        "checkpoint the trusted key signed as the note key of origin registry.example.",
        proven,
        keys=TRUSTED_DOC,
    )
    flipped = list(proven["timestamp_proofs"][0]["proof"])
    raw = bytearray(base64.b64decode(flipped[0]))
    raw[0] ^= 1
    flipped[0] = base64.b64encode(bytes(raw)).decode()
    write(
        "log_inclusion_proof_wrong_fail",
        "log_proofs_valid with one bit of one proof hash flipped, the bundle re-signed.",
        _edit(proven, 0, proof=flipped),
        keys=TRUSTED_DOC,
        step="log",
        reason="bad_inclusion_proof",
    )
    write(
        "log_proof_of_another_leaf_fail",
        "log_proofs_valid whose record proof names, as its leaf, an event this bundle does "
        "not hold.",
        _edit(proven, 0, leaf="sha256:" + "ab" * 32),
        keys=TRUSTED_DOC,
        step="log",
        reason="log_entry_mismatch",
    )
    write(
        "log_proof_of_the_wrong_leaf_fail",
        "log_proofs_valid whose record proof is relabelled as the proof of its record_created "
        "event (a valid proof, of another leaf).",
        _edit(proven, 0, leaf=proven["timestamp_proofs"][1]["leaf"]),
        keys=TRUSTED_DOC,
        step="log",
        reason="bad_inclusion_proof",
    )
    write(
        "log_checkpoint_by_untrusted_key_fail",
        "test_key_issued with valid proofs in a checkpoint signed by a key the verifier does "
        "not trust (the bundle itself by the trusted key).",
        with_proofs(GOOD, signer=K2),
        keys=TRUSTED_DOC,
        step="log",
        reason="no_log_signature",
    )
    write(
        "log_checkpoint_of_another_origin_fail",
        "test_key_issued whose proofs name log registry.example but carry a checkpoint of "
        "log other.example (signed by the trusted key as that log).",
        with_proofs(GOOD, note_origin="other.example"),
        keys=TRUSTED_DOC,
        step="log",
        reason="origin_mismatch",
    )
