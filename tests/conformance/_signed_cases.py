"""Conformance cases for steps (6), (7) and (9): receipts, events, the bundle signature."""

from __future__ import annotations

import copy

from issuer.receipts import sign_receipt
from tests import factory
from tests.conformance import forge
from tests.conformance.forge import (
    GOOD,
    K1,
    K2,
    OTHER,
    T0,
    TRUSTED_DOC,
    Json,
    bundle,
    created,
    deleted,
    resign,
    snapshot,
    write,
)


def receipt_cases() -> None:
    """Step (6): the receipt of record_created, under an otherwise valid event."""
    write(
        "receipt_over_wrong_digest_fail",
        "The receipt claims this record's canonical_sha256 but its signature is over "
        "another record's digest; event and bundle are signed properly.",
        bundle(
            [
                created(
                    signature_b64=sign_receipt(OTHER.canonical_sha256, K1, T0)["signature_b64"]
                ),
                snapshot(),
            ]
        ),
        keys=TRUSTED_DOC,
        step="receipt",
        reason="bad_receipt_signature",
    )
    other = sign_receipt(OTHER.canonical_sha256, K1, T0)
    write(
        "receipt_of_another_record_fail",
        "A genuine receipt of another record inside this record's record_created event "
        "(event and bundle signed properly).",
        bundle([created(**other), snapshot()]),
        keys=TRUSTED_DOC,
        step="receipt",
        reason="receipt_digest_mismatch",
    )
    write(
        "receipt_malformed_fail",
        "A receipt whose kind is `pith_stamp`; event and bundle signed properly.",
        bundle([created(kind="pith_stamp"), snapshot()]),
        keys=TRUSTED_DOC,
        step="receipt",
        reason="malformed_receipt",
    )
    write(
        "receipt_by_unknown_key_fail",
        "The receipt is signed by test-registry-2, which the verifier does not trust; the "
        "record_created event carrying it is signed by the trusted test-registry-1, and so "
        "is the bundle. The merge lists the event as invalid, honestly.",
        bundle([created(receipt_by=K2), snapshot()]),
        keys=TRUSTED_DOC,
        step="receipt",
        reason="unknown_key",
        check=deleted(
            "step (6), `verify_receipt` in `_Run._receipt`",
            "step (7) refused it instead (`events`), so the expected step no longer matched",
        ),
    )
    write(
        "receipt_fingerprint_mismatch_fail",
        "A receipt naming test-registry-1 with test-registry-2's fingerprint; event and "
        "bundle signed properly.",
        bundle([created(public_key_fingerprint=K2.public_key.fingerprint), snapshot()]),
        keys=TRUSTED_DOC,
        step="receipt",
        reason="fingerprint_mismatch",
    )
    write(
        "missing_record_created_fail",
        "A bundle with only a graph snapshot: no record_created event, so no receipt. "
        "The state follows from its events and everything is signed.",
        bundle([snapshot()]),
        keys=TRUSTED_DOC,
        step="receipt",
        reason="missing_record_created",
        check=deleted("step (6), the `if not created` refusal in `_Run._receipt`"),
    )


