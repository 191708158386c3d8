"""Hash-chained, signed events (spec §7): build, hash, sign, re-sign, check.

An event's identity is the SHA-256 of its content: everything but
``signature``, ``content_sha256`` and ``event_id``. The signature sits
outside, over the 32 raw content-digest bytes (``signed_message``
``open_graph_event_sha256_bytes``), so an event is re-signed under a new key
without changing its id. Chains run per (subject, target) through
``prev_event``.

This module checks one event at a time; what a *set* of events means is
:mod:`issuer.merge`'s job.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any

from issuer import cjson
from issuer._signatures import signature_object, wrong_fixed_field
from issuer._time import format_seconds, parse_micros, parse_seconds
from issuer.errors import FormatError, VerificationError
from issuer.keys import Signer, verify
from issuer.keys.keyset import KeySet
from issuer.reasons import Reason
from issuer.receipts import decode_signature

SCHEMA_VERSION = "1.0"
SIGNED_MESSAGE = "open_graph_event_sha256_bytes"
EVENT_ID_PREFIX = "sha256:"

CONTENT_FIELDS = (
    "event_type",
    "subject_pith_number",
    "target",
    "payload",
    "signer",
    "created_at",
    "supersedes",
    "prev_event",
    "schema_version",
)
ENVELOPE_FIELDS = ("signature", "content_sha256", "event_id")
SIGNATURE_FIELDS = (
    "signature_status",
    "algorithm",
    "key_id",
    "public_key_fingerprint",
    "signature_b64",
    "signed_at",
    "signed_message",
)
SIGNER_FIELDS = ("signer_id", "signer_type", "key_id", "public_key_fingerprint")

_EVENT_ID_RE = re.compile(r"sha256:[0-9a-f]{64}")
_EVENT_FIELDS = frozenset(CONTENT_FIELDS + ENVELOPE_FIELDS)
_SIGNER_FIELDS = frozenset(SIGNER_FIELDS)
_SIGNATURE_FIELDS = frozenset(SIGNATURE_FIELDS)


@dataclass(frozen=True)
class EventType:
    """What an event type targets and where the merge puts it."""

    name: str
    target: str
    current: str


#: Every event type (spec §7 and the registry's decision for the rest).
EVENT_TYPES: dict[str, EventType] = {
    t.name: t
    for t in (
        EventType("record_created", "record", "record_created"),
        EventType("graph_snapshot", "graph", "graph_snapshots"),
        EventType("author_attestation", "author", "author_attestations"),
        EventType("timestamp_anchor", "timestamp", "timestamp_anchors"),
        EventType("storage_attestation", "storage", "storage_attestations"),
        EventType("citation_signature", "citation", "citation_signatures"),
        EventType("replication_record", "replication", "replication_records"),
        EventType("correction", "correction", "corrections"),
        EventType("mirror_hint", "mirror", "mirror_hints"),
        EventType("source_alias", "alias", "source_aliases"),
    )
}


def content_of(event: dict[str, Any]) -> dict[str, Any]:
    """The part of an event its id covers."""
    content = dict(event)  # copied in C, then the envelope taken off
    for name in ENVELOPE_FIELDS:
        content.pop(name, None)
    return content


def content_digest(event: dict[str, Any], *, parsed: bool = False) -> bytes:
    """SHA-256 of the event content: the bytes the event signature covers.

    Args:
        event: the event.
        parsed: the event came from :func:`issuer.cjson.loads` (already validated).

    Raises:
        CanonicalJSONError: if the content is outside the canonical domain.
    """
    content = content_of(event)
    data = cjson.dumps_parsed(content) if parsed else cjson.dumps(content)
    return hashlib.sha256(data).digest()


def build_event(
    event_type: str,
    subject: str,
    payload: dict[str, Any],
    signer: Signer,
    created_at: datetime,
    *,
    prev_event: str | None = None,
    supersedes: tuple[str, ...] = (),
    signed_at: datetime | None = None,
    trusted: bool = False,
) -> dict[str, Any]:
    """Build and sign an event; its content is serialized and hashed once.

    ``trusted``: ``subject`` and ``payload`` were built by this toolkit from
    checked, typed fields (issuance's ``record_created``), so hashing skips the
    validation walk (:func:`issuer.cjson.dumps_parsed`). Anything taken from a
    user or a file is not trusted.

    Raises:
        ValueError: for an unknown event type or a malformed reference.
        CanonicalJSONError: if an untrusted payload is outside the canonical domain.
    """
    kind = EVENT_TYPES.get(event_type)
    if kind is None:
        raise ValueError(f"unknown event type {event_type!r}; known: {', '.join(EVENT_TYPES)}")
    for ref in (prev_event, *supersedes):
        if ref is not None and not _EVENT_ID_RE.fullmatch(ref):
            raise ValueError(f"not an event id: {ref!r}")
    event: dict[str, Any] = {
        "event_type": event_type,
        "subject_pith_number": subject,
        "target": kind.target,
        "payload": payload,
        "signer": signer.public_key.signer_dict(),
        "created_at": format_seconds(created_at),
        "supersedes": sorted(set(supersedes)),
        "prev_event": prev_event,
        "schema_version": SCHEMA_VERSION,
    }
    return _signed(event, content_digest(event, parsed=trusted), signer, signed_at or created_at)


def sign_event(
    event: dict[str, Any],
    signer: Signer,
    signed_at: datetime,
    *,
    parsed: bool = False,
    digest: bytes | None = None,
) -> dict[str, Any]:
    """A copy of ``event`` (re-)signed by ``signer``; its content and id are unchanged.

    The event's ``signer`` object is part of its content, so it still names the
    key that first signed; the ``signature`` object names the key that signed now.
    ``parsed``: the event came from :func:`issuer.cjson.loads` (hashing skips re-validation).
    ``digest``: :func:`content_digest` of ``event``, when the caller has it already.
    """
    if digest is None:
        digest = content_digest(event, parsed=parsed)
    return _signed(event, digest, signer, signed_at)


def _signed(
    event: dict[str, Any], digest: bytes, signer: Signer, signed_at: datetime
) -> dict[str, Any]:
    """``event`` with its signature over ``digest`` (its content's SHA-256), hash and id."""
    return {
        **event,
        "signature": signature_object(
            signer, digest, signed_message=SIGNED_MESSAGE, signed_at=signed_at
        ),
        "content_sha256": digest.hex(),
        "event_id": EVENT_ID_PREFIX + digest.hex(),
    }


def claimed_id(event: Any) -> str:
    """The id an event claims, or a content-derived stand-in for one too malformed to claim one."""
    if isinstance(event, dict) and isinstance(event.get("event_id"), str):
        return str(event["event_id"])
    try:
        return EVENT_ID_PREFIX + cjson.sha256_hex(event)
    except FormatError:  # pragma: no cover - events come from cjson.loads
        return EVENT_ID_PREFIX + "0" * 64


def _fail(reason: Reason, message: str) -> VerificationError:
    return VerificationError(message, reason=reason, step="events")


def _check_shape(event: Any) -> None:
    if not isinstance(event, dict):
        raise _fail(Reason.MALFORMED, "event is not an object")
    if event.keys() != _EVENT_FIELDS:
        fields = set(_EVENT_FIELDS)
        missing, extra = sorted(fields - set(event)), sorted(set(event) - fields)
        raise _fail(Reason.MALFORMED, f"event fields: missing {missing}, unexpected {extra}")
    if event["schema_version"] != SCHEMA_VERSION:
        raise _fail(Reason.MALFORMED, f"schema_version {event['schema_version']!r:.80}")
    for name in ("event_type", "subject_pith_number", "target", "created_at"):
        if not isinstance(event[name], str):
            raise _fail(Reason.MALFORMED, f"{name} must be a string")
    try:
        parse_seconds(event["created_at"])
    except FormatError as e:
        raise _fail(Reason.MALFORMED, f"created_at: {e.message}") from e
    if not isinstance(event["payload"], dict):
        raise _fail(Reason.MALFORMED, "payload must be an object")
    prev = event["prev_event"]
    if prev is not None and (not isinstance(prev, str) or not _EVENT_ID_RE.fullmatch(prev)):
        raise _fail(Reason.MALFORMED, "prev_event must be an event id or null")
    sup = event["supersedes"]
    if not isinstance(sup, list) or (
        sup  # most events supersede nothing
        and (
            not all(isinstance(s, str) and _EVENT_ID_RE.fullmatch(s) for s in sup)
            or sup != sorted(set(sup))
        )
    ):
        raise _fail(Reason.MALFORMED, "supersedes must be a sorted list of distinct event ids")
    _check_signer_shapes(event)


def _check_signer_shapes(event: dict[str, Any]) -> None:
    signer = event["signer"]
    if not isinstance(signer, dict) or signer.keys() != _SIGNER_FIELDS:
        raise _fail(Reason.MALFORMED, "signer must hold exactly " + ", ".join(SIGNER_FIELDS))
    if not all(map(isinstance, signer.values(), repeat(str))):  # the loop runs in C
        raise _fail(Reason.MALFORMED, "signer fields must be strings")
    sig = event["signature"]
    if not isinstance(sig, dict) or sig.keys() != _SIGNATURE_FIELDS:
        raise _fail(Reason.MALFORMED, "signature must hold exactly " + ", ".join(SIGNATURE_FIELDS))
    wrong = wrong_fixed_field(sig, SIGNED_MESSAGE)
    if wrong is not None:
        raise _fail(Reason.MALFORMED, f"signature.{wrong}")
    try:
        parse_micros(sig["signed_at"])
    except FormatError as e:
        raise _fail(Reason.MALFORMED, f"signature.signed_at: {e.message}") from e


def check_event(event: Any, subject: str, keys: KeySet, *, parsed: bool = False) -> None:
    """Check one event on its own: shape, type, subject, content hash, id and signature.

    Type-specific payload rules and everything that needs the other events
    (``prev_event``, equivocation) are checked by the merge. ``parsed`` says
    the event came from :func:`issuer.cjson.loads`, which lets hashing skip
    re-validation.

    Raises:
        VerificationError: with the reason the merge lists the event under.
    """
    _check_shape(event)
    kind = EVENT_TYPES.get(event["event_type"])
    if kind is None:
        raise _fail(Reason.UNKNOWN_TYPE, f"unknown event type {event['event_type']!r:.80}")
    if event["target"] != kind.target:
        raise _fail(
            Reason.WRONG_TARGET,
            f"{kind.name} events target {kind.target!r}, not {event['target']!r:.80}",
        )
    if event["subject_pith_number"] != subject:
        raise _fail(
            Reason.WRONG_SUBJECT, f"event is about {event['subject_pith_number']}, not {subject}"
        )
    try:
        digest = content_digest(event, parsed=parsed)
    except FormatError as e:
        raise _fail(Reason.MALFORMED, e.message) from e
    digest_hex = digest.hex()
    if event["content_sha256"] != digest_hex:
        raise _fail(Reason.CONTENT_HASH_MISMATCH, "content_sha256 is not the hash of the content")
    if event["event_id"] != EVENT_ID_PREFIX + digest_hex:
        raise _fail(Reason.EVENT_ID_MISMATCH, "event_id is not sha256:<content_sha256>")
    sig = event["signature"]
    try:
        signature = decode_signature(sig["signature_b64"], "event signature")
    except FormatError as e:
        raise _fail(Reason.MALFORMED, e.message) from e
    try:
        key = keys.require(
            sig["key_id"], sig["public_key_fingerprint"], parse_micros(sig["signed_at"])
        )
    except VerificationError as e:
        raise _fail(Reason(e.reason), e.message) from e
    if not verify(key.raw, digest, signature):
        raise _fail(Reason.BAD_SIGNATURE, f"signature does not verify under key {key.key_id}")
    signer = event["signer"]
    named = keys.get(signer["key_id"])
    if named is None:
        raise _fail(Reason.UNKNOWN_KEY, f"signer names key {signer['key_id']!r:.80}, not trusted")
    if signer["public_key_fingerprint"] != named.fingerprint:
        raise _fail(Reason.FINGERPRINT_MISMATCH, "signer fingerprint does not match its key")
