"""Key rotation, revocation and re-issuance as a table of scenarios (spec §10).

In the manner of TUF's root-rotation case table: each row is a key history
(the statements a verifier is handed, and the ones it saw before), some
bundles signed at given times by given keys, and the outcome a verifier
pinned to the first key must reach: every bundle valid, or the first
refusal's reason.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer import registry
from issuer.bundles import build_bundle
from issuer.errors import VerificationError
from issuer.keys import SeedSigner
from issuer.keys._seen import Seen, check_rollback
from issuer.keys._statements import pae, parse_statement, sign_revocation, sign_rotation
from issuer.keys.keyset import KeySet, Material
from issuer.pipeline import Issuer
from issuer.reasons import Reason
from issuer.reissue import reissue
from issuer.store import open_store
from issuer.verify import verify_bundle
from tests import factory

T0 = factory.T0
R1, R2, R3 = (T0 + timedelta(days=30 * n) for n in (1, 2, 3))
DAY = timedelta(days=1)
K1, K2, K3, K4 = (factory.signer(n) for n in (1, 2, 3, 4))
ALL = (K1, K2, K3, K4)

Envelope = dict[str, Any]


def rotation(old: SeedSigner, new: SeedSigner, at: datetime, *, drop: str = "") -> Envelope:
    """A rotation statement; ``drop`` removes the signature of that key id."""
    envelope = sign_rotation(old, new, rotates_at=at, issued_at=at - DAY)
    envelope["signatures"] = [s for s in envelope["signatures"] if s["keyid"] != drop]
    return envelope


def revocation(
    key: SeedSigner, by: SeedSigner, since: datetime = T0, issued: datetime = R1 + DAY
) -> Envelope:
    return sign_revocation(
        key.public_key, by, compromised_since=since, reason="key file leaked", issued_at=issued
    )


def also_signed_by(envelope: Envelope, key: SeedSigner) -> Envelope:
    """``envelope`` with a signature by ``key`` added (DSSE signatures are not signed)."""
    message = pae(envelope["payloadType"], base64.b64decode(envelope["payload"]))
    sig = {"keyid": key.key_id, "sig": base64.b64encode(key.sign(message)).decode()}
    return {**envelope, "signatures": [*envelope["signatures"], sig]}


def resigned_by(envelope: Envelope, key: SeedSigner) -> Envelope:
    """``envelope`` with its signatures replaced by one of ``key`` (which the library refuses
    to make for a revocation of ``key`` itself)."""
    message = pae(envelope["payloadType"], base64.b64decode(envelope["payload"]))
    sig = base64.b64encode(key.sign(message)).decode()
    return {**envelope, "signatures": [{"keyid": key.key_id, "sig": sig}]}


def signed(key: SeedSigner, at: datetime, n: int = 1) -> dict[str, Any]:
    """A bundle whose receipt, events and bundle signature are all by ``key`` at ``at``."""
    rec = factory.record(n)
    events = [factory.record_created(rec, key, at), factory.event(rec, key, at=at)]
    return build_bundle(
        rec,
        factory.aliases(rec),
        events,
        KeySet([key.public_key]),
        key,
        built_at=at,
        base_url=factory.BASE_URL,
    )


def reissued_registry(tmp_path: Path) -> list[dict[str, Any]]:
    """Issue three records with K1 at T0, then re-sign them all with K2 and rebuild bundles."""
    (tmp_path / "in.jsonl").write_bytes(b"".join(factory.snapshot_line(n) for n in range(3)))
    trust = trust_from([rotation(K1, K2, R1), revocation(K1, K2)])
    with open_store(tmp_path / "registry.sqlite3") as store:
        Issuer(store, K1, lambda: T0, workers=1).run([str(tmp_path / "in.jsonl")])
        before = [
            registry.bundle(store, r.pith_number, K1, T0, factory.BASE_URL) for r in store.records()
        ]
        for bundle in before:  # the compromise voids everything K1 signed
            with pytest.raises(VerificationError) as refused:
                verify_bundle(bundle, trust)
            assert refused.value.reason == Reason.KEY_REVOKED
        summary = reissue(store, K2, now=R1 + DAY)
        assert (summary.receipts, summary.events) == (3, 3)
        return [
            registry.bundle(store, r.pith_number, K2, R1 + DAY, factory.BASE_URL, extra=trust)
            for r in store.records()
        ]


def trust_from(
    statements: list[Envelope],
    root: SeedSigner | None = K1,
    given: tuple[SeedSigner, ...] = ALL,
) -> KeySet:
    """What a verifier pinned to ``root`` (None: trusting every key ``given``) makes of the
    statements."""
    material = Material([k.public_key for k in given], [parse_statement(s) for s in statements])
    return KeySet.trusting(material, None if root is None else material.find(root.key_id))


@dataclass
class Scenario:
    name: str
    statements: list[Envelope]
    bundles: Callable[[Path], list[dict[str, Any]]]
    expect: str | None = None  # None: every bundle verifies; else the reason of the refusal
    seen_before: list[Envelope] = field(default_factory=list)
    root: SeedSigner | None = K1
    given: tuple[SeedSigner, ...] = ALL  # the key records the verifier is handed


SCENARIOS = [
    Scenario(
        "scheduled rotation: old signatures before rotates_at and new ones both count",
        [rotation(K1, K2, R1)],
        lambda _: [signed(K1, T0), signed(K2, R1 + DAY)],
    ),
    Scenario(
        "rotation missing the new key's signature",
        [rotation(K1, K2, R1, drop=K2.key_id)],
        lambda _: [signed(K1, T0)],
        Reason.BAD_KEY_STATEMENT,
    ),
    Scenario(
        "rotation missing the old key's signature",
        [rotation(K1, K2, R1, drop=K1.key_id)],
        lambda _: [signed(K2, R1 + DAY)],
        Reason.BAD_KEY_STATEMENT,
    ),
    Scenario(
        "a signature by the old key after rotates_at",
        [rotation(K1, K2, R1)],
        lambda _: [signed(K1, R1 + DAY)],
        Reason.KEY_NOT_VALID,
    ),
    Scenario(
        "a signature by the old key at exactly rotates_at",
        [rotation(K1, K2, R1)],
        lambda _: [signed(K1, R1)],
        Reason.KEY_NOT_VALID,
    ),
    Scenario(
        "compromise: the revoked key's signatures fail whatever time they claim",
        [rotation(K1, K2, R1), revocation(K1, K2)],
        lambda _: [signed(K1, T0 - DAY)],
        Reason.KEY_REVOKED,
    ),
    Scenario(
        "compromise then reissue: every bundle verifies without the compromised key",
        [rotation(K1, K2, R1), revocation(K1, K2)],
        reissued_registry,
    ),
    Scenario(
        "compromise: a revocation signed only by the revoked key",
        [rotation(K1, K2, R1), resigned_by(revocation(K1, K2), K1)],
        lambda _: [signed(K2, R1 + DAY)],
        Reason.BAD_KEY_STATEMENT,
    ),
    Scenario(
        "compromise: a revocation signed by a key outside the chain",
        [rotation(K1, K2, R1), revocation(K1, K3)],
        lambda _: [signed(K2, R1 + DAY)],
        Reason.BAD_KEY_STATEMENT,
    ),
    Scenario(
        "revocation also holds for a verifier trusting every listed key outright",
        [revocation(K1, K2)],
        lambda _: [signed(K1, T0)],
        Reason.KEY_REVOKED,
        root=None,
    ),
    Scenario(
        "rollback to a key set older than one seen",
        [],
        lambda _: [signed(K1, T0)],
        Reason.KEY_ROLLBACK,
        seen_before=[rotation(K1, K2, R1)],
    ),
    Scenario(
        "rollback to a key set without a revocation seen before",
        [rotation(K1, K2, R1)],
        lambda _: [signed(K1, T0)],
        Reason.KEY_ROLLBACK,
        seen_before=[rotation(K1, K2, R1), revocation(K1, K2)],
    ),
    Scenario(
        "the same history seen again is not a rollback",
        [rotation(K1, K2, R1)],
        lambda _: [signed(K2, R1 + DAY)],
        seen_before=[rotation(K1, K2, R1)],
    ),
    Scenario(
        "fork: the old key rotates to two keys",
        [rotation(K1, K2, R1), rotation(K1, K3, R1)],
        lambda _: [signed(K2, R1 + DAY)],
        Reason.BAD_KEY_STATEMENT,
    ),
    Scenario(
        "fork against the history seen before",
        [rotation(K1, K3, R1)],
        lambda _: [signed(K3, R1 + DAY)],
        Reason.KEY_ROLLBACK,
        seen_before=[rotation(K1, K2, R1)],
    ),
    Scenario(
        "a chain of three rotations followed from the first key",
        [rotation(K3, K4, R3), rotation(K1, K2, R1), rotation(K2, K3, R2)],  # any order
        lambda _: [
            signed(K1, T0, 1),
            signed(K2, R1 + DAY, 2),
            signed(K3, R2 + DAY, 3),
            signed(K4, R3 + DAY, 4),
        ],
    ),
    Scenario(
        "a chain of three rotations: a middle key after its rotation",
        [rotation(K1, K2, R1), rotation(K2, K3, R2), rotation(K3, K4, R3)],
        lambda _: [signed(K4, R3 + DAY), signed(K2, R2 + DAY)],
        Reason.KEY_NOT_VALID,
    ),
    Scenario(
        "a rotation that does not start from a trusted key leads nowhere",
        [rotation(K2, K3, R2)],
        lambda _: [signed(K3, R2 + DAY)],
        Reason.UNKNOWN_KEY,
    ),
    Scenario(
        "rotation times that go backwards along the chain",
        [rotation(K1, K2, R2), rotation(K2, K3, R1)],
        lambda _: [signed(K1, T0)],
        Reason.BAD_KEY_STATEMENT,
    ),
    Scenario(
        "a rotation back into the chain (a cycle)",
        [rotation(K1, K2, R1), rotation(K2, K1, R2)],
        lambda _: [signed(K1, T0)],
        Reason.BAD_KEY_STATEMENT,
    ),
    # A rotation out of a revoked key (spec §10: nothing the compromised key signed counts
    # on its own say-so; the times a rotation claims are its signers' word, so they cannot
    # tell a rotation made before the compromise from the thief's, backdated).
    Scenario(
        "revoked key: its rotation made before the compromise, revoked by the new key",
        [rotation(K1, K2, R1), revocation(K1, K2, since=R2, issued=R2 + DAY)],
        lambda _: [signed(K2, R1 + DAY)],
    ),
    Scenario(
        "revoked key: rotated away after the compromise, then revoked by the new key (recovery)",
        [rotation(K1, K2, R1), revocation(K1, K2, since=T0)],
        lambda _: [signed(K2, R1 + DAY)],
    ),
    Scenario(
        "revoked key: the thief's second rotation forks from the genuine one",
        [rotation(K1, K2, R1), revocation(K1, K2, since=R2, issued=R2 + DAY), rotation(K1, K3, R1)],
        lambda _: [signed(K2, R1 + DAY)],
        Reason.BAD_KEY_STATEMENT,
    ),
    Scenario(
        "revoked key: a rotation after the compromise, revoked by a key outside its chain",
        [revocation(K1, K2, since=T0), rotation(K1, K3, R1)],
        lambda _: [signed(K3, R1 + DAY)],
        Reason.BAD_KEY_STATEMENT,
        root=None,
        given=(K1, K2),
    ),
    Scenario(
        "revoked key: a rotation claiming to predate the compromise, revoked from outside",
        [revocation(K1, K2, since=R2, issued=R2 + DAY), rotation(K1, K3, R1)],
        lambda _: [signed(K3, R1 + DAY)],
        Reason.BAD_KEY_STATEMENT,
        root=None,
        given=(K1, K2),
    ),
    Scenario(
        "revoked key: the new key's signature added to an outside revocation does not help",
        [also_signed_by(revocation(K1, K2), K3), rotation(K1, K3, R1)],
        lambda _: [signed(K3, R1 + DAY)],
        Reason.BAD_KEY_STATEMENT,
        root=None,
        given=(K1, K2),
    ),
    Scenario(
        "revoked key without a rotation, revoked by a key outside its chain",
        [revocation(K1, K2)],
        lambda _: [signed(K2, R1)],
        root=None,
        given=(K1, K2),
    ),
    # Who may revoke (spec §10: a signature by K counts only before K's rotates_at).
    Scenario(
        "a retired key cannot revoke the key it rotated to",
        [rotation(K1, K2, R1), revocation(K2, K1, issued=R1 + DAY)],
        lambda _: [signed(K2, R1 + DAY)],
        Reason.BAD_KEY_STATEMENT,
    ),
    Scenario(
        "a revocation signed in the second its signer rotates away still counts",
        [rotation(K1, K2, R1), rotation(K2, K3, R2), revocation(K1, K2, issued=R2)],
        lambda _: [signed(K1, T0)],
        Reason.KEY_REVOKED,
    ),
    Scenario(
        "a retired key cannot revoke the current key further down the chain",
        [rotation(K1, K2, R1), rotation(K2, K3, R2), revocation(K3, K2, issued=R2 + DAY)],
        lambda _: [signed(K3, R2 + DAY)],
        Reason.BAD_KEY_STATEMENT,
    ),
    Scenario(
        "a retired key's revocation is not rescued by a signature of an untrusted key",
        [rotation(K1, K2, R1), also_signed_by(revocation(K2, K1, issued=R1 + DAY), K3)],
        lambda _: [signed(K2, R1 + DAY)],
        Reason.BAD_KEY_STATEMENT,
    ),
    Scenario(
        "a retired key cannot revoke a key of another chain either",
        [rotation(K1, K3, R1), revocation(K2, K1, issued=R1 + DAY)],
        lambda _: [signed(K2, R1 + DAY)],
        Reason.BAD_KEY_STATEMENT,
        root=None,
        given=(K1, K2),
    ),
    Scenario(
        "the current key revokes a retired one (the documented order)",
        [rotation(K1, K2, R1), rotation(K2, K3, R2), revocation(K2, K3, issued=R2 + DAY)],
        lambda _: [signed(K1, T0), signed(K3, R2 + DAY)],
    ),
    Scenario(
        "a revocation made before its signer's scheduled rotation still counts after it",
        [rotation(K1, K2, R2), rotation(K2, K3, R3), revocation(K1, K2, issued=R2 + DAY)],
        lambda _: [signed(K1, T0)],
        Reason.KEY_REVOKED,
    ),
    Scenario(
        "limit: a key revokes its scheduled successor before the rotation takes effect",
        [rotation(K1, K2, R2), revocation(K2, K1, issued=R2 - DAY)],
        lambda _: [signed(K1, T0), signed(K2, R2 + DAY)],
        Reason.KEY_REVOKED,
    ),
]


@pytest.mark.parametrize("case", SCENARIOS, ids=lambda c: c.name)
def test_scenario(case: Scenario, tmp_path: Path) -> None:
    try:
        keys = trust_from(case.statements, case.root, case.given)
        check_rollback(keys, Seen.of(trust_from(case.seen_before, case.root, case.given)))
        for bundle in case.bundles(tmp_path):
            verify_bundle(bundle, keys)
    except VerificationError as e:
        assert str(e.reason) == case.expect, e.message
    else:
        assert case.expect is None, f"expected a {case.expect} refusal"


def test_statement_order_does_not_matter() -> None:
    chain = [rotation(K1, K2, R1), rotation(K2, K3, R2), rotation(K3, K4, R3)]
    expected = trust_from(chain).to_document()
    for seed in range(5):
        shuffled = chain[:]
        random.Random(seed).shuffle(shuffled)  # noqa: S311 - test data order, not crypto
        assert trust_from(shuffled).to_document() == expected
    windows = {k.key_id: k.rotates_at for k in trust_from(chain)}
    assert windows == {
        K1.key_id: "2026-06-16T23:59:22Z",
        K2.key_id: "2026-07-16T23:59:22Z",
        K3.key_id: "2026-08-15T23:59:22Z",
        K4.key_id: None,
    }
