"""Re-issuance: re-sign every receipt and event signature in the registry under one key.

After a rotation, and above all after a compromise (spec §10), what an old
key signed must be vouched for by the current one. Only signatures change:
Pith numbers, canonical hashes and event ids stay what they were. A receipt
keeps ``first_computed_at`` and gets a new ``signed_at`` and
``last_reissued_at``; an event keeps its content (its ``signer`` still names
the key that created it) and gets a new ``signature``. The receipt inside a
``record_created`` event is part of that event's content, so it is left as
it was and the event's new signature countersigns it.

Resumable by construction: records are walked in row-id order in batches,
each batch committed in one transaction, and anything already signed by
the current key is skipped, so a rerun after a crash (or a second run) only
does what is left. Bundles are not stored; they are re-signed by
republishing (:func:`issuer.publish.publish` rewrites every bundle when the
signing key changes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from issuer.errors import StoreError
from issuer.events import sign_event
from issuer.keys import Signer
from issuer.receipts import reissue_receipt
from issuer.store import SqliteStore

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


def reissue(
    store: SqliteStore,
    signer: Signer,
    *,
    now: datetime,
    batch: int = BATCH,
    on_batch: Callable[[ReissueSummary], None] | None = None,
) -> ReissueSummary:
    """Re-sign every receipt and event not yet signed by ``signer``'s key.

    Raises:
        StoreError: a stored event does not hash to its own id (the registry was
            altered): nothing in its batch is written.
        FormatError: a stored receipt is malformed.
    """
    summary = ReissueSummary(signer.key_id)
    store.add_key(signer.public_key)
    after = 0
    while rows := store.signed_batch(after, batch):
        receipts: list[tuple[int, dict[str, Any]]] = []
        events: list[tuple[int, dict[str, Any]]] = []
        for row in rows:
            summary.records += 1
            if _is_current(row.receipt, signer):
                summary.receipts_current += 1
            else:
                receipts.append((row.row_id, reissue_receipt(row.receipt, signer, now)))
            for row_id, event in row.events:
                if _is_current(event["signature"], signer):
                    summary.events_current += 1
                    continue
                signed = sign_event(event, signer, now, parsed=True)
                if signed["event_id"] != event["event_id"]:
                    raise StoreError(
                        f"event {event['event_id']} of {event['subject_pith_number']} does not "
                        "hash to its id: the registry was altered",
                        hint="restore the registry from a backup; nothing in this batch was "
                        "re-signed",
                    )
                events.append((row_id, signed))
        store.write_signatures(receipts, events)
        summary.receipts += len(receipts)
        summary.events += len(events)
        after = rows[-1].row_id
        if on_batch is not None:
            on_batch(summary)
    return summary
