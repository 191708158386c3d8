"""Bundle building (spec §9) that mutation testing found unpinned (docs/mutation.md).

The registry's published bundle fixes the shape of ``links`` and ``mirror_hints``;
``public_keys`` must list exactly the trusted keys the bundle's signatures name.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from issuer.bundles import build_bundle, bundle_digest, keys_named, links_for, mirror_hint
from issuer.events import sign_event
from issuer.identifiers import PithNumber
from issuer.keys import SeedSigner
from issuer.keys.keyset import KeySet
from tests import factory

K1, K2, K3, K4 = (factory.signer(n) for n in (1, 2, 3, 4))
REC = factory.record()


def test_links_and_mirror_hint_are_the_registrys(real_bundle: dict[str, Any]) -> None:
    code = real_bundle["pith_number"].rsplit(":", 1)[1]
    for base in ("https://pith.science", "https://pith.science/", "https://pith.science//"):
        assert links_for(base, code) == real_bundle["links"]
        assert mirror_hint(base, code) == real_bundle["mirror_hints"][0]


def test_a_plain_http_mirror_says_so() -> None:
    hint = mirror_hint("http://mirror.example/", "CODE", name="Mirror", status="secondary")
    assert hint == {
        "mirror_type": "http",
        "name": "Mirror",
        "base_url": "http://mirror.example",
        "bundle_url": "http://mirror.example/pith/CODE/bundle.json",
        "state_url": "http://mirror.example/pith/CODE/state.json",
        "well_known_bundle_url": "http://mirror.example/.well-known/pith/CODE/bundle.json",
        "status": "secondary",
    }


def test_the_digest_of_a_signed_bundle_leaves_out_its_signature() -> None:
    bundle = factory.bundle()
    assert bundle_digest(bundle).hex() == bundle["bundle_signature"]["bundle_sha256"]
    unsigned = {k: v for k, v in bundle.items() if k != "bundle_signature"}
    assert bundle_digest(unsigned) == bundle_digest(bundle)


def test_public_keys_are_exactly_the_trusted_keys_the_signatures_name() -> None:
    keys = KeySet([K1.public_key, K2.public_key, K3.public_key, K4.public_key])
    created = factory.record_created(REC, K1)
    # the receipt by K2 inside an event signed by K1, then the event re-signed by K3
    created["payload"]["receipt"] = factory.record_created(REC, K2)["payload"]["receipt"]
    resigned = sign_event(created, K3, factory.T0 + timedelta(days=1))
    assert resigned["signer"]["key_id"] == K1.key_id
    named = [k.key_id for k in keys_named([resigned], keys)]
    assert named == [K1.key_id, K2.key_id, K3.key_id]
    assert [k.key_id for k in keys_named([resigned], keys, extra=[K4.key_id])] == [
        K1.key_id,
        K2.key_id,
        K3.key_id,
        K4.key_id,
    ]
    # a receipt only counts inside record_created; unknown ids name nothing
    other = factory.event(REC, K1, payload={"receipt": {"key_id": K2.key_id}})
    assert [k.key_id for k in keys_named([other], keys, extra=["nobody"])] == [K1.key_id]


def test_a_trailing_x_in_a_base_url_is_kept() -> None:
    assert links_for("https://mirror.example/X/", "C")["bundle"] == (
        "https://mirror.example/X/pith/C/bundle.json"
    )
    assert mirror_hint("https://mirror.example/X/", "C")["base_url"] == "https://mirror.example/X"


def _built(signer: SeedSigner, keys: KeySet) -> tuple[dict[str, Any], str]:
    rec = factory.record(7)
    events = [factory.record_created(rec, K1), factory.event(rec, K1)]
    bundle = build_bundle(
        rec,
        factory.aliases(rec),
        events,
        keys,
        signer,
        built_at=factory.T0,
        base_url="https://mirror.example/",
    )
    return bundle, PithNumber.for_record(rec).code


def test_a_bundle_lists_only_the_keys_it_uses_and_links_to_itself() -> None:
    bundle, code = _built(K1, KeySet([K1.public_key, K2.public_key]))
    assert bundle["public_keys"] == [K1.public_key.to_dict()]
    assert bundle["links"] == links_for("https://mirror.example", code)
    assert bundle["mirror_hints"] == [mirror_hint("https://mirror.example", code)]
    assert bundle["links"]["bundle"] == f"https://mirror.example/pith/{code}/bundle.json"


def test_a_bundle_lists_the_key_that_signs_it_even_if_no_event_names_it() -> None:
    bundle, _ = _built(K2, KeySet([K1.public_key, K2.public_key, K3.public_key]))
    assert bundle["public_keys"] == [K1.public_key.to_dict(), K2.public_key.to_dict()]
