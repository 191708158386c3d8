"""Bundle verification as numbered steps, in the spec's order; fails closed.

Each step raises :class:`VerificationError` with a stable :class:`Reason` and
its step name. Anything malformed is a failure (reason ``malformed``), never
an exception of another type: every ``ValueError``/``KeyError`` a hostile
document could provoke is caught at the parse and turned into one.

Trust comes only from the :class:`KeySet` the caller passes. ``public_keys``
inside the bundle are hints: a hint that conflicts with a trusted key fails,
and a bundle signed end to end by an untrusted key fails as ``unknown_key``.

Unsigned by design: the ``bundle_signature`` object is outside the bundle
hash, so its ``signed_at`` can be changed without detection (it is still
checked for format and against the key's validity window). Every other value
in a bundle is covered by the bundle signature and, for events and receipts,
by their own signatures too.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import repeat
from typing import Any

from issuer import cjson
from issuer._signatures import wrong_fixed_field
from issuer._time import parse_micros, parse_seconds
from issuer.bundles import (
    BUNDLE_FIELDS,
    BUNDLE_TYPE,
    BUNDLE_VERSION,
    MAX_EVENTS,
    SIGNATURE_FIELDS,
    SIGNED_MESSAGE,
)
from issuer.errors import FormatError, VerificationError
from issuer.events import check_event, claimed_id
from issuer.identifiers import ALIAS_KINDS, PithNumber, expected_alias_values
from issuer.keys import verify
from issuer.keys.keyset import KeySet, parse_key_document
from issuer.merge import MERGE_VERSION, CheckedRecord, merge_explained
from issuer.reasons import Reason
from issuer.receipts import decode_signature, verify_receipt
from issuer.record import CanonicalRecord
from issuer.verify._proofs import LogPolicy, verify_log_proofs

STEPS = (
    "structure",
    "canonical_record",
    "pith_number",
    "aliases",
    "key_hints",
    "receipt",
    "events",
    "state",
    "bundle_signature",
    "log",
)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_BUNDLE_FIELDS = frozenset(BUNDLE_FIELDS)
_SIGNATURE_FIELDS = frozenset(SIGNATURE_FIELDS)
_ALIAS_FIELDS = frozenset(("alias_kind", "alias_value", "created_at"))
_DEFAULT_LOG = LogPolicy()  # frozen: one instance serves every run
_FIXED = (
    ("bundle_type", BUNDLE_TYPE),
    ("bundle_version", BUNDLE_VERSION),
    ("merge_version", MERGE_VERSION),
)


def _fail(step: str, reason: Reason, message: str) -> VerificationError:
    return VerificationError(message, reason=reason, step=step)


@lru_cache(maxsize=64)
def _hints(document: bytes) -> tuple[tuple[str, bytes], ...] | str:
    """(key id, raw key) of each key hint in canonical ``document``, or why it is malformed.

    Once per process for each distinct ``public_keys`` list: a registry's bundles
    repeat the same few. The bytes are canonical JSON, so parsing them again
    gives exactly the value they were written from.
    """
    try:
        keys = parse_key_document(cjson.loads(document), "public_keys").keys
    except FormatError as e:
        return e.message
    return tuple((k.key_id, k.raw) for k in keys)


@dataclass(frozen=True)
class VerifiedBundle:
    """What a verified bundle establishes."""

    pith_number: str
    canonical_sha256: str
    record: CanonicalRecord
    state_sha256: str
    bundle_sha256: str
    signed_by: str


@dataclass
class VerificationReport:
    """The outcome of verifying one input: every step passed, or the first that failed."""

    source: str
    ok: bool
    passed: list[str] = field(default_factory=list)
    failed_step: str | None = None
    reason: str | None = None
    message: str | None = None
    pith_number: str | None = None
    result: VerifiedBundle | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "source": self.source,
            "ok": self.ok,
            "pith_number": self.pith_number,
            "checks": [{"step": s, "ok": True} for s in self.passed]
            + (
                [
                    {
                        "step": self.failed_step,
                        "ok": False,
                        "reason": self.reason,
                        "message": self.message,
                    }
                ]
                if not self.ok
                else []
            ),
            "reason": self.reason,
            "message": self.message,
            "state_sha256": self.result.state_sha256 if self.result else None,
            "bundle_sha256": self.result.bundle_sha256 if self.result else None,
        }


class _Run:
    """One verification: the steps in order, recording which passed."""

    def __init__(
        self, bundle: Any, keys: KeySet, *, parsed: bool = False, log: LogPolicy | None = None
    ) -> None:
        self.bundle = bundle
        self.keys = keys
        self.log = log or _DEFAULT_LOG
        self.parsed = parsed  # the bundle came from cjson.loads: hashing may skip re-validation
        self.passed: list[str] = []
        self.receipts: list[Any] = []  # the record_created receipts step (6) verified

    def _sha256(self, value: Any) -> bytes:
        try:
            data = cjson.dumps_parsed(value) if self.parsed else cjson.dumps(value)
        except FormatError as e:
            raise _fail("structure", Reason.MALFORMED, e.message) from e
        return hashlib.sha256(data).digest()

    def run(self) -> VerifiedBundle:
        b = self.bundle
        # (1) structure: exactly the bundle's fields, fixed values, well-formed containers
        built_at = self._structure()
        self.passed.append("structure")
        # (2) canonical record → canonical_sha256
        try:
            record = CanonicalRecord.from_dict(b["canonical_record"])
        except FormatError as e:
            raise _fail("canonical_record", Reason.MALFORMED, e.message) from e
        if b["canonical_sha256"] != record.canonical_sha256:
            raise _fail(
                "canonical_record",
                Reason.CANONICAL_SHA256_MISMATCH,
                f"canonical_sha256 is {b['canonical_sha256']!r:.80}; the record hashes to "
                f"{record.canonical_sha256}",
            )
        self.passed.append("canonical_record")
        # (3) Pith number, short form and source follow from the record
        number = PithNumber.for_record(record)
        if b["pith_number"] != str(number):
            raise _fail("pith_number", Reason.PITH_NUMBER_MISMATCH, f"the record derives {number}")
        if b["short_pith_number"] != number.short:
            raise _fail(
                "pith_number", Reason.SHORT_PITH_NUMBER_MISMATCH, f"short form is {number.short}"
            )
        if b["source"] != record.source_dict():
            raise _fail("pith_number", Reason.SOURCE_MISMATCH, "source differs from the record")
        self.passed.append("pith_number")
        # (4) aliases: the six derived ones, with the values the record implies
        base = self._aliases(record, number)
        self.passed.append("aliases")
        # (5) key hints never conflict with trusted keys
        self._key_hints()
        self.passed.append("key_hints")
        # (6) the receipt of the record_created event
        self._receipt(record, str(number))
        self.passed.append("receipt")
        # (7) every event: content hash, id, signature, payload, chain (computed by the merge);
        # a record_created payload is compared with what steps (2), (3) and (6) verified
        ours = self._events(str(number), base, self._checked(record, str(number)))
        self.passed.append("events")
        # (8) the state follows from the events
        state_sha256 = self._state(ours)
        self.passed.append("state")
        # (9) the bundle hash and signature
        digest, signer = self._signature()
        self.passed.append("bundle_signature")
        # (10) log proofs, when present or required (issuer.verify._proofs); a report
        # lists the step only then, so a bundle without proofs reports as before
        if b["timestamp_proofs"] or self.log.require:
            verify_log_proofs(b, self.keys, built_at, self.log)
            self.passed.append("log")
        return VerifiedBundle(
            str(number), record.canonical_sha256, record, state_sha256, digest, signer
        )

    def _structure(self) -> datetime:
        """Check the bundle's shape; return its ``built_at``."""
        b = self.bundle
        if not isinstance(b, dict):
            raise _fail("structure", Reason.MALFORMED, "a bundle is a JSON object")
        if b.keys() != _BUNDLE_FIELDS:
            missing, extra = (
                sorted(set(BUNDLE_FIELDS) - set(b)),
                sorted(set(b) - set(BUNDLE_FIELDS)),
            )
            raise _fail("structure", Reason.MALFORMED, f"missing {missing}, unexpected {extra}")
        for name, value in _FIXED:
            if b[name] != value:
                raise _fail(
                    "structure", Reason.MALFORMED, f"{name} is {b[name]!r:.80}, not {value!r}"
                )
        for name in ("source_aliases", "events", "timestamp_proofs", "mirror_hints", "public_keys"):
            if not isinstance(b[name], list):
                raise _fail("structure", Reason.MALFORMED, f"{name} must be a list")
        if len(b["events"]) > MAX_EVENTS:
            raise _fail(
                "structure",
                Reason.MALFORMED,
                f"{len(b['events'])} events; a bundle holds at most {MAX_EVENTS}",
            )
        for name in ("links", "state", "bundle_signature", "source"):
            if not isinstance(b[name], dict):
                raise _fail("structure", Reason.MALFORMED, f"{name} must be an object")
        if not all(map(isinstance, b["links"].values(), repeat(str))):  # loops in C
            raise _fail("structure", Reason.MALFORMED, "links must map names to URLs")
        if not all(map(isinstance, b["mirror_hints"], repeat(dict))):
            raise _fail("structure", Reason.MALFORMED, "mirror_hints must be objects")
        try:
            return parse_seconds(b["built_at"])
        except FormatError as e:
            raise _fail("structure", Reason.MALFORMED, f"built_at: {e.message}") from e

    def _aliases(self, record: CanonicalRecord, number: PithNumber) -> list[dict[str, Any]]:
        aliases = self.bundle["source_aliases"]
        for alias in aliases:
            if (
                not isinstance(alias, dict)
                or alias.keys() != _ALIAS_FIELDS
                or not isinstance(alias["alias_kind"], str)
                or not isinstance(alias["alias_value"], str)
                or not isinstance(alias["created_at"], str)
            ):
                raise _fail("aliases", Reason.MALFORMED, f"malformed alias {alias!r:.80}")
            try:
                parse_seconds(alias["created_at"])
            except FormatError as e:
                raise _fail("aliases", Reason.MALFORMED, f"alias created_at: {e.message}") from e
        expected = expected_alias_values(record, number)
        base = [a for a in aliases if a["alias_kind"] in ALIAS_KINDS]
        got = {a["alias_kind"]: a["alias_value"] for a in base}
        if len(base) != len(ALIAS_KINDS) or got != expected:
            wrong = sorted(k for k in ALIAS_KINDS if got.get(k) != expected[k])
            raise _fail(
                "aliases",
                Reason.ALIAS_MISMATCH,
                f"aliases {', '.join(wrong) or 'duplicated'} do not match the record",
            )
        return base

    def _key_hints(self) -> None:
        hints = self._parsed_hints()
        if isinstance(hints, str):
            raise _fail("key_hints", Reason.MALFORMED, hints)
        for key_id, raw in hints:
            trusted = self.keys.get(key_id)
            if trusted is not None and trusted.raw != raw:
                raise _fail(
                    "key_hints",
                    Reason.UNTRUSTED_KEY_HINT,
                    f"public_keys lists a different key under the trusted id {key_id}",
                )

    def _parsed_hints(self) -> tuple[tuple[str, bytes], ...] | str:
        """The key hints as (key id, raw key), or why they are malformed."""
        if self.parsed:  # canonical bytes name the value exactly: parse each list once
            return _hints(cjson.dumps_parsed(self.bundle["public_keys"]))
        try:
            keys = parse_key_document(self.bundle["public_keys"], "public_keys").keys
        except FormatError as e:
            return e.message
        return tuple((k.key_id, k.raw) for k in keys)

    def _checked(self, record: CanonicalRecord, subject: str) -> CheckedRecord | None:
        """What steps (2), (3) and (6) established, for the merge to compare with."""
        raw = self.bundle["canonical_record"]
        try:
            data = cjson.dumps_parsed(raw) if self.parsed else cjson.dumps(raw)
        except FormatError:
            return None
        return CheckedRecord(data, record, subject, tuple(self.receipts))

    def _receipt(self, record: CanonicalRecord, subject: str) -> None:
        created = [
            e
            for e in self.bundle["events"]
            if isinstance(e, dict) and e.get("event_type") == "record_created"
        ]
        if not created:
            raise _fail("receipt", Reason.MISSING_RECORD_CREATED, "no record_created event")
        for event in created:
            payload = event.get("payload")
            receipt = payload.get("receipt") if isinstance(payload, dict) else None
            try:
                try:
                    verify_receipt(receipt, record.canonical_sha256, self.keys)
                except VerificationError as e:
                    # A receipt by a since-revoked key counts only when the event that
                    # carries it was re-signed by a key that does count.
                    if e.reason != Reason.KEY_REVOKED or not self._countersigned(event, subject):
                        raise
                    verify_receipt(receipt, record.canonical_sha256, self.keys, countersigned=True)
            except VerificationError as e:
                raise _fail("receipt", Reason(e.reason), e.message) from e
            self.receipts.append(receipt)

    def _countersigned(self, event: dict[str, Any], subject: str) -> bool:
        """Whether the event's own signature is valid, by a key that counts."""
        try:
            check_event(event, subject, self.keys, parsed=self.parsed)
        except VerificationError:
            return False
        return True

    def _events(
        self, subject: str, base: list[dict[str, Any]], checked: CheckedRecord | None
    ) -> dict[str, Any]:
        events = self.bundle["events"]
        try:
            ours, problems = merge_explained(
                subject, events, base, self.keys, parsed=self.parsed, checked=checked
            )
        except FormatError as e:  # a state that cannot be written: nested too deeply
            raise _fail("events", Reason.MALFORMED, e.message) from e
        for entry in ours["invalid_events"]:
            index = next(
                (i for i, e in enumerate(events) if claimed_id(e) == entry["event_id"]), "?"
            )
            problem = problems.get(entry["event_id"])
            message = problem.message if problem else f"not applicable: {entry['reason']}"
            raise _fail("events", Reason(entry["reason"]), f"events[{index}]: {message}")
        return ours

    def _state(self, ours: dict[str, Any]) -> str:
        state = self.bundle["state"]
        claimed = state.get("state_sha256")
        unhashed = dict(state)  # a copy without state_sha256, made in C
        unhashed.pop("state_sha256", None)
        if claimed != self._sha256(unhashed).hex():
            raise _fail(
                "state", Reason.STATE_SHA256_MISMATCH, "state_sha256 is not the hash of the state"
            )
        if ours != state:
            differing = sorted(k for k in set(ours) | set(state) if ours.get(k) != state.get(k))
            raise _fail(
                "state",
                Reason.STATE_MISMATCH,
                f"the state does not follow from the events (differs in {', '.join(differing)})",
            )
        if self.bundle["source_aliases"] != ours["current"]["source_aliases"]:
            raise _fail("state", Reason.ALIAS_MISMATCH, "source_aliases differ from the state's")
        return str(ours["state_sha256"])

    def _signature(self) -> tuple[str, str]:
        sig = self.bundle["bundle_signature"]
        if sig.keys() != _SIGNATURE_FIELDS:
            raise _fail("bundle_signature", Reason.MALFORMED, "bundle_signature fields differ")
        wrong = wrong_fixed_field(sig, SIGNED_MESSAGE)
        if wrong is not None:
            raise _fail("bundle_signature", Reason.MALFORMED, wrong)
        try:
            signed_at = parse_micros(sig["signed_at"])
            signature = decode_signature(sig["signature_b64"], "bundle_signature")
        except FormatError as e:
            raise _fail("bundle_signature", Reason.MALFORMED, e.message) from e
        unsigned = dict(self.bundle)  # every field but the signature (step (1) checked them)
        del unsigned["bundle_signature"]
        digest = self._sha256(unsigned)
        if sig["bundle_sha256"] != digest.hex():
            raise _fail(
                "bundle_signature",
                Reason.BUNDLE_SHA256_MISMATCH,
                "bundle_sha256 is not the hash of the bundle",
            )
        try:
            key = self.keys.require(sig["key_id"], sig["public_key_fingerprint"], signed_at)
        except VerificationError as e:
            raise _fail("bundle_signature", Reason(e.reason), e.message) from e
        if not verify(key.raw, digest, signature):
            raise _fail(
                "bundle_signature",
                Reason.BAD_BUNDLE_SIGNATURE,
                f"bundle signature does not verify under key {key.key_id}",
            )
        return digest.hex(), key.key_id


