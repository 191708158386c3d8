"""Re-issuance: re-sign every receipt and event signature in the registry under one key.

After a rotation, and above all after a compromise (spec §10), what an old
key signed must be vouched for by the current one. Only signatures change:
Pith numbers, canonical hashes and event ids stay what they were. A receipt
keeps ``first_computed_at`` and gets a new ``signed_at`` and
``last_reissued_at``; an event keeps its content (its ``signer`` still names
the key that created it) and gets a new ``signature``. The receipt inside a
``record_created`` event is part of that event's content, so it is left as
it was and the event's new signature countersigns it.

Resumable by construction: records are walked in row-id order in batches
(re-signed by worker processes when the key is in memory), each batch
committed in order in one transaction, and anything already signed by
the current key is skipped, so a rerun after a crash (or a second run) only
does what is left. Bundles are not stored; they are re-signed by
republishing (:func:`issuer.publish.publish` rewrites every bundle when the
signing key changes).

Nothing is re-signed that the registry did not sign: before a receipt or an
event is re-signed, its stored signature must verify, under the key it names
taken from the registry's key set (:func:`issuer.registry.trusted_keys`), over
the content as stored. Someone who could write the database but held no key
could otherwise change an event, recompute its hash and id, and have it
re-signed under the current key. Validity windows and revocations do not
apply to this check: re-signing what a since-revoked (even compromised) key
signed is what re-issuance is for, and only the registry's signature over the
very bytes stored passes it. One that does not verify is left as it was and
refused by name (:class:`Refusal`); the rest of the run goes on.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from issuer import cjson
from issuer._workers import signing_pool, worker_signer
from issuer.errors import EXIT_OK, EXIT_REFUSED, FormatError, StoreError
from issuer.events import EVENT_ID_PREFIX, content_digest, sign_event
from issuer.keys import PublicKey, SeedSigner, Signer, verify
from issuer.keys.keyset import KeySet
from issuer.receipts import check_receipt_shape, decode_signature, reissue_receipt
from issuer.registry import trusted_keys
from issuer.store import EventRow, ReceiptRow, ResignBatch, Store, loaded, with_receipt

if TYPE_CHECKING:
    from issuer.publish import PublishSummary

BATCH = 1000


REFUSED_HINT = "restore the row from a backup, or issue the record again"


@dataclass(frozen=True)
class Refusal:
    """A receipt or event left as it was: its stored signature does not verify.

    Or, with ``bundle``, a record whose bundle was not republished (``--out``):
    the record no longer passes (:class:`issuer.registry.RecordRefusal`).
    """

    pith_number: str
    event_id: str | None  # None: the record's receipt, or its bundle
    reason: str  # what is wrong
    hint: str | None = REFUSED_HINT
    bundle: bool = False

    def __str__(self) -> str:
        what = "receipt" if self.event_id is None else f"event {self.event_id}"
        return f"{self.pith_number}: {'bundle' if self.bundle else what}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form: its fields."""
        return asdict(self)


