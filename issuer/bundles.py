"""Bundles (spec §9): everything a verifier needs about one record, signed as a whole.

``bundle_sha256`` is the hash of the bundle without ``bundle_signature``; the
signature (``signed_message`` ``bundle_sha256_bytes``) is over its 32 raw
bytes and carries ``bundle_sha256`` itself. Keys listed in ``public_keys``
are hints for the verifier, never trust.

A bundle holds at most :data:`MAX_EVENTS` events; the verifier refuses a
longer list as ``malformed`` before checking any event, so verifying costs
time and memory in proportion to a bundle the registry could have built.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from issuer import cjson
from issuer._signatures import signature_object
from issuer._time import format_seconds
from issuer.errors import VerificationError
from issuer.identifiers import PithNumber
from issuer.keys import PublicKey, Signer
from issuer.keys.keyset import KeySet
from issuer.merge import MERGE_VERSION, merge
from issuer.reasons import Reason
from issuer.record import CanonicalRecord

BUNDLE_TYPE = "pith_open_graph_bundle"
BUNDLE_VERSION = "1.0"
SIGNED_MESSAGE = "bundle_sha256_bytes"
#: Most events one bundle carries (the registry's bundles hold a handful).
MAX_EVENTS = 10_000

BUNDLE_FIELDS = (
    "bundle_type",
    "bundle_version",
    "pith_number",
    "short_pith_number",
    "canonical_record",
    "canonical_sha256",
    "source",
    "source_aliases",
    "events",
    "timestamp_proofs",
    "mirror_hints",
    "public_keys",
    "merge_version",
    "built_at",
    "links",
    "state",
    "bundle_signature",
)
SIGNATURE_FIELDS = (
    "signature_status",
    "algorithm",
    "key_id",
    "public_key_fingerprint",
    "signature_b64",
    "signed_message",
    "signed_at",
    "bundle_sha256",
)


def bundle_digest(bundle: dict[str, Any], *, parsed: bool = False) -> bytes:
    """SHA-256 of the bundle without its signature: the bytes the bundle signature covers.

    Args:
        bundle: the bundle.
        parsed: every part of it came from :func:`issuer.cjson.loads` or was
            built by this toolkit from such parts and typed fields, so the
            validation walk is skipped (:func:`issuer.cjson.dumps_parsed`).

    Raises:
        CanonicalJSONError: if the bundle is outside the canonical domain.
    """
    unsigned = {k: v for k, v in bundle.items() if k != "bundle_signature"}
    data = cjson.dumps_parsed(unsigned) if parsed else cjson.dumps(unsigned)
    return hashlib.sha256(data).digest()


def paths_for(code: str) -> dict[str, str]:
    """The published paths of a record (spec §9), relative to the base URL."""
    return {
        "resolver": f"/pith/{code}",
        "bundle": f"/pith/{code}/bundle.json",
        "state": f"/pith/{code}/state.json",
        "well_known_bundle": f"/.well-known/pith/{code}/bundle.json",
    }


def links_for(base_url: str, code: str) -> dict[str, str]:
    """The ``links`` object: absolute URLs of the record's published files."""
    base = base_url.rstrip("/")
    return {name: base + path for name, path in paths_for(code).items()}


def mirror_hint(
    base_url: str, code: str, name: str = "Pith Resolver", status: str = "primary"
) -> dict[str, str]:
    """One ``mirror_hints`` entry, in the registry's shape."""
    links = links_for(base_url, code)
    return {
        "mirror_type": "https" if base_url.startswith("https:") else "http",
        "name": name,
        "base_url": base_url.rstrip("/"),
        "bundle_url": links["bundle"],
        "state_url": links["state"],
        "well_known_bundle_url": links["well_known_bundle"],
        "status": status,
    }


