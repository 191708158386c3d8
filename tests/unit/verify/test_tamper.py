"""Every value of the real bundle is changed in turn: each change must be refused.

Each change must be refused by the right check: :func:`expected` says, from
the path and kind of change alone, which step refuses it and why. A change
refused by a later check than this says means an earlier check has stopped
working, even though the bundle is still refused.

The one value the format leaves unsigned is ``bundle_signature.signed_at``
(the bundle signature object is outside the bundle hash): another valid time
still verifies, as documented; a malformed one fails.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from issuer import cjson
from issuer.keys.keyset import KeySet
from issuer.verify import verify_bundle_report
from tests.conftest import BUNDLE_PATH

REAL = json.loads(BUNDLE_PATH.read_bytes())
KEYS = KeySet.shipped()
UNSIGNED = {("bundle_signature", "signed_at")}

Path = tuple[Any, ...]


def _walk(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index))


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if value is None:
        return "x"
    if isinstance(value, str):
        return value[:-1] + ("A" if value[-1:] != "A" else "B") if value else "x"
    raise AssertionError(value)


def _mutations() -> Iterator[Any]:
    for path, value in _walk(REAL):
        if isinstance(value, dict):
            yield pytest.param(path, "add-key", id="/".join(map(str, path)) + ":add-key")
        elif isinstance(value, list):
            yield pytest.param(path, "append", id="/".join(map(str, path)) + ":append")
            if value:
                yield pytest.param(path, "drop", id="/".join(map(str, path)) + ":drop")
        elif path not in UNSIGNED:
            yield pytest.param(path, "change", id="/".join(map(str, path)) + ":change")


def _apply(path: Path, how: str) -> dict[str, Any]:
    bundle: dict[str, Any] = copy.deepcopy(REAL)
    parent: Any = bundle
    for key in path[:-1]:
        parent = parent[key]
    target: Any = parent[path[-1]] if path else bundle
    if how == "add-key":
        target["x"] = "y"
    elif how == "append":
        target.append(copy.deepcopy(target[-1]) if target else "x")
    elif how == "drop":
        target.pop()
    else:
        parent[path[-1]] = _changed(target)
    return bundle


Outcome = tuple[str, str]
BUNDLE_HASH: Outcome = ("bundle_signature", "bundle_sha256_mismatch")
MALFORMED: Outcome = ("structure", "malformed")
# Top-level fields with one fixed value or format, checked by step (1).
FIXED = {"bundle_type", "bundle_version", "merge_version", "built_at"}
# Parts no step before (9) reads: only the bundle hash covers them.
HASHED_ONLY = {"links", "mirror_hints", "timestamp_proofs"}
# Canonical record fields whose changed value is no longer well-formed (the rest
# stay well-formed and change the record's hash).
RECORD_FORMAT = {
    "id",
    "kind",
    "submitted_at",
    "title_canon_sha256",
    "abstract_canon_sha256",
    "schema_version",
}
# Fields that hold a time or a fixed value in an event: a changed one is malformed.
EVENT_FORMAT = {"created_at", "schema_version", "prev_event", "supersedes"}
BY_SIGNATURE_FIELD = {"key_id": "unknown_key", "public_key_fingerprint": "fingerprint_mismatch"}


def expected(path: Path, how: str) -> Outcome:  # noqa: PLR0911 - a rule table, one return a rule
    """The (step, reason) that must refuse changing ``path`` of the real bundle in way ``how``."""
    if not path or path[0] in FIXED:
        return MALFORMED
    top, leaf = path[0], path[-1]
    simple: dict[str, Outcome] = {
        "canonical_sha256": ("canonical_record", "canonical_sha256_mismatch"),
        "pith_number": ("pith_number", "pith_number_mismatch"),
        "short_pith_number": ("pith_number", "short_pith_number_mismatch"),
        "source": ("pith_number", "source_mismatch"),
        "state": ("state", "state_sha256_mismatch"),
    }
    if top in simple:
        return simple[top]
    if top in HASHED_ONLY:
        return BUNDLE_HASH
    if top == "canonical_record":
        if how in ("add-key", "append") or leaf in RECORD_FORMAT:
            return ("canonical_record", "malformed")
        return ("canonical_record", "canonical_sha256_mismatch")
    if top == "source_aliases":
        if how == "add-key" or leaf == "created_at":
            return ("aliases", "malformed")
        return ("aliases", "alias_mismatch")
    if top == "public_keys":
        # A changed key record no longer parses; url and notes are free text.
        if len(path) == 3 and leaf not in ("url", "notes"):
            return ("key_hints", "malformed")
        return BUNDLE_HASH
    if top == "bundle_signature":
        if how == "add-key":
            return ("bundle_signature", "malformed")
        reason = {**BY_SIGNATURE_FIELD, "bundle_sha256": "bundle_sha256_mismatch"}
        return ("bundle_signature", reason.get(str(leaf), "malformed"))
    assert top == "events", path
    if len(path) == 1:
        # A copy of the last event collapses by id (same state): only the hash sees it.
        return BUNDLE_HASH if how == "append" else ("state", "state_mismatch")
    return _expected_in_event(path[1], path[2:], how)


def _expected_in_event(index: int, rest: Path, how: str) -> Outcome:  # noqa: PLR0911 - as above
    if not rest:
        return ("events", "malformed")
    field, leaf = rest[0], rest[-1]
    if field == "event_type":
        # events[0] is the only record_created: retyped, no receipt is left to check.
        return ("receipt", "missing_record_created") if index == 0 else ("events", "unknown_type")
    by_field = {
        "subject_pith_number": "wrong_subject",
        "target": "wrong_target",
        "content_sha256": "content_hash_mismatch",
        "event_id": "event_id_mismatch",
    }
    if field in by_field:
        return ("events", by_field[field])
    if field in EVENT_FORMAT or (field in ("signer", "signature") and how == "add-key"):
        return ("events", "malformed")
    if field == "signature":
        return ("events", BY_SIGNATURE_FIELD.get(str(leaf), "malformed"))
    if rest[:2] == ("payload", "receipt") and leaf != "builder_version":
        # The receipt step comes first; builder_version is outside the receipt's
        # signature but inside the event's content.
        if how == "add-key":
            return ("receipt", "malformed_receipt")
        return ("receipt", BY_SIGNATURE_FIELD.get(str(leaf), "malformed_receipt"))
    return ("events", "content_hash_mismatch")  # payload and signer: covered by the content hash


def test_the_real_bundle_verifies() -> None:
    report = verify_bundle_report(BUNDLE_PATH.read_bytes(), KEYS, "real")
    assert report.ok, report.message


@pytest.mark.parametrize(("path", "how"), list(_mutations()))
def test_every_change_is_refused(path: Path, how: str) -> None:
    bundle = _apply(path, how)
    assert bundle != REAL
    report = verify_bundle_report(cjson.dumps(bundle), KEYS, "tampered")
    assert not report.ok, f"{path} {how} was accepted"
    assert (report.failed_step, report.reason) == expected(path, how), report.message


def test_the_real_bundle_has_the_shape_expected_assumes() -> None:
    assert [e["event_type"] for e in REAL["events"]] == ["record_created", "graph_snapshot"]
    outcomes = {expected(p.values[0], p.values[1]) for p in _mutations()}
    assert len(outcomes) >= 20  # the table tells many checks apart, not one catch-all


def test_there_are_many_mutations() -> None:
    assert len(list(_mutations())) > 250


def test_unsigned_signed_at_is_documented_and_still_checked() -> None:
    moved = copy.deepcopy(REAL)
    moved["bundle_signature"]["signed_at"] = "2026-05-22T18:35:46.000000Z"
    assert verify_bundle_report(cjson.dumps(moved), KEYS).ok  # outside the bundle hash
    for bad in ("2026-05-22T18:35:46Z", "yesterday", None, 5):
        broken = copy.deepcopy(REAL)
        broken["bundle_signature"]["signed_at"] = bad
        report = verify_bundle_report(cjson.dumps(broken), KEYS)
        assert not report.ok and report.reason == "malformed"
        assert report.failed_step == "bundle_signature"


def test_raw_json_tricks_are_refused() -> None:
    raw = BUNDLE_PATH.read_bytes()
    duplicated = raw.replace(
        b'"bundle_version":"1.0"', b'"bundle_version":"1.0","bundle_version":"1.0"', 1
    )
    if duplicated == raw:  # the file may be pretty-printed
        duplicated = b'{"bundle_version": "0",' + raw.lstrip()[1:]
    report = verify_bundle_report(duplicated, KEYS)
    assert not report.ok and report.reason == "malformed"
    floaty = raw.replace(b'"source_version": 2', b'"source_version": 2.0', 1).replace(
        b'"source_version":2', b'"source_version":2.0', 1
    )
    assert floaty != raw
    assert verify_bundle_report(floaty, KEYS).reason == "malformed"
    assert verify_bundle_report(b"\xef\xbb\xbf" + raw, KEYS).reason == "malformed"
    assert verify_bundle_report(b"[]", KEYS).reason == "malformed"