def verify_bundle(bundle: Any, keys: KeySet, *, log: LogPolicy | None = None) -> VerifiedBundle:
    """Verify a parsed bundle; raise on the first failing step.

    ``log``: what to ask of its log proofs (default: check those present).

    Raises:
        VerificationError: with ``reason`` and ``step``.
    """
    return _Run(bundle, keys, log=log).run()


def verify_bundle_bytes(
    data: bytes, keys: KeySet, *, log: LogPolicy | None = None
) -> VerifiedBundle:
    """Parse strictly (no duplicate keys, no floats…) and verify.

    Raises:
        VerificationError: with ``reason`` and ``step``.
    """
    try:
        bundle = cjson.loads(data)
    except FormatError as e:
        raise _fail("structure", Reason.MALFORMED, e.message) from e
    return _Run(bundle, keys, parsed=True, log=log).run()


def verify_bundle_report(
    data: bytes,
    keys: KeySet,
    source: str = "",
    *,
    expected: str | None = None,
    log: LogPolicy | None = None,
) -> VerificationReport:
    """Verify and return a report instead of raising on a failed check.

    ``expected``: the record the bundle was asked for, a full Pith number or
    the code from its URL. A valid bundle of another record fails: a server
    must not answer one record's URL with another's genuine bundle.
    """
    run: _Run | None = None
    try:
        bundle = cjson.loads(data)
        run = _Run(bundle, keys, parsed=True, log=log)
        result = run.run()
    except FormatError as e:
        return VerificationReport(source, False, [], "structure", str(Reason.MALFORMED), e.message)
    except VerificationError as e:
        number = bundle.get("pith_number") if isinstance(bundle, dict) else None
        return VerificationReport(
            source,
            False,
            list(run.passed) if run else [],
            e.step,
            str(e.reason),
            e.message,
            number if isinstance(number, str) else None,
        )
    wanted = expected if expected is None or expected.startswith("pith:") else f":{expected}"
    if wanted is not None and not result.pith_number.endswith(wanted):
        return VerificationReport(
            source,
            False,
            list(run.passed),
            "record",
            str(Reason.WRONG_RECORD),
            f"asked for {expected}, got a bundle of {result.pith_number}",
            result.pith_number,
        )
    return VerificationReport(
        source, True, list(run.passed), pith_number=result.pith_number, result=result
    )