def keys_named(
    events: Iterable[dict[str, Any]], keys: KeySet, extra: Iterable[str] = ()
) -> list[PublicKey]:
    """The trusted keys that events (signatures, signers, receipts) and ``extra`` name."""
    ids = set(extra)
    for event in events:
        ids.add(event["signature"]["key_id"])
        ids.add(event["signer"]["key_id"])
        receipt = (
            event["payload"].get("receipt") if event["event_type"] == "record_created" else None
        )
        if isinstance(receipt, dict):
            ids.add(receipt["key_id"])
    return [k for k in keys if k.key_id in ids]


def require_supported(pith_number: str, state: dict[str, Any]) -> None:
    """Refuse to sign a bundle of ``state`` unless every event in it verifies.

    A verifier refuses a bundle with an invalid event (a signature, a receipt
    or a field that does not verify) or without a valid ``record_created``:
    the registry never signs one, whatever its rows hold.

    Raises:
        VerificationError: naming the record, its first invalid event and why.
    """
    invalid = state["invalid_events"]
    if invalid:
        first = invalid[0]
        # A key that no longer counts (revoked, rotated away) is the operator's doing, and
        # reissue is its remedy; anything else means the rows are not what was signed.
        resign = first["reason"] in _KEY_REASONS
        raise VerificationError(
            f"{pith_number}: event {first['event_id']} does not verify ({first['reason']}); "
            "the registry signs no bundle of it"
            + ("; re-sign it under the current key with pith reissue" if resign else ""),
            reason=first["reason"],
            hint=_RESIGN_HINT if resign else _UNSUPPORTED_HINT,
        )
    if state["current"]["record_created"] is None:
        raise VerificationError(
            f"{pith_number}: no record_created event that verifies; "
            "the registry signs no bundle of it",
            reason=Reason.MISSING_RECORD_CREATED,
            hint=_UNSUPPORTED_HINT,
        )


_KEY_REASONS = frozenset({Reason.KEY_REVOKED, Reason.KEY_NOT_VALID})
_RESIGN_HINT = "run pith reissue, then pith publish again"
_UNSUPPORTED_HINT = (
    "the registry was altered or damaged: restore it from a backup; "
    "the other records are not affected"
)


def key_record(key: PublicKey) -> dict[str, Any]:
    """``key.to_dict()``: a bundle's ``public_keys`` entry (a fresh dict; made once per key)."""
    if key.unrecognized_fields:  # not part of the key's hash: not cached
        return key.to_dict()
    return dict(_key_record(key))


@functools.lru_cache(maxsize=64)  # a registry signs with a handful of keys
def _key_record(key: PublicKey) -> dict[str, Any]:
    return key.to_dict()


def sign_bundle(
    bundle: dict[str, Any], signer: Signer, signed_at: datetime, *, parsed: bool = False
) -> dict[str, Any]:
    """A copy of ``bundle`` with a fresh ``bundle_signature`` by ``signer``.

    ``parsed``: as for :func:`bundle_digest`; only for a bundle this toolkit built.
    """
    digest = bundle_digest(bundle, parsed=parsed)  # leaves out any old signature
    signature = signature_object(signer, digest, signed_message=SIGNED_MESSAGE, signed_at=signed_at)
    return {
        **bundle,  # an old bundle_signature is replaced below
        "bundle_signature": {**signature, "bundle_sha256": digest.hex()},
    }


