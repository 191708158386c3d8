"""The registry computes its own state with the keys a verifier would trust (spec §10).

``registry.trusted_keys`` (``pith show``, ``event add``, ``bundle``,
``publish``, ``reissue``) puts together three sets: the shipped keys, every
key the registry signed with, and the operator's keys with their statements.
Each is checked by the trust builder, so the union must be too: a rule that
spans two of them (a fork, one key under two ids, a retired key revoking its
successor) would otherwise let the registry sign and publish what every
verifier handed the same keys refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer import cjson, registry
from issuer.errors import VerificationError
from issuer.keys import PublicKey, SeedSigner
from issuer.keys._statements import sign_revocation, sign_rotation
from issuer.keys._verifier_trust import verifier_keys
from issuer.keys.keyset import KeySet, parse_key_document
from issuer.reasons import Reason
from issuer.store import Store, open_store
from tests import factory
from tests.conformance.forge import document

T0 = factory.T0
DAY = timedelta(days=1)
R1 = T0 + 30 * DAY
K1, K2, K3 = (factory.signer(n) for n in (1, 2, 3))

Json = dict[str, Any]


def rotation(old: SeedSigner, new: SeedSigner) -> Json:
    return sign_rotation(old, new, rotates_at=R1, issued_at=R1 - DAY)


def revocation(key: SeedSigner, by: SeedSigner) -> Json:
    return sign_revocation(
        key.public_key, by, compromised_since=T0, reason="key file leaked", issued_at=R1 + DAY
    )


def operator(doc: Json) -> KeySet:
    """The operator's own key set, as ``LocalKeys.keys`` builds it."""
    return KeySet.trusting(parse_key_document(doc, "operator keys"))


@dataclass
class Case:
    name: str
    shipped: Json | None  # None: the real shipped keys
    used: list[PublicKey]  # keys the registry has signed with
    extra: Callable[[], KeySet]


CASES = [
    Case(
        "the operator's rotation forks from the shipped one",
        document([K1.public_key], [rotation(K1, K2)]),
        [K1.public_key],
        lambda: operator(document([K1.public_key], [rotation(K1, K3)])),
    ),
    Case(
        "one key under two ids: signed with as one, revoked by the operator as the other",
        None,
        [K1.public_key, PublicKey("test-registry-2-alias", K2.public_key.raw)],
        lambda: operator(document([K1.public_key, K2.public_key], [], [revocation(K2, K1)])),
    ),
    Case(
        "a retired key revokes its successor, the rotation shipped and the revocation local",
        document([K1.public_key], [rotation(K1, K2)]),
        [K1.public_key, K2.public_key],
        lambda: operator(document([K1.public_key, K2.public_key], [], [revocation(K2, K1)])),
    ),
]


def _store(tmp_path: Path, used: list[PublicKey]) -> Store:
    store = open_store(tmp_path / "registry.sqlite3")
    for key in used:
        store.add_key(key)
    return store


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_registry_refuses_the_key_sets_a_verifier_refuses(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if case.shipped is not None:
        shipped = tmp_path / "shipped"
        shipped.mkdir()
        (shipped / "keys.json").write_bytes(cjson.dumps(case.shipped))
        for module in ("issuer.keys.keyset", "issuer.keys._verifier_trust"):
            monkeypatch.setattr(f"{module}.shipped_keys_dir", lambda: shipped)
    extra = case.extra()
    with _store(tmp_path, case.used) as store:
        # What the registry publishes beside its bundles, given to a verifier.
        published = tmp_path / "pith-signing-key.json"
        published.write_bytes(cjson.dumps(KeySet(store.keys_used()).merged(extra).to_document()))
        with pytest.raises(VerificationError) as by_verifier:
            verifier_keys([published])
        assert by_verifier.value.reason == Reason.BAD_KEY_STATEMENT
        with pytest.raises(VerificationError) as by_registry:
            registry.trusted_keys(store, extra)
        assert by_registry.value.reason == Reason.BAD_KEY_STATEMENT


def test_registry_trusts_what_a_verifier_of_its_published_keys_trusts(tmp_path: Path) -> None:
    extra = operator(
        document([K1.public_key, K2.public_key], [rotation(K1, K2)], [revocation(K1, K2)])
    )
    with _store(tmp_path, [K1.public_key, K2.public_key, K3.public_key]) as store:
        published = tmp_path / "pith-signing-key.json"
        published.write_bytes(cjson.dumps(KeySet(store.keys_used()).merged(extra).to_document()))
        ours = registry.trusted_keys(store, extra)
        assert ours.to_document() == verifier_keys([published]).to_document()
        assert [k.key_id for k in ours] == sorted(
            k.key_id for k in [*KeySet.shipped(), K1.public_key, K2.public_key, K3.public_key]
        )
