"""Conformance cases for keys: validity windows, revocations, the trust builder's rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from issuer.keys import PublicKey, SeedSigner
from issuer.keys.keyset import KeySet
from tests.conformance.forge import (
    DAY,
    GOOD,
    K1,
    K2,
    K3,
    LATER,
    T0,
    Json,
    bundle,
    created,
    deleted,
    document,
    pub,
    resign,
    revocation,
    rotation,
    snapshot,
    trust,
    write,
)

ROTATES = T0 + 2 * DAY  # K1 → K2 in the rotation cases
LATE_ROTATION = T0 + 10 * DAY  # K1 → K2 after every test bundle was built


def rotation_cases() -> None:
    """Validity windows: signatures at or after a key's ``rotates_at`` do not count."""
    rotated = document(pub(K1, K2), [rotation(K1, K2, ROTATES)])
    keys = trust(rotated)
    after = ROTATES + DAY
    write(
        "rotated_key_continues",
        f"test-registry-1 rotated to test-registry-2 at {ROTATES:%Y-%m-%dT%H:%M:%SZ} "
        "(statement in keys.json, signed by both); receipt and events by test-registry-1 "
        "before, the bundle signed by test-registry-2 after.",
        bundle([created(), snapshot()], keys=keys, signer=K2),
        keys=rotated,
    )
    write(
        "event_signed_after_rotation_fail",
        "As rotated_key_continues, plus a graph snapshot by test-registry-1 whose signature "
        "is dated a day after the key rotated; the state lists it as invalid, honestly.",
        bundle([created(), snapshot(), snapshot(n="late", signed_at=after)], keys=keys, signer=K2),
        keys=rotated,
        step="events",
        reason="key_not_valid_at_signing_time",
        check=deleted(
            "the refusal of `invalid_events` in `_Run._events`, and the window "
            "`signed_at >= rotates` in `KeySet.require` (called from check_event)"
        ),
    )
    write(
        "receipt_signed_after_rotation_fail",
        "As rotated_key_continues, but the receipt (by test-registry-1) is dated a day "
        "after the key rotated; the record_created event itself is dated before.",
        bundle([created(at=after), snapshot()], keys=keys, signer=K2),
        keys=rotated,
        step="receipt",
        reason="key_not_valid_at_signing_time",
    )
    write(
        "signed_after_rotation_fail",
        "test_key_issued, with keys.json saying the key rotated a day before it signed.",
        GOOD,
        keys=document([K1.public_key.with_rotation(T0 - DAY)]),
        step="receipt",
        reason="key_not_valid_at_signing_time",
    )
    late = document(pub(K1, K2), [rotation(K1, K2, LATE_ROTATION)])
    write(
        "bundle_signed_at_rotation_fail",
        "test_key_issued; keys.json rotates test-registry-1 to test-registry-2 at "
        f"{LATE_ROTATION:%Y-%m-%dT%H:%M:%SZ}, and the bundle signature (its signed_at lies "
        "outside the bundle hash) is dated exactly then. Receipt and events are older.",
        resign(GOOD, at=LATE_ROTATION),
        keys=late,
        step="bundle_signature",
        reason="key_not_valid_at_signing_time",
        check=deleted(
            "step (9), the signed_at passed to `KeySet.require` in `_Run._signature`; "
            "also `signed_at >= rotates` in `KeySet.require` (with `>`, accepted too)"
        ),
    )
    write(
        "bundle_signed_just_before_rotation",
        "As bundle_signed_at_rotation_fail, signed one microsecond before the rotation: valid.",
        resign(GOOD, at=LATE_ROTATION - timedelta(microseconds=1)),
        keys=late,
    )


