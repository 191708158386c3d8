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
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from issuer import cjson
from issuer._workers import signing_pool, worker_signer
from issuer.errors import StoreError
from issuer.events import sign_event
from issuer.keys import SeedSigner, Signer
from issuer.receipts import reissue_receipt
from issuer.store import EventRow, ReceiptRow, ResignBatch, Store, loaded, with_receipt

BATCH = 1000


@dataclass
class ReissueSummary:
    """Counts per object type: re-signed now, and already under the current key."""

    key_id: str
    records: int = 0
    receipts: int = 0
    events: int = 0
    bundles: int = 0
    receipts_current: int = 0
    events_current: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` report."""
        return {
            "key_id": self.key_id,
            "records": self.records,
            "resigned": {"receipts": self.receipts, "events": self.events, "bundles": self.bundles},
            "already_current": {"receipts": self.receipts_current, "events": self.events_current},
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


def resign(batch: ResignBatch, signer: Signer, now: datetime) -> Resigned:
    """Re-sign one batch of stored objects (pure: reads nothing, writes nothing).

    Each new receipt and event is serialized once, and split into the compact
    row the writer stores, checked here to rebuild the bytes signed.

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
        if _is_current(receipt, signer):
            done.receipts_current += 1
            resigned = False
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
            signed = sign_event(event, signer, now, parsed=True)
            if signed["event_id"] != event["event_id"]:
                raise StoreError(
                    f"event {event['event_id']} of {event['subject_pith_number']} does not "
                    "hash to its id: the registry was altered",
                    hint=_ALTERED_HINT,
                )
            row = batch.event_row(
                context, signed, cjson.dumps_parsed(signed), kept_first=kept or resigned
            )
            done.events.append((row_id, record.row_id, row))
    return done


def _resign_in_worker(batch: ResignBatch, now: datetime) -> Resigned:
    return resign(batch, worker_signer(), now)


def reissue(
    store: Store,
    signer: Signer,
    *,
    now: datetime,
    batch: int = BATCH,
    workers: int = 1,
    on_batch: Callable[[ReissueSummary], None] | None = None,
) -> ReissueSummary:
    """Re-sign every receipt and event not yet signed by ``signer``'s key.

    Batches are re-signed by ``workers`` processes (an in-memory key only; an
    HSM signs in this process) and written here, in row-id order, so what is
    committed is always a prefix of the registry and a rerun resumes after it.

    Raises:
        StoreError: a stored event does not hash to its own id (the registry was
            altered): nothing of its batch or later ones is written.
        FormatError: a stored receipt or event is malformed.
    """
    summary = ReissueSummary(signer.key_id)
    store.add_key(signer.public_key)
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
                resign(stored, signer, now)
                if pool is None or current
                else pool.submit(_resign_in_worker, stored, now)
            )
            inflight.append((len(stored.records), job))
            write(2 * workers if pool is not None else 0)
            stored = following
        write(0)
    return summary
