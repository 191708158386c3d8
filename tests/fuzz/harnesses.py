"""Fuzz targets: each takes arbitrary bytes and may raise only :class:`issuer.errors.Error`.

Any other exception (``KeyError``, ``ValueError``, ``RecursionError``,
``MemoryError``…) escaping a target is a bug: hostile input must be refused
with the toolkit's own error. The same targets run under atheris
(``make fuzz``, coverage-guided) and in the test suite (corpus replay plus
seeded mutations, :mod:`tests.fuzz.test_replay`).

Targets:

- ``cjson``: :func:`issuer.cjson.loads`, and for what it accepts, that
  writing and reading again is the identity.
- ``sources``: :func:`issuer.sources.read_stream` over XML, JSON lines or
  gzip, every item consumed, every record derived.
- ``keys``: a key record, key list or key document (with rotation and
  revocation statements) loaded and trusted, and the same bytes read as a
  ``seen-keys.json``.
- ``verify_bytes``: the verifier on raw bytes: the report variant never
  raises, the raising variant raises only ``VerificationError``.
- ``verify_mutated``: the bytes drive structural edits of the registry's
  real bundle (tests/data/conformance); the result is verified as it is, and
  also re-sealed by a trusted test key (event hashes, ids and signatures, the
  state and the bundle signature recomputed) so that the edit reaches the
  checks behind the hashes: payloads, receipts, chains, the merge.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import json
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from issuer import cjson
from issuer.bundles import sign_bundle
from issuer.derive import derive
from issuer.errors import Error, VerificationError
from issuer.events import sign_event
from issuer.identifiers import ALIAS_KINDS
from issuer.keys import SeedSigner
from issuer.keys._seen import load_seen
from issuer.keys.keyset import KeySet, load_key_file
from issuer.merge import merge
from issuer.sources import SourceMetadata, read_stream
from issuer.verify import verify_bundle_report
from issuer.verify._verifier import verify_bundle, verify_bundle_bytes
from tests.fuzz.mutate import Choices, mutate

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "tests" / "data" / "conformance" / "pith-AH5S4WE2-bundle.json"
SHIPPED_KEYS = ROOT / "keys"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
SEALER = SeedSigner("test-fuzz-sealer", b"\x07" * 32)

Target = Callable[[bytes], None]


@functools.cache
def _keys() -> KeySet:
    """The registry's shipped key, and the test key that re-seals mutated bundles."""
    shipped = KeySet.load(SHIPPED_KEYS)
    return KeySet([*shipped, SEALER.public_key])


@functools.cache
def _bundle() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(BUNDLE.read_bytes())
    return data


@functools.cache
def _scratch() -> Path:
    """One file the key targets write to (the loaders read paths)."""
    folder = Path(tempfile.mkdtemp(prefix="pith-fuzz-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder / "input.json"


def fuzz_cjson(data: bytes) -> None:
    """``cjson.loads``; what it accepts round-trips exactly."""
    try:
        value = cjson.loads(data)
    except Error:
        return
    once = cjson.dumps(value)
    if cjson.loads(once) != value or cjson.dumps(cjson.loads(once)) != once:
        raise AssertionError(f"canonical round trip changed {data[:80]!r}")


def fuzz_sources(data: bytes) -> None:
    """Every reader, on any bytes: read everything, derive every record read."""
    try:
        for item in read_stream(io.BytesIO(data), "fuzz"):
            if isinstance(item, SourceMetadata):
                derive(item, NOW)
    except Error:
        return


def fuzz_keys(data: bytes) -> None:
    """Key records, lists and documents; then the same bytes as seen-keys.json."""
    path = _scratch()
    path.write_bytes(data)
    with contextlib.suppress(Error):
        KeySet.trusting(load_key_file(path))
    try:
        load_seen(path)
    except Error:
        return


def _check_verify(data: bytes) -> None:
    report = verify_bundle_report(data, _keys(), "fuzz")
    try:
        verify_bundle_bytes(data, _keys())
    except VerificationError as e:
        if report.ok or report.reason != e.reason:
            raise AssertionError(f"report says {report.reason}, verify raised {e.reason}") from e
    else:
        if not report.ok:
            raise AssertionError(f"report says {report.reason}, verify passed")


def fuzz_verify_bytes(data: bytes) -> None:
    """The verifier on raw bytes: only ``VerificationError``, and the report agrees."""
    _check_verify(data)


def _reseal(bundle: Any, choices: Choices) -> Any:
    """Recompute what the edit broke, signed by the trusted test key, as far as it goes."""
    if not isinstance(bundle, dict):
        return bundle
    events = bundle.get("events")
    if isinstance(events, list):
        resealed = []
        for event in events:
            try:
                resealed.append(sign_event(event, SEALER, NOW))
            except (Error, AttributeError, KeyError, TypeError):
                resealed.append(event)  # too broken to sign: left as it is
        bundle["events"] = resealed
        if choices.below(2):
            aliases = bundle.get("source_aliases")
            base = [
                a
                for a in (aliases if isinstance(aliases, list) else [])
                if isinstance(a, dict) and a.get("alias_kind") in ALIAS_KINDS
            ]
            try:
                state = merge(str(bundle.get("pith_number")), resealed, base, _keys())
            except (Error, AttributeError, KeyError, TypeError):
                pass  # aliases too broken to merge with: the verifier refuses them first
            else:
                bundle["state"] = state
                bundle["source_aliases"] = state["current"]["source_aliases"]
    try:
        return sign_bundle(bundle, SEALER, NOW)
    except Error:
        return bundle


def fuzz_verify_mutated(data: bytes) -> None:
    """Structural edits of the real bundle, verified as they are and re-sealed."""
    choices = Choices(data)
    mutated = mutate(_bundle(), choices)
    if choices.below(2):
        mutated = _reseal(mutated, choices)
    try:
        raw = cjson.dumps(mutated)
    except Error:
        return
    _check_verify(raw)
    try:  # the parsed-value entry point, which re-validates while hashing
        verify_bundle(mutated, _keys())
    except VerificationError:
        return


HARNESSES: dict[str, Target] = {
    "cjson": fuzz_cjson,
    "sources": fuzz_sources,
    "keys": fuzz_keys,
    "verify_bytes": fuzz_verify_bytes,
    "verify_mutated": fuzz_verify_mutated,
}
