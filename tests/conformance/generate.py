"""Regenerate the derived conformance cases under ``bundles/``; the output is committed.

Run: ``python -m tests.conformance.generate``. Everything is deterministic
(fixed test seeds and times, deterministic Ed25519), so a rerun changes
nothing unless the format code did: a diff here is a format change to look at.

Each ``_fail`` case records the step and reason the verifier must refuse it
with (files ``step`` and ``reason``), and for key-set refusals a ``message``
fragment naming the rule. Its README says which check catches it and what
happened when that check was deleted by hand (a mutant the case kills).
"""

from __future__ import annotations

import copy
import json
import shutil

from issuer.bundles import links_for, mirror_hint
from issuer.identifiers import PithNumber
from issuer.keys import PublicKey
from issuer.merge import merge
from tests import factory
from tests.conformance._key_cases import revocation_cases, rotation_cases, trust_cases
from tests.conformance._log_cases import log_cases
from tests.conformance._signed_cases import event_cases, receipt_cases, signature_cases
from tests.conformance.forge import (
    DAY,
    GOOD,
    HERE,
    K1,
    K2,
    NUMBER,
    OTHER,
    REC,
    T0,
    TRUSTED,
    TRUSTED_DOC,
    bundle,
    created,
    deleted,
    rehashed,
    resign,
    snapshot,
    write,
)
from tests.conftest import BUNDLE_PATH


def shipped_and_real() -> None:
    """The registry's own bundle, the existing cases around it, and plain test-key bundles."""
    real = json.loads(BUNDLE_PATH.read_bytes())
    write(
        "registry_real",
        "The bundle the live registry published for arXiv 1811.06992v2, byte for byte. "
        "It verifies with the shipped key alone.",
        BUNDLE_PATH.read_bytes(),
    )
    write(
        "test_key_issued",
        "A bundle built by the toolkit (record_created + graph_snapshot), signed by the "
        "deterministic test key in keys.json.",
        GOOD,
        keys=TRUSTED_DOC,
    )
    write(
        "unknown_key_fail",
        "test_key_issued without keys.json: signed end to end by a key the verifier "
        "does not trust.",
        GOOD,
        step="receipt",
        reason="unknown_key",
    )
    write(
        "real_resigned_by_unknown_key_fail",
        "The real bundle with its bundle signature replaced by one from the (untrusted) test key.",
        resign(real),
        step="bundle_signature",
        reason="unknown_key",
    )
    title = copy.deepcopy(real)
    title["canonical_record"]["metadata"]["title_canon_sha256"] = "0" * 64
    write(
        "real_title_hash_changed_fail",
        "The real bundle with the title hash of its canonical record changed.",
        title,
        step="canonical_record",
        reason="canonical_sha256_mismatch",
    )
    raw = BUNDLE_PATH.read_bytes().replace(b"{", b'{"bundle_type": "pith_open_graph_bundle", ', 1)
    write(
        "duplicate_key_fail",
        "The real bundle with a duplicated bundle_type key: two JSON parsers could "
        "see two documents.",
        raw,
        step="structure",
        reason="malformed",
    )
    write(
        "wrong_record_fail",
        "test_key_issued, valid, but fetched for another record's code (file `expected`): a "
        "server must not answer one record's URL with another's genuine bundle.",
        GOOD,
        keys=TRUSTED_DOC,
        expected=PithNumber.for_record(OTHER).code,
        step="record",
        reason="wrong_record",
        check=deleted(
            "the `expected` comparison in `verify_bundle_report`", "the bundle was reported ok"
        ),
    )


