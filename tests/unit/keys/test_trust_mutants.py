"""The trust builder (spec §10) behaviour that mutation testing found unpinned.

See docs/mutation.md. Each test is a key history whose outcome a verifier
depends on: which record of a key wins, which revocation of a key counts, and
that a statement about someone else's key does not hide the next one.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from issuer._time import format_seconds
from issuer.keys._statements import Statement, parse_statement, sign_revocation, sign_rotation
from issuer.keys._trust import earliest, follow
from issuer.keys.keyset import KeySet
from tests import factory

T0 = factory.T0
DAY = timedelta(days=1)
R1 = T0 + 30 * DAY
K1, K2, K3, K4 = (factory.signer(n) for n in (1, 2, 3, 4))


def _revocation(since: timedelta, reason: str, key: int = 1) -> Statement:
    revoked = factory.signer(key)
    return parse_statement(
        sign_revocation(
            revoked.public_key, K2, compromised_since=T0 + since, reason=reason, issued_at=R1
        )
    )


def test_the_earlier_rotation_time_of_two_records_wins_either_way() -> None:
    rotating = K1.public_key.with_rotation(R1)
    plain = K1.public_key
    assert earliest(rotating, plain).rotates == R1
    assert earliest(plain, rotating).rotates == R1
    assert earliest(plain, plain).rotates is None
    for records in ([rotating, plain], [plain, rotating]):
        kept = KeySet(records).get(K1.key_id)
        assert kept is not None
        assert kept.rotates == R1


def test_a_key_reached_by_rotation_keeps_its_published_record() -> None:
    published = dataclasses.replace(
        K2.public_key, url="https://keys.example/k2.json", notes="the second key"
    )
    rotation = parse_statement(sign_rotation(K1, K2, rotates_at=R1, issued_at=T0))
    trust = follow([K1.public_key], [rotation], [K1.public_key, published])
    reached = {k.key_id: k for k in trust.keys}[K2.key_id]
    assert (reached.url, reached.notes) == (published.url, published.notes)
    first = {k.key_id: k for k in trust.keys}[K1.key_id]
    assert first.rotates_at == format_seconds(R1)


def test_of_two_revocations_of_one_key_the_earlier_compromise_counts() -> None:
    early, late = _revocation(timedelta(0), "early"), _revocation(5 * DAY, "late")
    for order in ([early, late], [late, early]):
        trust = follow([K1.public_key, K2.public_key], order)
        assert [(r.reason, r.compromised_since) for r in trust.revocations] == [("early", T0)]


def test_a_revocation_of_a_key_outside_the_set_does_not_hide_the_next() -> None:
    elsewhere = _revocation(timedelta(0), "not ours", key=4)
    ours = _revocation(timedelta(0), "ours")
    trust = follow([K1.public_key, K2.public_key], [elsewhere, ours])
    assert [r.reason for r in trust.revocations] == ["ours"]