def event_cases() -> None:
    """Step (7): one invalid event, honestly listed in an otherwise valid state."""
    base = created()
    sig = snapshot(n="sig")
    sig["signature"] = {**sig["signature"], "signature_b64": forge.signature_over(K1, "other")}
    changed = snapshot(n="changed")
    changed["payload"] = {"graph_snapshot": {"n": "swapped"}, "verdict_id": None}
    renamed = snapshot(n="renamed")
    renamed["event_id"] = "sha256:" + "e" * 64
    fingerprint = snapshot(n="fp")
    fingerprint["signature"] = {
        **fingerprint["signature"],
        "public_key_fingerprint": K2.public_key.fingerprint,
    }
    malformed = {**snapshot(n="malformed"), "comment": "x"}
    x, y = snapshot(n="x"), snapshot(n="y")
    rows: list[tuple[str, str, list[Json], str]] = [
        ("malformed", "an event with an extra field `comment`", [malformed], "malformed"),
        ("content_hash", "a graph snapshot whose payload was swapped after signing", [changed],
         "content_hash_mismatch"),
        ("event_id", "a graph snapshot whose event_id is not sha256:<content_sha256>",
         [renamed], "event_id_mismatch"),
        ("bad_signature", "a graph snapshot whose signature (by the trusted key) is over "
         "other bytes", [sig], "bad_signature"),
        ("wrong_subject", "a graph snapshot about another record",
         [factory.event(OTHER, K1)], "wrong_subject"),
        ("unknown_type", "an event of type `vote`, hashed and signed",
         [forge.signed_content({"event_type": "vote"})], "unknown_type"),
        ("wrong_target", "a graph snapshot targeting `author`, hashed and signed",
         [forge.signed_content({"target": "author"})], "wrong_target"),
        ("invalid_payload", "a graph snapshot without verdict_id, hashed and signed",
         [forge.signed_content({"payload": {"graph_snapshot": {}}})], "invalid_payload"),
        ("missing_prev", "a graph snapshot whose prev_event is not in the bundle",
         [snapshot(n="m", prev="sha256:" + "ab" * 32)], "missing_prev_event"),
        ("prev_other_chain", "a graph snapshot chained onto the record_created event",
         [snapshot(n="o", prev=base["event_id"])], "prev_event_other_chain"),
        ("prev_not_applied", "two equivocating snapshots and a third built on one of them",
         [x, y, snapshot(n="z", prev=x["event_id"])], "prev_event_not_applied"),
        ("unknown_superseded", "a graph snapshot superseding an event not in the bundle",
         [snapshot(n="s", supersedes=("sha256:" + "cd" * 32,))], "unknown_superseded_event"),
        ("unknown_key", "a graph snapshot signed by test-registry-2, not trusted",
         [snapshot(K2)], "unknown_key"),
        ("signer_unknown_key", "a graph snapshot signed by test-registry-1 whose signer "
         "object names test-registry-2", [forge.signed_content(
             {"signer": K2.public_key.signer_dict()})], "unknown_key"),
        ("fingerprint", "a graph snapshot whose signature names test-registry-1 with "
         "test-registry-2's fingerprint", [fingerprint], "fingerprint_mismatch"),
    ]  # fmt: skip
    for slug, what, extra, reason in rows:
        write(
            f"event_{slug}_fail",
            f"test_key_issued plus {what}. The merge lists it in invalid_events, the state is "
            "hashed and the bundle signed by the trusted key: a consistent bundle with an "
            "invalid event.",
            bundle([base, snapshot(), *extra]),
            keys=TRUSTED_DOC,
            step="events",
            reason=reason,
            check=deleted("step (7), the refusal of any `invalid_events` entry in `_Run._events`"),
        )


def signature_cases() -> None:
    """Step (9): the bundle hash and signature."""
    forged = copy.deepcopy(GOOD)
    forged["bundle_signature"]["signature_b64"] = forge.signature_over(K1, "another bundle")
    write(
        "bad_bundle_signature_fail",
        "test_key_issued with a genuine signature by the trusted key over other bytes; "
        "bundle_sha256 is the correct hash of the bundle.",
        forged,
        keys=TRUSTED_DOC,
        step="bundle_signature",
        reason="bad_bundle_signature",
        check=deleted("step (9), `verify(key.raw, digest, signature)` in `_Run._signature`"),
    )
    claimed = copy.deepcopy(GOOD)
    claimed["bundle_signature"]["bundle_sha256"] = "0" * 64
    write(
        "bundle_sha256_wrong_fail",
        "test_key_issued whose bundle_sha256 field is wrong while the signature is over the "
        "bundle's true hash.",
        claimed,
        keys=TRUSTED_DOC,
        step="bundle_signature",
        reason="bundle_sha256_mismatch",
        check=deleted("step (9), `sig['bundle_sha256'] != digest.hex()`"),
    )
    fp = copy.deepcopy(GOOD)
    fp["bundle_signature"]["public_key_fingerprint"] = K2.public_key.fingerprint
    write(
        "bundle_fingerprint_mismatch_fail",
        "test_key_issued whose bundle signature names test-registry-1 with test-registry-2's "
        "fingerprint.",
        fp,
        keys=TRUSTED_DOC,
        step="bundle_signature",
        reason="fingerprint_mismatch",
    )
    extra = copy.deepcopy(GOOD)
    extra["bundle_signature"]["comment"] = "x"
    write(
        "bundle_signature_field_fail",
        "test_key_issued with an extra field in bundle_signature (outside the bundle hash).",
        extra,
        keys=TRUSTED_DOC,
        step="bundle_signature",
        reason="malformed",
    )
    write(
        "state_sha256_wrong_fail",
        "test_key_issued with state_sha256 replaced, re-signed.",
        resign(GOOD, state={**GOOD["state"], "state_sha256": "0" * 64}),
        keys=TRUSTED_DOC,
        step="state",
        reason="state_sha256_mismatch",
        check=deleted(
            "step (8), `claimed != self._sha256(unhashed)`",
            "`ours != state` refused it as state_mismatch instead",
        ),
    )