def merge_cases() -> None:
    """Supersession, equivocation and hidden state: the merge's own cases."""
    a = snapshot(n="a")
    b = snapshot(n="b", supersedes=(a["event_id"],), at=T0 + DAY)
    att = factory.event(REC, K1, "author_attestation", payload={"orcid": "0000-0002-1825-0097"})
    write(
        "supersession_and_attestation",
        "A graph snapshot superseded by a newer one (same slot, not an "
        "equivocation) and an author attestation; the state lists only the newer snapshot.",
        bundle([created(), a, b, att]),
        keys=TRUSTED_DOC,
    )
    hidden_state = copy.deepcopy(GOOD["state"])
    hidden_state["current"]["graph_snapshots"] = []
    write(
        "state_not_from_events_fail",
        "test_key_issued with the graph snapshot removed from the state; "
        "state_sha256 recomputed and the bundle re-signed by the trusted key.",
        resign(GOOD, state=rehashed(hidden_state)),
        keys=TRUSTED_DOC,
        step="state",
        reason="state_mismatch",
        check=deleted("step (8), `ours != state` in `_Run._state`"),
    )
    x, y = snapshot(n="x"), snapshot(n="y")
    honest = bundle([created(), x, y])
    hiding = merge(NUMBER, [created(), x], factory.aliases(REC), TRUSTED)
    hiding["event_count"] = 3
    hiding["valid_event_count"] = 3
    write(
        "hidden_equivocation_fail",
        "Two graph snapshots in one slot by one signer (an equivocation); the "
        "state is computed as if only one existed, then hashed and signed consistently.",
        resign(honest, state=rehashed(hiding)),
        keys=TRUSTED_DOC,
        step="state",
        reason="state_mismatch",
    )
    write(
        "equivocation_listed",
        "The same equivocation, honestly listed in the state: the bundle is "
        "consistent, and neither snapshot is applied.",
        honest,
        keys=TRUSTED_DOC,
    )
    odd = snapshot(n={"\ue000": 1, "\U0001f600": 2, "z": 3})
    write(
        "keys_above_u_e000_in_utf16_order",
        "A graph snapshot whose payload has keys U+E000 and U+1F600: canonical JSON orders "
        "them by UTF-16 code units (U+1F600 first), unlike UTF-8 byte order. Verifies only if "
        "the hashing fast path (`cjson.dumps_parsed`) falls back to the strict encoder.",
        bundle([created(), odd]),
        keys=TRUSTED_DOC,
    )


def structure_cases() -> None:
    """Step (1) and (2): the bundle's shape and the canonical record, each re-signed."""
    write(
        "unknown_top_level_field_fail",
        "test_key_issued with an extra top-level field `registry_note`, bundle_sha256 "
        "recomputed and re-signed by the trusted key.",
        resign(GOOD, registry_note="trust me"),
        keys=TRUSTED_DOC,
        step="structure",
        reason="malformed",
        check=deleted("step (1), `set(b) != set(BUNDLE_FIELDS)` in `_Run._structure`"),
    )
    write(
        "bundle_version_fail",
        "test_key_issued claiming bundle_version 2.0, re-signed.",
        resign(GOOD, bundle_version="2.0"),
        keys=TRUSTED_DOC,
        step="structure",
        reason="malformed",
        check=deleted("step (1), the fixed values in `_Run._structure`"),
    )
    write(
        "link_not_a_url_fail",
        "test_key_issued with `links.state` a number, re-signed.",
        resign(GOOD, links={**GOOD["links"], "state": 7}),
        keys=TRUSTED_DOC,
        step="structure",
        reason="malformed",
    )
    write(
        "built_at_malformed_fail",
        "test_key_issued with built_at `yesterday`, re-signed.",
        resign(GOOD, built_at="yesterday"),
        keys=TRUSTED_DOC,
        step="structure",
        reason="malformed",
    )
    write(
        "canonical_sha256_claimed_wrong_fail",
        "test_key_issued with the top-level canonical_sha256 replaced (the record, receipt "
        "and events untouched), re-signed: the bundle names a digest its record does not have.",
        resign(GOOD, canonical_sha256="0" * 64),
        keys=TRUSTED_DOC,
        step="canonical_record",
        reason="canonical_sha256_mismatch",
        check=deleted("step (2), `b['canonical_sha256'] != record.canonical_sha256`"),
    )
    record = copy.deepcopy(GOOD["canonical_record"])
    record["source"]["version"] = 0
    write(
        "canonical_record_malformed_fail",
        "test_key_issued whose canonical record has source version 0, re-signed.",
        resign(GOOD, canonical_record=record),
        keys=TRUSTED_DOC,
        step="canonical_record",
        reason="malformed",
    )