def build_bundle(
    record: CanonicalRecord,
    aliases: list[dict[str, Any]],
    events: list[dict[str, Any]],
    keys: KeySet,
    signer: Signer,
    *,
    built_at: datetime,
    base_url: str,
    timestamp_proofs: list[Any] | None = None,
    state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build and sign the bundle of one record.

    Args:
        record: the canonical record.
        aliases: its six source aliases.
        events: every event about it.
        keys: the registry's keys (to compute the state and list key hints).
        signer: signs the bundle.
        built_at: the build time.
        base_url: where the registry publishes (for ``links`` and ``mirror_hints``).
        timestamp_proofs: carried as given.
        state: the merged state of exactly these events, aliases and keys, when
            the caller has it already (publishing compares it first).
    """
    bundle = _unsigned(
        record, aliases, events, keys, signer, built_at, base_url, timestamp_proofs, state
    )
    # Built here from parsed events, a typed record and the library's own objects:
    # nothing in it needs the validation walk again.
    return sign_bundle(bundle, signer, built_at, parsed=True)


@dataclass(frozen=True)
class BuiltBundle:
    """A signed bundle with its canonical JSON and its state's, each part serialized once."""

    bundle: dict[str, Any]
    data: bytes  # cjson.dumps_parsed(bundle)
    state_data: bytes  # cjson.dumps_parsed(bundle["state"])


def build_bundle_bytes(
    record: CanonicalRecord,
    aliases: list[dict[str, Any]],
    events: list[dict[str, Any]],
    keys: KeySet,
    signer: Signer,
    *,
    built_at: datetime,
    base_url: str,
    timestamp_proofs: list[Any] | None = None,
    state: dict[str, Any] | None = None,
) -> BuiltBundle:
    """:func:`build_bundle`, with the bytes publishing writes, serialized once.

    Every top-level field's value is serialized once (``cjson.dumps_parsed``)
    and the object is joined from them in canonical key order, with and
    without the signature: canonical JSON of an object is its members' keys
    (all ASCII here, so code-point order is UTF-16 order) and their values'
    canonical JSON. The bundle, its bytes and the signature are those
    :func:`build_bundle` and ``cjson.dumps_parsed`` give (Ed25519 signatures
    are deterministic); ``tests/unit/test_bundle_bytes.py`` compares them.
    """
    bundle = _unsigned(
        record, aliases, events, keys, signer, built_at, base_url, timestamp_proofs, state
    )
    parts = {k.encode("ascii"): cjson.dumps_parsed(v) for k, v in bundle.items()}
    digest = hashlib.sha256(_joined(parts)).digest()
    signature = {
        **signature_object(signer, digest, signed_message=SIGNED_MESSAGE, signed_at=built_at),
        "bundle_sha256": digest.hex(),
    }
    parts[b"bundle_signature"] = cjson.dumps_parsed(signature)
    bundle["bundle_signature"] = signature
    return BuiltBundle(bundle, _joined(parts), parts[b"state"])


def _joined(parts: dict[bytes, bytes]) -> bytes:
    """The canonical JSON of an object whose (ASCII) keys map to their values' canonical JSON."""
    return b"{" + b",".join(b'"%s":%s' % (k, parts[k]) for k in sorted(parts)) + b"}"


def _unsigned(  # noqa: PLR0917 - build_bundle's arguments, in its order
    record: CanonicalRecord,
    aliases: list[dict[str, Any]],
    events: list[dict[str, Any]],
    keys: KeySet,
    signer: Signer,
    built_at: datetime,
    base_url: str,
    timestamp_proofs: list[Any] | None,
    state: dict[str, Any] | None,
) -> dict[str, Any]:
    """The bundle without its signature."""
    number = PithNumber.for_record(record)
    if state is None:
        state = merge(str(number), events, aliases, keys)
    return {
        "bundle_type": BUNDLE_TYPE,
        "bundle_version": BUNDLE_VERSION,
        "pith_number": str(number),
        "short_pith_number": number.short,
        "canonical_record": record.to_dict(),
        "canonical_sha256": record.canonical_sha256,
        "source": record.source_dict(),
        "source_aliases": state["current"]["source_aliases"],
        "events": sorted(events, key=lambda e: (e["created_at"], e["event_id"])),
        "timestamp_proofs": list(timestamp_proofs or []),
        "mirror_hints": [mirror_hint(base_url, number.code)],
        "public_keys": [key_record(k) for k in keys_named(events, keys, extra=[signer.key_id])],
        "merge_version": MERGE_VERSION,
        "built_at": format_seconds(built_at),
        "links": links_for(base_url, number.code),
        "state": state,
    }
