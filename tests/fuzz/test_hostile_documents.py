"""Malformed and oversized bundles: refused as ``malformed``, in memory bounded by the input.

Each document is the registry's real bundle with one hostile part. The
verifier must refuse it with ``VerificationError(reason="malformed")`` at the
structure step, never with ``RecursionError``, ``ValueError``, ``TypeError``
or ``MemoryError``, and before doing work out of proportion to the input.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from issuer import cjson
from issuer.bundles import MAX_EVENTS, sign_bundle
from issuer.errors import VerificationError
from issuer.events import sign_event
from issuer.keys import SeedSigner
from issuer.keys.keyset import KeySet
from issuer.reasons import Reason
from issuer.verify import verify_bundle_report
from issuer.verify._verifier import verify_bundle, verify_bundle_bytes
from tests.conftest import BUNDLE_PATH, ROOT, data_file

BIG = "@big@"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _deep(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def _edited(edit: Callable[[dict[str, Any]], None]) -> bytes:
    bundle = json.loads(data_file(BUNDLE_PATH).read_bytes())
    edit(bundle)
    # json.dumps cannot write a 5000-digit integer (CPython's int-str limit): splice it in.
    return json.dumps(bundle).replace(f'"{BIG}"', "9" * 5000).encode()


def _set(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(bundle: dict[str, Any]) -> None:
        bundle[name] = value

    return edit


def _junk_events(count: int) -> Callable[[dict[str, Any]], None]:
    def edit(bundle: dict[str, Any]) -> None:
        bundle["events"] += [{}] * count

    return edit


HOSTILE = {
    "nested 300 levels deep": (_set("timestamp_proofs", _deep(300)), "nested more than 128"),
    "an integer of 5000 digits": (_set("timestamp_proofs", [BIG]), "5000-digit integer"),
    "an array of 100,001 items": (_set("timestamp_proofs", [0] * 100_001), "100001 items"),
    "more events than a bundle holds": (_junk_events(MAX_EVENTS), f"at most {MAX_EVENTS}"),
    "over 16 MiB": (_set("timestamp_proofs", ["x" * (16 << 20)]), "over the 16777216-byte"),
}


@pytest.fixture(scope="module")
def keys() -> KeySet:
    return KeySet.load(ROOT / "keys")


@pytest.mark.parametrize(("edit", "message"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_bundles_are_refused_as_malformed(
    keys: KeySet, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = _edited(edit)
    with pytest.raises(VerificationError) as caught:
        verify_bundle_bytes(data, keys)
    assert (caught.value.reason, caught.value.step) == (Reason.MALFORMED, "structure")
    assert message in caught.value.message
    report = verify_bundle_report(data, keys, "hostile.json")
    assert (report.ok, report.reason, report.failed_step) == (False, "malformed", "structure")


@pytest.mark.parametrize(
    "edit",
    [
        _set("bundle_type", "x" * 1_000_000),
        _set("source_aliases", [{"alias_kind": "x" * 1_000_000}]),
        _set("canonical_sha256", "x" * 1_000_000),
    ],
    ids=["bundle_type", "alias", "canonical_sha256"],
)
def test_a_refusal_quotes_a_huge_value_briefly(
    keys: KeySet, edit: Callable[[dict[str, Any]], None]
) -> None:
    report = verify_bundle_report(_edited(edit), keys)
    assert report.message is not None
    assert len(report.message) < 300, report.message[:300]


def test_a_parsed_bundle_nested_too_deeply_is_malformed(keys: KeySet) -> None:
    """The parsed-value entry point hashes with cjson.dumps: depth is refused there too."""
    bundle = json.loads(data_file(BUNDLE_PATH).read_bytes())
    bundle["timestamp_proofs"] = _deep(300)
    with pytest.raises(VerificationError) as caught:
        verify_bundle(bundle, keys)
    assert caught.value.reason == Reason.MALFORMED


def test_a_signed_payload_whose_state_would_nest_too_deeply_is_malformed(keys: KeySet) -> None:
    """Found by fuzzing: a payload at the depth limit puts the merged state one level over.

    A trusted key signs the event, so only the merge meets the problem; on the
    parsed-value path it used to escape as ``CanonicalJSONError``.
    """
    bundle = json.loads(data_file(BUNDLE_PATH).read_bytes())
    snapshot = next(e for e in bundle["events"] if e["event_type"] == "graph_snapshot")
    deep: dict[str, Any] = {}
    for _ in range(cjson.MAX_DEPTH - 5):  # bundle, events, event, payload, graph_snapshot
        deep = {"a": deep}
    snapshot["payload"]["graph_snapshot"] = deep
    sealer = SeedSigner("test-deep-sealer", b"\x05" * 32)
    bundle["events"] = [sign_event(e, sealer, NOW) for e in bundle["events"]]
    sealed = sign_bundle(bundle, sealer, NOW)
    trusted = KeySet([*keys, sealer.public_key])
    with pytest.raises(VerificationError) as caught:
        verify_bundle(sealed, trusted)
    assert (caught.value.reason, caught.value.step) == (Reason.MALFORMED, "events")
    assert "nested more than 128 levels deep" in caught.value.message


def test_nesting_at_the_limit_is_not_what_fails(keys: KeySet) -> None:
    # The deepest document cjson reads: the bundle is then refused for its signature only.
    bundle = json.loads(data_file(BUNDLE_PATH).read_bytes())
    bundle["timestamp_proofs"] = _deep(cjson.MAX_DEPTH - 2)
    report = verify_bundle_report(json.dumps(bundle).encode(), keys)
    assert report.reason == Reason.BUNDLE_SHA256_MISMATCH


MEMORY_LIMIT = 1 << 30  # address space for the whole child: interpreter, libraries, input

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    from issuer.keys.keyset import KeySet
    from issuer.verify import verify_bundle_report
    bundle = json.loads(open(sys.argv[1], "rb").read())
    bundle["events"] += [{{}}] * 1_000_000  # 3 MB of junk events
    data = json.dumps(bundle, separators=(",", ":")).encode()
    assert len(data) > 3_000_000, len(data)
    report = verify_bundle_report(data, KeySet.load(Path(sys.argv[2])))
    print(report.reason, report.failed_step)
    """
)


def test_a_3mb_bundle_of_junk_events_is_refused_within_a_memory_limit() -> None:
    """Memory bounded by input: 3 MB of junk is refused under a 1 GiB address-space limit.

    It used to take 4 GB (every junk event checked, every error kept).
    """
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD.format(limit=MEMORY_LIMIT),
            str(data_file(BUNDLE_PATH)),
            str(ROOT / "keys"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["malformed", "structure"]
