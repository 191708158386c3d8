"""Registry operations over the store: resolve aliases, show records, add events, build bundles.

The CLI's ``resolve``, ``show``, ``event add`` and ``bundle`` commands are
thin wrappers over these functions.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from issuer.bundles import build_bundle, require_supported
from issuer.errors import Error, FormatError, StoreError, UsageError, VerificationError
from issuer.events import EVENT_TYPES, build_event
from issuer.identifiers import (
    ARXIV_DOI_PREFIX,
    PithNumber,
    ShortPith,
    parse_any,
    parse_pith_number,
)
from issuer.keys import Signer
from issuer.keys.keyset import KeySet, shipped_material
from issuer.merge import merge
from issuer.reasons import Reason
from issuer.record import ARXIV_ID_RE
from issuer.store import IssuedRecord, Store

_VERSIONED = re.compile(rf"({ARXIV_ID_RE.pattern})v([1-9][0-9]*)")
_ARXIV_PREFIX = re.compile(r"^(?:arxiv:|https?://arxiv\.org/abs/)", re.IGNORECASE)
_DOI_URL_PREFIX = re.compile(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)", re.IGNORECASE)
# An old-style id: archive (lower case), optional subject class (upper case), number.
_OLD_STYLE = re.compile(r"([a-z][a-z-]*)(?:\.([a-z]{2}))?/([0-9]{7})", re.IGNORECASE)


@dataclass(frozen=True)
class Resolution:
    """What an alias resolves to: every candidate, never one picked silently."""

    query: str
    kind: str
    candidates: list[str]

    @property
    def unique(self) -> str | None:
        """The one Pith number, if the alias names exactly one."""
        return self.candidates[0] if len(self.candidates) == 1 else None


def resolve(store: Store, text: str) -> Resolution:
    """Resolve a Pith number, short form, arXiv id (with or without version) or arXiv DOI.

    Short forms are 8, 12 or 16 characters; arXiv ids may carry an ``arXiv:`` or
    abs-URL prefix.

    Raises:
        FormatError: if ``text`` is none of those.
    """
    query = text.strip()
    if query.startswith("pith:"):
        try:
            parsed = parse_any(query)
        except FormatError as e:
            raise UsageError(e.message, hint=e.hint) from e
        if isinstance(parsed, PithNumber):
            found = [str(parsed)] if store.record(str(parsed)) else []
            return Resolution(query, "pith_number", found)
        assert isinstance(parsed, ShortPith)  # noqa: S101 - parse_any returns one of the two
        return Resolution(
            query, f"pith_short_{len(parsed.prefix)}", store.by_code_prefix(parsed.prefix)
        )
    doi = _DOI_URL_PREFIX.sub("", query)
    if doi.lower().startswith(ARXIV_DOI_PREFIX):
        # Like doi.org, which sends an arXiv DOI to the abstract page: the newest version.
        # DOIs are case-insensitive; arXiv ids are not, so the id is put back in its case.
        arxiv_id = _arxiv_case(doi[len(ARXIV_DOI_PREFIX) :])
        return Resolution(query, "doi", store.current_arxiv(arxiv_id))
    bare = _ARXIV_PREFIX.sub("", query)
    versioned = _VERSIONED.fullmatch(bare)
    if versioned:
        return Resolution(query, "arxiv_version", store.by_version(versioned[1], int(versioned[2])))
    if ARXIV_ID_RE.fullmatch(bare):
        return Resolution(query, "arxiv", store.current_arxiv(bare))
    raise UsageError(
        f"cannot resolve {text!r}",
        hint="give a Pith number (pith:2018:…), a short form (pith:AH5S4WE2), an arXiv id "
        "(1811.06992 or 1811.06992v2) or an arXiv DOI (10.48550/arxiv.1811.06992)",
    )


@dataclass(frozen=True)
class RecordRefusal:
    """A record the registry holds but that no longer passes, and what to do about it.

    ``reason`` does not repeat the Pith number: a refusal line names the record once.
    """

    pith_number: str
    reason: str
    hint: str | None = None

    @classmethod
    def of(cls, pith_number: str, error: Error) -> RecordRefusal:
        """The refusal of ``pith_number`` that ``error`` stands for.

        Errors about one record name it first (``NUMBER: why``), for a command
        that prints the error alone; that prefix is left out here.
        """
        reason = error.message.removeprefix(f"{pith_number}: ")
        return cls(pith_number, reason, error.hint)

    def __str__(self) -> str:
        return f"{self.pith_number}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form: its fields."""
        return asdict(self)


@dataclass(frozen=True)
class Candidates:
    """The records behind a resolution, and those the registry holds but that no longer pass."""

    records: list[IssuedRecord]
    refusals: list[RecordRefusal]


def candidate_records(store: Store, numbers: list[str]) -> Candidates:
    """Read the records ``numbers`` name; one that no longer passes is reported, not fatal.

    A record issued by an older release under a looser grammar must not hide
    the others an alias names (an ambiguous short form).
    """
    records: list[IssuedRecord] = []
    refusals: list[RecordRefusal] = []
    for number in numbers:
        try:
            issued = store.record(number)
        except FormatError as e:
            refusals.append(RecordRefusal.of(number, e))
            continue
        if issued is not None:
            records.append(issued)
    return Candidates(records, refusals)