def identifier_cases() -> None:
    """Steps (3) and (4): the Pith number, its short form, the source, the aliases."""
    number = PithNumber.for_record(REC)
    # Same year and first 16 characters: the short form and every pith_short_* alias still
    # match, so only the full-number comparison can see it.
    fake = PithNumber(number.year, number.code[:16] + "AAAAAAAAAA")
    assert fake != number
    write(
        "pith_number_rewritten_fail",
        f"test_key_issued claiming Pith number {fake}, which the record does not derive; "
        "links and mirror_hints rewritten to it (its short form and short aliases are the "
        "true ones), re-signed.",
        resign(
            GOOD,
            pith_number=str(fake),
            links=links_for(factory.BASE_URL, fake.code),
            mirror_hints=[mirror_hint(factory.BASE_URL, fake.code)],
        ),
        keys=TRUSTED_DOC,
        step="pith_number",
        reason="pith_number_mismatch",
        check=deleted("step (3), `b['pith_number'] != str(number)`"),
    )
    write(
        "short_pith_number_fail",
        "test_key_issued claiming short Pith number pith:AAAAAAAA, re-signed.",
        resign(GOOD, short_pith_number="pith:AAAAAAAA"),
        keys=TRUSTED_DOC,
        step="pith_number",
        reason="short_pith_number_mismatch",
        check=deleted("step (3), `b['short_pith_number'] != number.short`"),
    )
    write(
        "source_version_fail",
        "test_key_issued whose `source` says version 2 (the record is version 1), re-signed.",
        resign(GOOD, source={**GOOD["source"], "version": 2}),
        keys=TRUSTED_DOC,
        step="pith_number",
        reason="source_mismatch",
        check=deleted("step (3), `b['source'] != record.source_dict()`"),
    )
    wrong = [
        {**a, "alias_value": "10.48550/arxiv.2401.99999"} if a["alias_kind"] == "doi" else a
        for a in factory.aliases(REC)
    ]
    write(
        "alias_value_wrong_fail",
        "A bundle whose doi alias names another paper; the merge was run over those aliases, "
        "so the state carries the same wrong alias, and everything is hashed and signed.",
        bundle([created(), snapshot()], aliases=wrong),
        keys=TRUSTED_DOC,
        step="aliases",
        reason="alias_mismatch",
        check=deleted("step (4), `got != expected` in `_Run._aliases`"),
    )
    write(
        "alias_malformed_fail",
        "test_key_issued with an alias that has an extra field, re-signed.",
        resign(GOOD, source_aliases=[{**GOOD["source_aliases"][0], "x": "y"}]),
        keys=TRUSTED_DOC,
        step="aliases",
        reason="malformed",
    )
    extra = {
        "alias_kind": "dblp",
        "alias_value": "conf/x/Y24",
        "created_at": "2026-05-18T00:00:00Z",
    }
    write(
        "alias_not_in_state_fail",
        "test_key_issued with a seventh alias (dblp) in source_aliases that no event "
        "creates and the state does not carry; re-signed.",
        resign(GOOD, source_aliases=[*GOOD["source_aliases"], extra]),
        keys=TRUSTED_DOC,
        step="state",
        reason="alias_mismatch",
        check=deleted("step (8), `source_aliases != ours['current']['source_aliases']`"),
    )


def key_hint_cases() -> None:
    """Step (5): ``public_keys`` are hints; one naming a trusted id with another key fails."""
    conflicting = PublicKey(K1.key_id, K2.public_key.raw)
    write(
        "key_hint_conflicts_fail",
        "test_key_issued whose public_keys lists the trusted id test-registry-1 with the "
        "raw key of test-registry-2; re-signed by the real test-registry-1.",
        resign(GOOD, public_keys=[conflicting.to_dict()]),
        keys=TRUSTED_DOC,
        step="key_hints",
        reason="conflicting_key_hint",
        check=deleted("step (5), `trusted.raw != hint.raw` in `_Run._key_hints`"),
    )
    write(
        "key_hint_unknown_id_ignored",
        "test_key_issued with an extra hint, test-registry-2, a key the verifier does not "
        "know: a hint is not trust, and one that conflicts with nothing is ignored.",
        resign(GOOD, public_keys=[*GOOD["public_keys"], K2.public_key.to_dict()]),
        keys=TRUSTED_DOC,
    )
    write(
        "key_hint_malformed_fail",
        "test_key_issued with a public_keys entry missing most fields, re-signed.",
        resign(GOOD, public_keys=[{"key_id": K1.key_id}]),
        keys=TRUSTED_DOC,
        step="key_hints",
        reason="malformed",
    )


def main() -> None:
    """Regenerate every case folder from scratch."""
    shutil.rmtree(HERE, ignore_errors=True)
    HERE.mkdir()
    for group in (
        shipped_and_real,
        merge_cases,
        structure_cases,
        identifier_cases,
        key_hint_cases,
        receipt_cases,
        event_cases,
        rotation_cases,
        revocation_cases,
        signature_cases,
        trust_cases,
        log_cases,
    ):
        group()


if __name__ == "__main__":
    main()
