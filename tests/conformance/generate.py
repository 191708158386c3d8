"""Regenerate the derived conformance cases under ``bundles/``; the output is committed.

Run: ``python -m tests.conformance.generate``. Everything is deterministic
(fixed test keys and times), so a rerun changes nothing unless the format
code did: a diff here is a format change to look at.
"""

from __future__ import annotations

import copy
import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from issuer import cjson
from issuer.bundles import build_bundle, sign_bundle
from issuer.events import build_event
from issuer.identifiers import PithNumber
from issuer.keys.keyset import KeySet
from issuer.merge import merge
from issuer.receipts import sign_receipt
from tests import factory
from tests.conftest import BUNDLE_PATH

HERE = Path(__file__).parent / "bundles"
KEY = factory.signer(1)
TRUSTED = KeySet([KEY.public_key])
LATER = factory.T0 + timedelta(days=5)


def _write(
    name: str,
    how: str,
    bundle: bytes | dict[str, Any],
    *,
    keys: KeySet | None = None,
    reason: str | None = None,
) -> None:
    folder = HERE / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(f"# {name}\n\n{how}\n")
    data = (
        bundle
        if isinstance(bundle, bytes)
        else json.dumps(bundle, indent=2, ensure_ascii=False).encode() + b"\n"
    )
    (folder / "bundle.json").write_bytes(data)
    if keys is not None:
        (folder / "keys.json").write_text(json.dumps(keys.to_document(), indent=2) + "\n")
    if reason is not None:
        (folder / "reason").write_text(reason + "\n")


def _resigned_state(bundle: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    state = {k: v for k, v in state.items() if k != "state_sha256"}
    state["state_sha256"] = cjson.sha256_hex(state)
    return sign_bundle({**bundle, "state": state}, KEY, LATER)


def main() -> None:
    shutil.rmtree(HERE, ignore_errors=True)
    real = json.loads(BUNDLE_PATH.read_bytes())
    rec = factory.record()
    number = str(PithNumber.for_record(rec))
    good = factory.bundle()

    _write(
        "registry_real",
        "The bundle the live registry published for arXiv 1811.06992v2, byte for byte. "
        "It verifies with the shipped key alone.",
        BUNDLE_PATH.read_bytes(),
    )
    _write(
        "test_key_issued",
        "A bundle built by the toolkit (record_created + graph_snapshot), signed by the "
        "deterministic test key in keys.json.",
        good,
        keys=TRUSTED,
    )

    created = factory.record_created(rec, KEY)
    a = factory.event(rec, KEY, payload={"graph_snapshot": {"v": "a"}, "verdict_id": None})
    b = factory.event(
        rec,
        KEY,
        payload={"graph_snapshot": {"v": "b"}, "verdict_id": None},
        supersedes=(a["event_id"],),
        at=factory.T0 + timedelta(days=1),
    )
    att = factory.event(rec, KEY, "author_attestation", payload={"orcid": "0000-0002-1825-0097"})
    chained = build_bundle(
        rec,
        factory.aliases(rec),
        [created, a, b, att],
        TRUSTED,
        KEY,
        built_at=LATER,
        base_url=factory.BASE_URL,
    )
    _write(
        "supersession_and_attestation",
        "A graph snapshot superseded by a newer one (same slot, not an "
        "equivocation) and an author attestation; the state lists only the newer snapshot.",
        chained,
        keys=TRUSTED,
    )

    _write(
        "unknown_key_fail",
        "test_key_issued without keys.json: signed end to end by a key the verifier "
        "does not trust.",
        good,
        reason="unknown_key",
    )

    resigned = sign_bundle(real, KEY, LATER)
    _write(
        "real_resigned_by_unknown_key_fail",
        "The real bundle with its bundle signature replaced by one from the (untrusted) test key.",
        resigned,
        reason="unknown_key",
    )

    hidden_state = copy.deepcopy(good["state"])
    hidden_state["current"]["graph_snapshots"] = []
    _write(
        "state_not_from_events_fail",
        "test_key_issued with the graph snapshot removed from the state; "
        "state_sha256 recomputed and the bundle re-signed by the trusted key.",
        _resigned_state(good, hidden_state),
        keys=TRUSTED,
        reason="state_mismatch",
    )

    x = factory.event(rec, KEY, payload={"graph_snapshot": {"v": "x"}, "verdict_id": None})
    y = factory.event(rec, KEY, payload={"graph_snapshot": {"v": "y"}, "verdict_id": None})
    honest = build_bundle(
        rec,
        factory.aliases(rec),
        [created, x, y],
        TRUSTED,
        KEY,
        built_at=LATER,
        base_url=factory.BASE_URL,
    )
    hiding = merge(number, [created, x], factory.aliases(rec), TRUSTED)
    hiding["event_count"] = 3
    hiding["valid_event_count"] = 3
    _write(
        "hidden_equivocation_fail",
        "Two graph snapshots in one slot by one signer (an equivocation); the "
        "state is computed as if only one existed, then hashed and signed consistently.",
        _resigned_state(honest, hiding),
        keys=TRUSTED,
        reason="state_mismatch",
    )
    _write(
        "equivocation_listed",
        "The same equivocation, honestly listed in the state: the bundle is "
        "consistent, and neither snapshot is applied.",
        honest,
        keys=TRUSTED,
    )

    other = factory.record(2)
    receipt = sign_receipt(other.canonical_sha256, KEY, factory.T0)
    receipt["canonical_sha256"] = rec.canonical_sha256
    payload = {**created["payload"], "receipt": receipt}
    forged_created = build_event("record_created", number, payload, KEY, factory.T0)
    forged = build_bundle(
        rec,
        factory.aliases(rec),
        [forged_created, factory.event(rec, KEY)],
        TRUSTED,
        KEY,
        built_at=LATER,
        base_url=factory.BASE_URL,
    )
    _write(
        "receipt_over_wrong_digest_fail",
        "The receipt claims this record's canonical_sha256 but its "
        "signature is over another record's digest; event and bundle are signed properly.",
        forged,
        keys=TRUSTED,
        reason="bad_receipt_signature",
    )

    title = copy.deepcopy(real)
    title["canonical_record"]["metadata"]["title_canon_sha256"] = "0" * 64
    _write(
        "real_title_hash_changed_fail",
        "The real bundle with the title hash of its canonical record changed.",
        title,
        reason="canonical_sha256_mismatch",
    )

    raw = BUNDLE_PATH.read_bytes().replace(b"{", b'{"bundle_type": "pith_open_graph_bundle", ', 1)
    _write(
        "duplicate_key_fail",
        "The real bundle with a duplicated bundle_type key: two JSON parsers could "
        "see two documents.",
        raw,
        reason="malformed",
    )

    rotated = KeySet([KEY.public_key.with_rotation(factory.T0 - timedelta(days=1))])
    _write(
        "signed_after_rotation_fail",
        "test_key_issued, with keys.json saying the key rotated a day before it signed.",
        good,
        keys=rotated,
        reason="key_not_valid_at_signing_time",
    )


if __name__ == "__main__":
    main()
