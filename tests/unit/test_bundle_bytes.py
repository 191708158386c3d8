"""build_bundle_bytes against build_bundle and cjson.dumps_parsed: the same bundle, the same bytes.

Publishing serializes each top-level field of a bundle once and joins the
parts, with and without the signature, instead of serializing the whole
bundle twice and its state once more. The bundle, its bytes and its state's
bytes must be exactly what the whole serializations give, whatever the
payloads hold (non-ASCII text, characters whose UTF-16 order differs from
their code-point order, proofs or none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer import cjson, registry
from issuer.bundles import build_bundle, build_bundle_bytes
from issuer.merge import merge
from issuer.registry import trusted_keys
from issuer.store import Store, open_store
from tests import factory
from tests.registry_sql import issue

A = "https://a.example"
TEXTS = ["plain", "Schrödinger", "\ue000 private use", "😀 astral", "\uffff", 'quote " and \\']


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp: Path = tmp_path_factory.mktemp("bundle-bytes")
    with open_store(tmp / "r.sqlite3") as opened:
        issue(opened, tmp, range(1, 4))
        [number] = opened.current_arxiv("2401.00002")
        for text in TEXTS:
            registry.add_event(
                opened,
                number,
                "graph_snapshot",
                {"graph_snapshot": {"paper": {"title": text, text: [text]}}, "verdict_id": text},
                factory.signer(),
                now=factory.T0,
            )
        yield opened


def _both(store: Store, number: str, proofs: list[Any]) -> tuple[Any, dict[str, Any]]:
    issued = store.record(number)
    assert issued is not None
    events = store.events(number)
    keys = trusted_keys(store, None)
    state = merge(number, events, issued.aliases, keys, parsed=True)
    args = (issued.record, issued.aliases, events, keys, factory.signer())
    kw: dict[str, Any] = {"built_at": factory.T0, "base_url": A, "timestamp_proofs": proofs}
    return build_bundle_bytes(*args, state=state, **kw), build_bundle(*args, state=state, **kw)


def _check(built: Any, whole: dict[str, Any]) -> None:
    assert built.bundle == whole
    assert list(built.bundle) == list(whole)
    assert built.data == cjson.dumps_parsed(whole) == cjson.dumps(whole)
    assert built.state_data == cjson.dumps_parsed(whole["state"])


@pytest.mark.parametrize("source_id", ["2401.00001", "2401.00002", "2401.00003"])
def test_the_joined_bytes_are_the_whole_serialization(store: Store, source_id: str) -> None:
    [number] = store.current_arxiv(source_id)
    proofs = [{"type": "x", "leaf": "record", "proof": ["\ue001", "é"]}]
    for given_proofs in ([], proofs):
        built, whole = _both(store, number, given_proofs)
        _check(built, whole)


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=20))
def test_any_text_in_the_proofs_serializes_as_the_whole(store: Store, text: str) -> None:
    [number] = store.current_arxiv("2401.00002")
    try:
        cjson.dumps(text)
    except cjson.CanonicalJSONError:
        return  # outside the domain (a lone surrogate): never in a bundle
    built, whole = _both(store, number, [{text: text, "n": [text]}])
    _check(built, whole)