def issued_versions(store: Store, query: str) -> list[int]:
    """The versions issued of the arXiv id in ``query``, when it names a version that is not."""
    unversioned = re.sub(r"v[0-9]+$", "", query)
    if unversioned == query:
        return []
    versions: set[int] = set()
    for issued in candidate_records(store, resolve(store, unversioned).candidates).records:
        source_id = issued.record.to_dict()["source"]["id"]
        versions.update(h["version"] for h in store.alias_history(source_id))
    return sorted(versions)


def _arxiv_case(text: str) -> str:
    """An arXiv id in arXiv's case: ``MATH.gt/0309136`` → ``math.GT/0309136``."""
    old = _OLD_STYLE.fullmatch(text)
    if old is None:
        return text  # a new-style id is digits and a dot: no case
    archive, subject, number = old.groups()
    return f"{archive.lower()}{'.' + subject.upper() if subject else ''}/{number}"


def trusted_keys(store: Store, extra: KeySet | None = None) -> KeySet:
    """The keys the registry's own state is computed with: every key it has signed with.

    ``extra``: the operator's own key set, which carries the rotations and
    revocations (:meth:`issuer.keys.local.LocalKeys.keys`). The shipped keys,
    the keys signed with and ``extra`` are trusted together, by the same
    builder as a verifier's (:mod:`issuer.keys._trust`), so a rule that spans
    two of them (a fork, one key under two ids, a retired key's revocation)
    refuses here what every verifier would refuse.

    Raises:
        VerificationError: a key set that cannot be trusted (``bad_key_statement``).
    """
    material = shipped_material()
    material.keys.extend(store.keys_used())
    if extra is not None:
        material.extend(extra.material())
    return KeySet.trusting(material)


def _require(store: Store, pith_number: str) -> IssuedRecord:
    try:
        number = parse_pith_number(pith_number)
    except FormatError as e:
        raise UsageError(e.message, hint="find the full number with: pith resolve") from e
    issued = store.record(number)
    if issued is None:
        raise StoreError(
            f"no record {pith_number} in {store.name}", hint="find it with: pith resolve"
        )
    return issued


def show(store: Store, pith_number: str, extra: KeySet | None = None) -> dict[str, Any]:
    """The record, its receipt, aliases, alias history and merged state.

    Raises:
        StoreError: if there is no such record.
    """
    issued = _require(store, pith_number)
    number = issued.pith_number
    aliases = issued.aliases
    state = merge(number, store.events(number), aliases, trusted_keys(store, extra))
    arxiv = issued.record.source_id
    return {
        "pith_number": number,
        "canonical_record": issued.record.to_dict(),
        "canonical_sha256": issued.record.canonical_sha256,
        "issued_at": issued.issued_at,
        "receipt": store.receipt(number),
        "source_aliases": aliases,
        "arxiv_alias_now_points_to": store.current_arxiv(arxiv),
        "arxiv_alias_history": store.alias_history(arxiv),
        "state": state,
    }


def add_event(
    store: Store,
    pith_number: str,
    event_type: str,
    payload: Any,
    signer: Signer,
    *,
    now: datetime,
    supersedes: tuple[str, ...] = (),
    extra: KeySet | None = None,
) -> dict[str, Any]:
    """Sign an event and append it to the head of its (subject, target) chain.

    Raises:
        StoreError: unknown record, or the chain moved on under a concurrent writer twice.
        FormatError: unknown type or a payload that is not a JSON object.
    """
    issued = _require(store, pith_number)
    number = issued.pith_number
    kind = EVENT_TYPES.get(event_type)
    if kind is None or event_type == "record_created":
        raise UsageError(
            f"cannot add an event of type {event_type!r}",
            hint="one of: " + ", ".join(t for t in EVENT_TYPES if t != "record_created"),
        )
    if not isinstance(payload, dict):
        raise FormatError("an event payload is a JSON object")
    for _attempt in range(3):
        head = store.chain_head(number, kind.target)
        event = build_event(
            event_type, number, payload, signer, now, prev_event=head, supersedes=supersedes
        )
        keys = trusted_keys(store, extra)
        state = merge(number, [*store.events(number), event], issued.aliases, keys)
        mine = next(
            (e for e in state["invalid_events"] if e["event_id"] == event["event_id"]), None
        )
        if mine is not None:
            raise VerificationError(
                f"the new event would be invalid: {mine['reason']}", reason=Reason(mine["reason"])
            )
        try:
            store.add_key(signer.public_key)
            store.append_event(event)
        except StoreError:
            continue
        return event
    raise StoreError(f"the {kind.target} chain of {number} keeps moving; try again")


def bundle(
    store: Store,
    pith_number: str,
    signer: Signer,
    now: datetime,
    base_url: str,
    *,
    extra: KeySet | None = None,
) -> dict[str, Any]:
    """Build and sign the bundle of one record.

    Raises:
        StoreError: if there is no such record.
        VerificationError: an event (or its receipt) the registry holds does not verify.
    """
    issued = _require(store, pith_number)
    number = issued.pith_number
    store.add_key(signer.public_key)
    events = store.events(number)
    keys = trusted_keys(store, extra)
    aliases = issued.aliases
    state = merge(number, events, aliases, keys)
    require_supported(number, state)
    return build_bundle(
        issued.record,
        aliases,
        events,
        keys,
        signer,
        built_at=now,
        base_url=base_url,
        state=state,
    )