def revocation_cases() -> None:
    """Revoked keys: nothing they sign counts on its own say-so."""
    revoked = document(pub(K1, K2), revocations=[revocation(K2, K1)])
    keys = trust(revoked)
    write(
        "revoked_receipt_countersigned",
        "The receipt is by test-registry-2, revoked by test-registry-1 (keys.json); the "
        "record_created event carrying it is signed by test-registry-1, which vouches for it. "
        "Valid.",
        bundle([created(receipt_by=K2), snapshot()], keys=keys),
        keys=revoked,
    )
    write(
        "revoked_receipt_fail",
        "As revoked_receipt_countersigned, but the record_created event is signed by the "
        "revoked test-registry-2 too: nothing vouches for the receipt.",
        bundle([created(receipt_by=K2, event_by=K2), snapshot()], keys=keys),
        keys=revoked,
        step="receipt",
        reason="key_revoked",
        check=deleted(
            "step (6), `not self._countersigned(event, subject)` in `_Run._receipt`",
            "step (7) refused it instead (`events`), so the expected step no longer matched",
        ),
    )
    write(
        "event_by_revoked_key_fail",
        "test_key_issued plus a graph snapshot signed by the revoked test-registry-2; the "
        "state lists it as invalid, honestly.",
        bundle([created(), snapshot(), snapshot(K2, n="revoked")], keys=keys),
        keys=revoked,
        step="events",
        reason="key_revoked",
    )
    write(
        "bundle_by_revoked_key_fail",
        "test_key_issued (receipt and events by test-registry-1), with the bundle signature "
        "by test-registry-2, which test-registry-1 revoked.",
        resign(GOOD, K2),
        keys=revoked,
        step="bundle_signature",
        reason="key_revoked",
        check=deleted("the revocation check in `KeySet.require`"),
    )


def _trust_case(
    name: str,
    how: str,
    message: str,
    check: str,
    *,
    doc: Json | None = None,
    data: Json | None = None,
    **kw: Any,
) -> None:
    write(
        name,
        f"{'test_key_issued' if data is None else 'A bundle'}, with a key set that cannot be "
        f"trusted: {how}",
        GOOD if data is None else data,
        keys=doc,
        step="keys",
        reason="bad_key_statement",
        message=message,
        check=check,
        **kw,
    )


