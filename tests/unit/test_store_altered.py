"""A registry whose rows were altered (by hand, an attacker with the database, a disk fault).

What the registry signs must be what its stored signatures support: a record
whose receipt or event signature no longer verifies is refused, by name, and
the others are published.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from issuer import registry
from issuer.errors import VerificationError
from issuer.keys.keyset import KeySet
from issuer.pipeline import Issuer
from issuer.publish import publish
from issuer.store import Store, open_store
from issuer.verify import verify_bundle
from tests import factory
from tests.registry_sql import execute, record_row_id

BASE = "https://a.example"


@pytest.fixture
def store(tmp_path: Path, registry_url: str) -> Iterator[Store]:
    with open_store(registry_url) as opened:
        Issuer(opened, factory.signer(), lambda: factory.T0, workers=1).run(
            [str(factory.snapshot(tmp_path / "in.json", range(1, 5)))]
        )
        yield opened


def _victim(store: Store) -> str:
    [number] = store.current_arxiv("2401.00002")
    return number


def _set_record(column: str, value: object) -> Callable[[Store, int], None]:
    def alter(store: Store, row_id: int) -> None:
        execute(store, f"UPDATE records SET {column}=? WHERE id=?", (value, row_id))  # noqa: S608

    return alter


def _set_event(column: str, value: object) -> Callable[[Store, int], None]:
    def alter(store: Store, row_id: int) -> None:
        execute(store, f"UPDATE events SET {column}=? WHERE record_id=?", (value, row_id))  # noqa: S608

    return alter


UNSUPPORTED = {
    "a receipt signature of another value": _set_record("receipt_signature", bytes(64)),
    "a receipt signature of the wrong length": _set_record("receipt_signature", b"\x01"),
    "an event signature of another value": _set_event("signature", bytes(64)),
    "an event signature of the wrong length": _set_event("signature", b"\x01\x02"),
    "an event whose time was changed": _set_event("created_at", "2020-01-01T00:00:00Z"),
}


@pytest.mark.parametrize("alter", UNSUPPORTED.values(), ids=UNSUPPORTED.keys())
def test_a_record_whose_signatures_do_not_verify_is_never_signed_as_a_bundle(
    store: Store, tmp_path: Path, alter: Callable[[Store, int], None]
) -> None:
    bad = _victim(store)
    alter(store, record_row_id(store, bad))
    refused: list[tuple[str, str]] = []
    out = tmp_path / "site"
    summary = publish(
        store,
        out,
        factory.signer(),
        base_url=BASE,
        now=factory.T0,
        on_refused=lambda n, why: refused.append((n, why)),
    )
    assert (summary.records, summary.written, summary.refused) == (4, 3, 1)
    assert [n for n, _ in refused] == [bad] and "does not verify" in refused[0][1]
    code = bad.rsplit(":", 1)[1]
    assert not (out / "pith" / code).exists()
    assert not (out / ".well-known" / "pith" / code).exists()
    keys = KeySet([factory.signer().public_key])
    for path in (out / "pith").glob("*/bundle.json"):
        verify_bundle(json.loads(path.read_bytes()), keys)  # every bundle signed verifies
    with pytest.raises(VerificationError, match="does not verify") as caught:
        registry.bundle(store, bad, factory.signer(), factory.T0, BASE)
    assert bad in caught.value.message and caught.value.hint is not None
