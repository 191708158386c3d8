"""Every value of the real bundle is changed in turn: each change must be refused.

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


def test_the_real_bundle_verifies() -> None:
    report = verify_bundle_report(BUNDLE_PATH.read_bytes(), KEYS, "real")
    assert report.ok, report.message


@pytest.mark.parametrize(("path", "how"), list(_mutations()))
def test_every_change_is_refused(path: Path, how: str) -> None:
    bundle = _apply(path, how)
    assert bundle != REAL
    report = verify_bundle_report(cjson.dumps(bundle), KEYS, "tampered")
    assert not report.ok, f"{path} {how} was accepted"
    assert report.reason


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