def trust_cases() -> None:
    """Each fail-closed rule of ``issuer/keys/_trust.py``: the whole key set is refused."""
    r1, r2 = T0 + 30 * DAY, T0 + 60 * DAY
    twin = PublicKey(K1.key_id, K2.public_key.raw)
    _trust_case(
        "trust_two_keys_one_id_fail",
        "keys/ holds two files that both call a key test-registry-1, with different keys.",
        "two different keys are both called test-registry-1",
        deleted(
            "`known.raw != key.raw` in `_Builder.admit`",
            "the first record was kept and the bundle was accepted",
        ),
        key_files={"a.json": document(pub(K1)), "b.json": document([twin])},
    )
    alias = SeedSigner("test-registry-1-alias", bytes([1]) * 32)
    _trust_case(
        "trust_key_under_another_id_fail",
        "a rotation from test-registry-1's key, named test-registry-1-alias, to test-registry-3.",
        "a statement calls the trusted key",
        deleted("the fingerprint search in `_Builder.trusted`", "the statement was ignored"),
        doc=document(pub(K1), [rotation(alias, K3, r1)]),
    )
    _trust_case(
        "trust_one_key_two_ids_fail",
        "keys.json lists test-registry-2's key also as test-registry-2-alias, and revokes "
        "test-registry-2 (signed by test-registry-1); the revocation names one id only.",
        "is called both",
        deleted(
            "the search for the key under another id in `_Builder.admit`",
            "the key set was accepted, with test-registry-2-alias unrevoked",
        ),
        doc=document(
            [*pub(K1, K2), PublicKey("test-registry-2-alias", K2.public_key.raw)],
            revocations=[revocation(K2, K1)],
        ),
    )
    _trust_case(
        "trust_rotated_into_twice_fail",
        "test-registry-1 and test-registry-2 (both trusted) each rotate into test-registry-3.",
        "is rotated into from two different keys",
        deleted("`self.predecessor(new.raw) is not None` in `_Builder.check`"),
        doc=document(pub(K1, K2), [rotation(K1, K3, r1), rotation(K2, K3, r1)]),
    )
    _trust_case(
        "trust_forked_rotation_fail",
        "test-registry-1 rotates both to test-registry-2 and to test-registry-3.",
        "different rotation statements",
        deleted("`len(group) > 1` in `_Builder.follow`"),
        doc=document(pub(K1), [rotation(K1, K2, r1), rotation(K1, K3, r1)]),
    )
    _trust_case(
        "trust_cycle_fail",
        "test-registry-1 → 2 → 3 → 1, each with both signatures and increasing times.",
        "closes a cycle",
        deleted(
            "the cycle walk in `_Builder.check`",
            "the time rule refused it instead (a cycle always breaks it too), so only the "
            "`message` file tells the two apart",
        ),
        doc=document(
            pub(K1),
            [rotation(K1, K2, r1), rotation(K2, K3, r2), rotation(K3, K1, r2 + 30 * DAY)],
        ),
    )
    _trust_case(
        "trust_times_decrease_fail",
        "test-registry-1 → 2 at day 60, then 2 → 3 at day 30.",
        "rotation times must increase",
        deleted("`before.rotates_at >= rotation.rotates_at` in `_Builder.check`"),
        doc=document(pub(K1), [rotation(K1, K2, r2), rotation(K2, K3, r1)]),
    )
    _trust_case(
        "trust_times_equal_fail",
        "test-registry-1 → 2 and 2 → 3 at the same time.",
        "rotation times must increase",
        deleted("`before.rotates_at >= ...` (with `>`)"),
        doc=document(pub(K1), [rotation(K1, K2, r1), rotation(K2, K3, r1)]),
    )
    _trust_case(
        "trust_times_equal_reverse_order_fail",
        "test-registry-2 → 3 listed first (both trusted), then 1 → 2 at the same time.",
        "rotation times must increase",
        deleted("`after.rotates_at <= rotation.rotates_at` (with `<`)"),
        doc=document(pub(K1, K2), [rotation(K2, K3, r1), rotation(K1, K2, r1)]),
    )
    _trust_case(
        "trust_rotation_without_new_signature_fail",
        "a rotation from test-registry-1 to test-registry-2 signed only by test-registry-1.",
        "a rotation needs both keys",
        deleted("the signature loop in `_Builder.check`"),
        doc=document(pub(K1), [rotation(K1, K2, r1, drop=K2.key_id)]),
    )
    _trust_case(
        "trust_rotation_without_old_signature_fail",
        "a rotation from test-registry-1 to test-registry-2 signed only by test-registry-2.",
        "a rotation needs both keys",
        deleted("the signature loop in `_Builder.check`"),
        doc=document(pub(K1), [rotation(K1, K2, r1, drop=K1.key_id)]),
    )
    _trust_case(
        "trust_revocation_by_untrusted_key_fail",
        "a revocation of test-registry-2 (trusted) signed by test-registry-3 (not trusted).",
        "is not signed by another trusted key",
        deleted("the signature search in `_Builder.revocations`"),
        doc=document(pub(K1, K2), revocations=[revocation(K2, K3)]),
    )
    _trust_case(
        "trust_revocation_self_signed_fail",
        "a revocation of test-registry-2 signed only by test-registry-2 itself.",
        "is not signed by another trusted key",
        deleted("`k.raw != rv.key.raw` in `_Builder.revocations`"),
        doc=document(pub(K1, K2), revocations=[revocation(K2, K2)]),
    )
    handover = LATER + DAY  # after the test bundle was signed by test-registry-1
    _trust_case(
        "trust_revocation_by_retired_key_fail",
        f"test-registry-1 rotates to test-registry-2 at {handover:%Y-%m-%dT%H:%M:%SZ}, then "
        "signs a revocation of test-registry-2 a day later: a retired key (its thief, say) "
        "revoking the key it handed over to.",
        "a retired key cannot revoke",
        deleted(
            "the window `rv.issued_at <= k.rotates` in `_Builder.revocations`",
            "the key set was accepted, with test-registry-2 revoked by its predecessor",
        ),
        doc=document(
            pub(K1),
            [rotation(K1, K2, handover)],
            revocations=[revocation(K2, K1, issued_at=handover + DAY)],
        ),
    )
    thief = [created(receipt_by=K3, event_by=K3), snapshot(K3)]
    _trust_case(
        "trust_rotation_out_of_revoked_key_fail",
        "test-registry-2 revokes test-registry-1 (compromised); a rotation from test-registry-1 "
        "to test-registry-3, signed by both and dated before the compromise, is not vouched "
        "for by test-registry-2. The bundle is all by test-registry-3.",
        "rests on the revoked key's word alone",
        deleted(
            "the chain check (`outside`) in `_Builder.revocations`",
            "the key set was accepted and the bundle by test-registry-3 verified",
        ),
        data=bundle(thief, keys=KeySet([K3.public_key]), signer=K3),
        doc=document(
            pub(K1, K2),
            [rotation(K1, K3, T0 - 2 * DAY)],
            revocations=[revocation(K1, K2)],
        ),
    )