@dataclass
class ReissueSummary:
    """Counts per object type: re-signed now, already under the current key, and refused."""

    key_id: str
    records: int = 0
    receipts: int = 0
    events: int = 0
    bundles: int = 0
    receipts_current: int = 0
    events_current: int = 0
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def refused(self) -> int:
        """Receipts, events and (``--out``) bundles left as they were: refused."""
        return len(self.refusals)

    def add_published(self, published: PublishSummary) -> None:
        """Count a republished tree (``--out``): its bundles written, and those refused."""
        self.bundles = published.written
        self.refusals.extend(
            Refusal(r.pith_number, None, r.reason, r.hint, bundle=True) for r in published.refusals
        )

    @property
    def exit_code(self) -> int:
        """1 when anything was refused, else 0."""
        return EXIT_REFUSED if self.refusals else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` report."""
        return {
            "key_id": self.key_id,
            "records": self.records,
            "resigned": {"receipts": self.receipts, "events": self.events, "bundles": self.bundles},
            "already_current": {"receipts": self.receipts_current, "events": self.events_current},
            "refused": self.refused,
            "refusals": [r.to_dict() for r in self.refusals],
        }


def _is_current(signature: dict[str, Any], signer: Signer) -> bool:
    return bool(
        signature.get("key_id") == signer.key_id
        and signature.get("public_key_fingerprint") == signer.public_key.fingerprint
    )


@dataclass
class Resigned:
    """One batch, re-signed, as the rows to write (made and checked where it was signed)."""

    receipts: list[tuple[int, str, ReceiptRow]] = field(default_factory=list)
    events: list[tuple[int, int, EventRow]] = field(default_factory=list)
    receipts_current: int = 0
    events_current: int = 0
    refusals: list[Refusal] = field(default_factory=list)


_ALTERED_HINT = "restore the registry from a backup; nothing in this batch was re-signed"


def _stored_object(value: Any, what: str, row: int) -> dict[str, Any]:
    """``value``, a stored JSON object; anything else means the registry was altered.

    Raises:
        StoreError: ``value`` is not an object (named as ``what`` and its ``row``).
    """
    if isinstance(value, dict):
        return value
    raise StoreError(
        f"{what} {row} is not a JSON object: the registry was altered", hint=_ALTERED_HINT
    )


def _unverified(
    signature: dict[str, Any], digest: bytes, keys: Mapping[str, PublicKey], where: str
) -> str | None:
    """Why ``signature`` over ``digest`` is not the registry's, or ``None`` when it verifies.

    Only "is this the signature the registry stored for these bytes": the key
    it names must be in ``keys`` and the signature must verify under it. The
    key's validity window and any revocation do not matter here (see the
    module docstring).
    """
    key_id = signature.get("key_id")
    key = keys.get(key_id) if isinstance(key_id, str) else None
    if key is None:
        return f"{where} names key {key_id!r:.80}, which is not in the registry's key set"
    if signature.get("public_key_fingerprint") != key.fingerprint:
        return f"{where} names a fingerprint that is not the fingerprint of key {key.key_id}"
    try:
        raw = decode_signature(signature.get("signature_b64"), where)
    except FormatError as e:
        return e.message
    if not verify(key.raw, digest, raw):
        return f"{where} does not verify under key {key.key_id}"
    return None


def resign(
    batch: ResignBatch, signer: Signer, now: datetime, keys: Mapping[str, PublicKey]
) -> Resigned:
    """Re-sign one batch of stored objects (pure: reads nothing, writes nothing).

    Each new receipt and event is serialized once, and split into the compact
    row the writer stores, checked here to rebuild the bytes signed. A receipt
    or event whose stored signature does not verify under the key it names in
    ``keys`` (the registry's key set, by key id) is not re-signed but refused.

    Raises:
        StoreError: a stored event does not hash to its own id, or a stored receipt,
            event or event signature is not a JSON object (the registry was altered).
        FormatError: a stored receipt or event is malformed.
    """
    done = Resigned()
    # Compact rows come as objects, not as JSON to parse back (ResignBatch.parsed).
    for record in batch.parsed():
        context = record.context
        receipt = _stored_object(loaded(record.receipt), "the receipt of record row", record.row_id)
        resigned = False
        if _is_current(receipt, signer):
            done.receipts_current += 1
        elif (problem := _stored_receipt_problem(receipt, keys)) is not None:
            done.refusals.append(Refusal(context.pith_number, None, problem))
        else:
            new = reissue_receipt(receipt, signer, now)
            new_json = cjson.dumps_parsed(new)
            done.receipts.append(
                (record.row_id, signer.key_id, batch.receipt_row(context, new, new_json))
            )
            context = with_receipt(context, new_json)  # what its events now rebuild from
            resigned = True
        for row_id, body, kept in record.events:
            event = _stored_object(loaded(body), "event row", row_id)
            signature = _stored_object(event.get("signature"), "the signature of event row", row_id)
            if _is_current(signature, signer):
                done.events_current += 1
                continue
            digest = content_digest(event, parsed=True)
            if EVENT_ID_PREFIX + digest.hex() != event["event_id"]:
                raise StoreError(
                    f"event {event['event_id']} of {event['subject_pith_number']} does not "
                    "hash to its id: the registry was altered",
                    hint=_ALTERED_HINT,
                )
            problem = _unverified(signature, digest, keys, "signature")
            if problem is not None:
                done.refusals.append(Refusal(context.pith_number, event["event_id"], problem))
                continue
            signed = sign_event(event, signer, now, parsed=True, digest=digest)
            row = batch.event_row(
                context, signed, cjson.dumps_parsed(signed), kept_first=kept or resigned
            )
            done.events.append((row_id, record.row_id, row))
    return done


def _stored_receipt_problem(receipt: dict[str, Any], keys: Mapping[str, PublicKey]) -> str | None:
    """Why a stored receipt's signature is not the registry's, or ``None`` when it verifies.

    Raises:
        FormatError: the receipt is malformed.
    """
    check_receipt_shape(receipt)
    digest = bytes.fromhex(receipt["canonical_sha256"])  # what a receipt signs
    return _unverified(receipt, digest, keys, "signature")


def _resign_in_worker(batch: ResignBatch, now: datetime, keys: Mapping[str, PublicKey]) -> Resigned:
    return resign(batch, worker_signer(), now, keys)


def reissue(
    store: Store,
    signer: Signer,
    *,
    now: datetime,
    batch: int = BATCH,
    workers: int = 1,
    on_batch: Callable[[ReissueSummary], None] | None = None,
    extra: KeySet | None = None,
) -> ReissueSummary:
    """Re-sign every receipt and event not yet signed by ``signer``'s key.

    Batches are re-signed by ``workers`` processes (an in-memory key only; an
    HSM signs in this process) and written here, in row-id order, so what is
    committed is always a prefix of the registry and a rerun resumes after it.
    A receipt or event whose stored signature does not verify under the key it
    names, of the registry's key set with ``extra`` (the operator's keys), is
    left as it was and listed in :attr:`ReissueSummary.refusals`.

    Raises:
        StoreError: a stored event does not hash to its own id (the registry was
            altered): nothing of its batch or later ones is written.
        FormatError: a stored receipt or event is malformed.
    """
    summary = ReissueSummary(signer.key_id)
    store.add_key(signer.public_key)
    keys = {key.key_id: key for key in trusted_keys(store, extra)}
    parallel = workers > 1 and isinstance(signer, SeedSigner)
    inflight: deque[tuple[int, Resigned | Future[Resigned]]] = deque()
    with contextlib.ExitStack() as stack:
        pool: ProcessPoolExecutor | None = None

        def write(keep: int) -> None:
            while len(inflight) > keep:
                records, pending = inflight.popleft()
                done = pending if isinstance(pending, Resigned) else pending.result()
                store.write_resigned(done.receipts, done.events)
                summary.records += records
                summary.receipts += len(done.receipts)
                summary.events += len(done.events)
                summary.receipts_current += done.receipts_current
                summary.events_current += done.events_current
                summary.refusals.extend(done.refusals)
                if on_batch is not None:
                    on_batch(summary)

        stored = store.resign_batch(0, batch)
        while stored is not None:
            # Read one batch ahead: workers start once there is a second batch (a
            # one-batch run never starts them), and then sign while this process writes.
            following = store.resign_batch(stored.last_row_id, batch)
            # A batch its rows say is signed by this key already (a rerun) is checked
            # here: starting and feeding workers would cost more than it does.
            current = stored.signed_by(signer.key_id)
            if pool is None and parallel and following is not None and not current:
                assert isinstance(signer, SeedSigner)  # noqa: S101 - checked above
                pool = stack.enter_context(signing_pool(signer, workers))
            job: Resigned | Future[Resigned] = (
                resign(stored, signer, now, keys)
                if pool is None or current
                else pool.submit(_resign_in_worker, stored, now, keys)
            )
            inflight.append((len(stored.records), job))
            write(2 * workers if pool is not None else 0)
            stored = following
        write(0)
    return summary
