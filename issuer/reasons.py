"""Stable reason codes for everything that does not verify or merge (a StrEnum).

These strings are part of the toolkit's interface: ``pith verify --json``
prints them, the merge lists them in ``invalid_events``, and scripts match on
them. They never change meaning; new ones are added at the end of a group.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why something failed verification or was not applied by the merge."""

    # Documents
    MALFORMED = "malformed"
    # Record and identifiers
    CANONICAL_SHA256_MISMATCH = "canonical_sha256_mismatch"
    PITH_NUMBER_MISMATCH = "pith_number_mismatch"
    SHORT_PITH_NUMBER_MISMATCH = "short_pith_number_mismatch"
    SOURCE_MISMATCH = "source_mismatch"
    ALIAS_MISMATCH = "alias_mismatch"
    WRONG_RECORD = "wrong_record"  # a valid bundle, but not of the record its URL names
    # Keys
    UNKNOWN_KEY = "unknown_key"
    FINGERPRINT_MISMATCH = "fingerprint_mismatch"
    KEY_NOT_VALID = "key_not_valid_at_signing_time"
    UNTRUSTED_KEY_HINT = "conflicting_key_hint"
    KEY_REVOKED = "key_revoked"
    BAD_KEY_STATEMENT = "bad_key_statement"  # a rotation or revocation that cannot be trusted
    KEY_ROLLBACK = "key_rollback"  # an older key set than one this verifier has seen
    # Receipts
    MALFORMED_RECEIPT = "malformed_receipt"
    RECEIPT_DIGEST_MISMATCH = "receipt_digest_mismatch"
    BAD_RECEIPT_SIGNATURE = "bad_receipt_signature"
    MISSING_RECORD_CREATED = "missing_record_created"
    # Events and merge
    CONTENT_HASH_MISMATCH = "content_hash_mismatch"
    EVENT_ID_MISMATCH = "event_id_mismatch"
    BAD_SIGNATURE = "bad_signature"
    WRONG_SUBJECT = "wrong_subject"
    UNKNOWN_TYPE = "unknown_type"
    WRONG_TARGET = "wrong_target"
    INVALID_PAYLOAD = "invalid_payload"
    MISSING_PREV_EVENT = "missing_prev_event"
    PREV_EVENT_OTHER_CHAIN = "prev_event_other_chain"
    PREV_EVENT_NOT_APPLIED = "prev_event_not_applied"
    UNKNOWN_SUPERSEDED_EVENT = "unknown_superseded_event"
    EQUIVOCATION = "equivocation"
    INVALID_EVENT = "invalid_event"
    # State and bundle
    STATE_MISMATCH = "state_mismatch"
    STATE_SHA256_MISMATCH = "state_sha256_mismatch"
    BUNDLE_SHA256_MISMATCH = "bundle_sha256_mismatch"
    BAD_BUNDLE_SIGNATURE = "bad_bundle_signature"
    # Fetching and mirrors
    UNREADABLE = "unreadable"
    MIRRORS_DISAGREE = "mirrors_disagree"
    # Transparency log (issue 16): proofs, signed notes, checkpoints, cosignatures
    BAD_INCLUSION_PROOF = "bad_inclusion_proof"
    BAD_CONSISTENCY_PROOF = "bad_consistency_proof"
    BAD_NOTE_SIGNATURE = "bad_note_signature"  # a signature by a known key that does not verify
    NO_LOG_SIGNATURE = "no_log_signature"  # no signature by the log's key on the checkpoint
    ORIGIN_MISMATCH = "origin_mismatch"  # a checkpoint of another log
    BAD_COSIGNATURE = "bad_cosignature"  # a witness cosignature that does not verify
    WITNESS_THRESHOLD = "witness_threshold_not_met"
    # Witness (issue 16 §5): why a witness refuses to cosign a checkpoint
    UNKNOWN_LOG = "unknown_log"  # a checkpoint of an origin this witness does not witness
    OLD_SIZE_MISMATCH = "old_size_mismatch"  # the client's old size is not the last cosigned
    SPLIT_VIEW = "split_view"  # the size already cosigned, with another root hash
    LOG_ROLLBACK = "log_rollback"  # a smaller tree than the one already cosigned
    # Registry log proofs in bundles (issue 16 §4)
    LOG_ENTRY_MISMATCH = "log_entry_mismatch"  # a proof of a leaf the bundle does not imply
    MISSING_LOG_PROOF = "missing_log_proof"  # --require-log, and a leaf of the bundle has no proof
