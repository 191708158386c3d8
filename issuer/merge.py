"""Merge ``pith-open-graph-merge-v1``: a set of events → the state of one record (spec §8).

The state is a function of the *set* of events: duplicates collapse by event
id and no step depends on input order, so every verifier that trusts the
same keys computes the same ``state_sha256``.

1. Each distinct event is checked on its own (:func:`issuer.events.check_event`)
   and by its type's payload rules; failures are listed as invalid, with a reason.
2. Chains are checked to a fixed point: an event whose ``prev_event`` is not a
   valid event of the same (subject, target), or which supersedes an event
   that is not valid, is invalid too.
3. Equivocation: two valid events by the same signer in the same slot
   (subject, target, prev_event), neither superseding the other. Both are
   listed and neither is applied; events that build on them are not applied.
4. The rest is applied in ``(created_at, event_id)`` order, a ``prev_event``
   always first; superseded events leave ``current`` but stay in
   ``applied_event_ids``.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from issuer import cjson
from issuer.errors import FormatError, VerificationError
from issuer.events import EVENT_TYPES, check_event, claimed_id
from issuer.identifiers import PithNumber
from issuer.keys.keyset import KeySet
from issuer.reasons import Reason
from issuer.receipts import verify_receipt
from issuer.record import CanonicalRecord

MERGE_VERSION = "pith-open-graph-merge-v1"
STATE_TYPE = "pith_open_graph_state"
STATE_VERSION = "1.0"
LISTS = (
    "graph_snapshots",
    "author_attestations",
    "timestamp_anchors",
    "storage_attestations",
    "citation_signatures",
    "replication_records",
    "corrections",
    "mirror_hints",
)
RECORD_PAYLOAD_FIELDS = {
    "canonical_record",
    "canonical_sha256",
    "receipt",
    "source_kind",
    "source_id",
    "source_version",
    "attestation_state",
}


@dataclass(frozen=True)
class CheckedRecord:
    """What a verifier established about a bundle's record before the merge.

    ``record_bytes`` is the canonical JSON of the bundle's ``canonical_record``,
    parsed as ``record``, which derives ``subject``; every object in
    ``receipts`` verified against ``record.canonical_sha256``. A
    ``record_created`` payload whose record has exactly those bytes, and whose
    receipt is one of those objects, is then not parsed, derived or verified
    again: the results are the same, because they follow from the same bytes
    and the receipt verified without the countersignature the merge allows.
    """

    record_bytes: bytes
    record: CanonicalRecord
    subject: str
    receipts: tuple[Any, ...]

    def same_record(self, raw: Any, parsed: bool) -> bool:
        """Whether ``raw`` is the record this describes (its canonical bytes are equal)."""
        try:
            data = cjson.dumps_parsed(raw) if parsed else cjson.dumps(raw)
        except FormatError:
            return False
        return data == self.record_bytes

    def verified(self, receipt: Any) -> bool:
        """Whether ``receipt`` is one of the objects verified for the record."""
        return any(receipt is r for r in self.receipts)


def _invalid(reason: Reason, message: str) -> VerificationError:
    return VerificationError(message, reason=reason, step="merge")


def check_payload(
    event: dict[str, Any],
    subject: str,
    keys: KeySet,
    *,
    checked: CheckedRecord | None = None,
    parsed: bool = False,
) -> None:
    """Type-specific rules for an event that passed :func:`check_event`.

    ``checked``: what the caller already verified about the record (see
    :class:`CheckedRecord`); ``parsed`` as for :func:`merge`.

    Raises:
        VerificationError: reason ``invalid_payload`` (or the receipt's reason).
    """
    payload = event["payload"]
    kind = event["event_type"]
    if kind == "record_created":
        _check_record_created(event, payload, subject, keys, checked=checked, parsed=parsed)
    elif kind == "graph_snapshot" and (
        not isinstance(payload.get("graph_snapshot"), dict) or "verdict_id" not in payload
    ):
        raise _invalid(Reason.INVALID_PAYLOAD, "graph_snapshot needs graph_snapshot and verdict_id")
    elif kind == "source_alias" and not _is_alias_payload(payload):
        raise _invalid(Reason.INVALID_PAYLOAD, "source_alias needs alias_kind and alias_value")


def _is_alias_payload(payload: dict[str, Any]) -> bool:
    return set(payload) == {"alias_kind", "alias_value"} and all(
        isinstance(payload[k], str) and payload[k] for k in payload
    )


def _check_record_created(
    event: dict[str, Any],
    payload: dict[str, Any],
    subject: str,
    keys: KeySet,
    *,
    checked: CheckedRecord | None,
    parsed: bool,
) -> None:
    if set(payload) != RECORD_PAYLOAD_FIELDS:
        raise _invalid(Reason.INVALID_PAYLOAD, "record_created payload fields differ")
    if event["prev_event"] is not None or event["supersedes"]:
        raise _invalid(Reason.INVALID_PAYLOAD, "record_created starts its chain")
    known = (
        checked
        if checked is not None
        and checked.subject == subject
        and checked.same_record(payload["canonical_record"], parsed)
        else None
    )
    if known is not None:
        record = known.record
    else:
        try:
            record = CanonicalRecord.from_dict(payload["canonical_record"])
        except FormatError as e:
            raise _invalid(Reason.INVALID_PAYLOAD, e.message) from e
    if payload["canonical_sha256"] != record.canonical_sha256:
        raise _invalid(Reason.CANONICAL_SHA256_MISMATCH, "payload canonical_sha256 is wrong")
    if known is None and str(PithNumber.for_record(record)) != subject:
        raise _invalid(Reason.PITH_NUMBER_MISMATCH, "record does not derive the subject")
    expected = {
        "source_kind": record.source_kind,
        "source_id": record.source_id,
        "source_version": record.version,
        "attestation_state": "computed",
    }
    for name, value in expected.items():
        if payload[name] != value:
            raise _invalid(Reason.INVALID_PAYLOAD, f"payload {name} is not {value!r}")
    # check_event has verified the event's own signature: it countersigns the receipt.
    if known is None or not known.verified(payload["receipt"]):
        verify_receipt(payload["receipt"], record.canonical_sha256, keys, countersigned=True)


def _entry(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": event["event_id"],
        "target": event["target"],
        "created_at": event["created_at"],
        "signer": event["signer"],
        "payload": event["payload"],
    }


def _validate_all(
    events: Iterable[Any],
    subject: str,
    keys: KeySet,
    problems: dict[str, VerificationError],
    *,
    parsed: bool,
    checked: CheckedRecord | None,
) -> tuple[int, dict[str, dict[str, Any]], dict[str, Reason]]:
    copies: dict[str, list[Any]] = {}
    for event in events:
        copies.setdefault(claimed_id(event), []).append(event)
    valid: dict[str, dict[str, Any]] = {}
    invalid: dict[str, Reason] = {}
    for event_id, group in copies.items():
        # Only the error to report is kept (the first by reason), not one per copy:
        # a bundle of many bad copies of one event must not hold every traceback.
        first: VerificationError | None = None
        # Copies of one id differ at most in their signature; any valid one will do,
        # and trying them in a canonical order keeps the result order-free.
        for event in sorted(group, key=_sort_key) if len(group) > 1 else group:
            try:
                check_event(event, subject, keys, parsed=parsed)
                check_payload(event, subject, keys, checked=checked, parsed=parsed)
            except VerificationError as e:
                if first is None or str(e.reason) < str(first.reason):
                    first = e.with_traceback(None)
            else:
                valid[event_id] = event
                break
        else:
            assert first is not None  # noqa: S101 - a group is never empty
            invalid[event_id] = Reason(first.reason)
            problems[event_id] = first
    return len(copies), valid, invalid


def _sort_key(event: Any) -> bytes:
    try:
        return cjson.dumps(event)
    except FormatError:  # pragma: no cover - events come from cjson.loads
        return b""


def _check_chains(valid: dict[str, dict[str, Any]], invalid: dict[str, Reason]) -> None:
    changed = True
    while changed:
        changed = False
        for event_id, event in sorted(valid.items()):
            reason = _chain_problem(event, valid)
            if reason is not None:
                del valid[event_id]
                invalid[event_id] = reason
                changed = True


def _chain_problem(event: dict[str, Any], valid: dict[str, dict[str, Any]]) -> Reason | None:
    prev = event["prev_event"]
    if prev is not None:
        before = valid.get(prev)
        if before is None:
            return Reason.MISSING_PREV_EVENT
        if before["target"] != event["target"]:
            return Reason.PREV_EVENT_OTHER_CHAIN
    if any(s not in valid for s in event["supersedes"]):
        return Reason.UNKNOWN_SUPERSEDED_EVENT
    return None


def _equivocations(valid: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], set[str]]:
    slots: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for event in valid.values():
        slot = (event["signer"]["signer_id"], event["target"], event["prev_event"] or "")
        slots.setdefault(slot, []).append(event)
    if len(slots) == len(valid):  # one event per slot: nothing to compare
        return [], set()
    found: list[dict[str, Any]] = []
    conflicted: set[str] = set()
    for (signer_id, target, prev), members in sorted(slots.items()):
        ids: set[str] = set()
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if a["event_id"] not in b["supersedes"] and b["event_id"] not in a["supersedes"]:
                    ids.update((a["event_id"], b["event_id"]))
        if ids:
            conflicted |= ids
            found.append(
                {
                    "signer_id": signer_id,
                    "target": target,
                    "prev_event": prev or None,
                    "event_ids": sorted(ids),
                }
            )
    return found, conflicted


def _application_order(applied: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Topological order over prev_event, ties broken by (created_at, event_id)."""
    children: dict[str, list[str]] = {}
    waiting: dict[str, int] = {}
    heap: list[tuple[str, str]] = []
    for event_id, event in applied.items():
        prev = event["prev_event"]
        if prev in applied:
            children.setdefault(prev, []).append(event_id)
            waiting[event_id] = 1
        else:
            heapq.heappush(heap, (event["created_at"], event_id))
    order = []
    while heap:
        _, event_id = heapq.heappop(heap)
        order.append(applied[event_id])
        for child in children.get(event_id, []):
            waiting[child] -= 1
            if not waiting[child]:
                heapq.heappush(heap, (applied[child]["created_at"], child))
    return order


def merge(
    pith_number: str,
    events: Iterable[Any],
    aliases: Iterable[dict[str, Any]],
    keys: KeySet,
    *,
    parsed: bool = False,
) -> dict[str, Any]:
    """Compute the state of ``pith_number`` from a set of events and its base aliases.

    Args:
        pith_number: the subject.
        events: the events, in any order, duplicates allowed.
        aliases: the record's source aliases (the six the registry derives).
        keys: the trusted keys; an event signed by any other key is invalid.
        parsed: the events came from :func:`issuer.cjson.loads` (the registry's
            own, as publishing reads them): they are not walked again.

    Returns:
        The state object, with ``state_sha256``.
    """
    return merge_explained(pith_number, events, aliases, keys, parsed=parsed)[0]


def merge_explained(
    pith_number: str,
    events: Iterable[Any],
    aliases: Iterable[dict[str, Any]],
    keys: KeySet,
    *,
    parsed: bool = False,
    checked: CheckedRecord | None = None,
) -> tuple[dict[str, Any], dict[str, VerificationError]]:
    """:func:`merge`, plus the error behind each event found invalid on its own.

    The verifier uses the errors to say precisely why an event failed, passes
    ``parsed=True`` for events that came from :func:`issuer.cjson.loads`, and
    passes ``checked``, what it has verified of the record already
    (:class:`CheckedRecord`), so that the ``record_created`` payload is compared
    with it rather than checked again.
    """
    problems: dict[str, VerificationError] = {}
    event_count, valid, invalid = _validate_all(
        events, pith_number, keys, problems, parsed=parsed, checked=checked
    )
    _check_chains(valid, invalid)
    equivocations, conflicted = _equivocations(valid)
    applied = {k: v for k, v in valid.items() if k not in conflicted} if conflicted else dict(valid)
    # Events built on an equivocating event are not applied either.
    changed = True
    while changed:
        changed = False
        for event_id, event in sorted(applied.items()):
            prev = event["prev_event"]
            if prev is not None and prev not in applied:
                del applied[event_id]
                invalid[event_id] = Reason.PREV_EVENT_NOT_APPLIED
                changed = True

    current: dict[str, Any] = {
        "canonical_record": None,
        "source_aliases": [],
        "record_created": None,
        **{name: [] for name in LISTS},
    }
    alias_list = list(map(dict, aliases))
    superseded: set[str] = set()
    order = _application_order(applied)
    for event in order:
        kind = EVENT_TYPES[event["event_type"]]
        superseded.update(event["supersedes"])
        if kind.name == "record_created":
            if current["record_created"] is None:
                current["record_created"] = _entry(event)
                current["canonical_record"] = event["payload"]["canonical_record"]
        elif kind.name == "source_alias":
            alias_list.append({**event["payload"], "created_at": event["created_at"]})
        else:
            current[kind.current].append(_entry(event))
    if superseded:  # most bundles supersede nothing
        for name in LISTS:
            current[name] = [e for e in current[name] if e["event_id"] not in superseded]
    current["source_aliases"] = _aliases(alias_list)

    state: dict[str, Any] = {
        "state_type": STATE_TYPE,
        "state_version": STATE_VERSION,
        "pith_number": pith_number,
        "merge_version": MERGE_VERSION,
        "event_count": event_count,
        "valid_event_count": event_count - len(invalid),
        "invalid_event_count": len(invalid),
        "equivocation_count": len(equivocations),
        "current": current,
        "equivocations": equivocations,
        "invalid_events": [
            {"event_id": event_id, "reason": str(reason)}
            for event_id, reason in sorted(invalid.items())
        ],
        "applied_event_ids": [e["event_id"] for e in order],
    }
    data = cjson.dumps_parsed(state) if parsed else cjson.dumps(state)
    state["state_sha256"] = hashlib.sha256(data).hexdigest()
    return state, problems


def _aliases(aliases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unique by (kind, value), the earliest ``created_at`` kept, sorted by kind then value."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for alias in aliases:
        key = (alias["alias_kind"], alias["alias_value"])
        if key not in best or alias["created_at"] < best[key]["created_at"]:
            best[key] = alias
    return [best[k] for k in sorted(best)]
