"""Following key statements from the keys a verifier already trusts (spec §10).

The model is TUF's root rotation, with one key per role: a verifier starts
from anchors (a pinned key, or every key it was handed explicitly) and
accepts a rotation K → K′ only when K is already trusted and the statement
verifies under *both* K and K′. K′ then becomes trusted and K's signatures
stop counting at the statement's ``rotates_at``. Rotations are followed to a
fixpoint, so statements may come in any order.

Everything ambiguous fails closed, for the whole key set, because a key set
that cannot be read one way only cannot be trusted at all:

- a rotation from a trusted key missing either signature;
- two different rotations from one key (the old key forked: equivocation);
- a key rotated into from two different keys, or a rotation back into the chain (a cycle);
- rotation times that do not increase along the chain;
- a revocation of a trusted key that no other trusted key signed, or that every
  other signer signed after its own ``rotates_at`` (a retired key cannot revoke);
- a revocation of a key that rotated, signed by a key outside that key's chain of
  rotations: the rotation would rest on the revoked key's word alone;
- one key under two ids (a revocation of one id would leave the other counting).

Of two records of one key, the earlier ``rotates_at`` wins, whether the key
is an anchor or reached by rotation.

Statements about keys outside the trusted set are ignored: they belong to
someone else's chain and say nothing about ours.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from issuer._time import format_seconds
from issuer.errors import VerificationError
from issuer.keys._public import PublicKey
from issuer.keys._statements import Revocation, Rotation, Statement, signed_by
from issuer.reasons import Reason


def refused(message: str) -> VerificationError:
    """The error for a key set that cannot be trusted."""
    return VerificationError(message, reason=Reason.BAD_KEY_STATEMENT, step="keys")


def earliest(known: PublicKey, other: PublicKey) -> PublicKey:
    """``known`` with the earlier of the two ``rotates_at`` (a window only ever shrinks)."""
    theirs, ours = other.rotates, known.rotates
    if theirs is not None and (ours is None or theirs < ours):
        return dataclasses.replace(known, rotates_at=other.rotates_at)
    return known


@dataclass(frozen=True)
class Trust:
    """What the anchors and the statements establish."""

    keys: list[PublicKey]
    rotations: list[Rotation]
    revocations: list[Revocation]


class _Builder:
    def __init__(self, records: Sequence[PublicKey]) -> None:
        self.keys: dict[str, PublicKey] = {}
        # Published records (url, notes, rotates_at) for the keys admitted; of two
        # records of one key, the earlier rotates_at wins, as it does among anchors.
        self.records: dict[tuple[str, bytes], PublicKey] = {}
        for r in records:
            known = self.records.get((r.key_id, r.raw))
            self.records[(r.key_id, r.raw)] = r if known is None else earliest(known, r)
        self.accepted: dict[bytes, Rotation] = {}  # by the raw key rotated from

    def admit(self, key: PublicKey) -> None:
        known = self.keys.get(key.key_id)
        other = next((k for k in self.keys.values() if k.raw == key.raw), None)
        if other is not None and other.key_id != key.key_id:
            # A revocation names one id: the key under the other would still count.
            raise refused(
                f"one key ({key.fingerprint}) is called both {other.key_id} and {key.key_id}"
            )
        if known is None:
            record = self.records.get((key.key_id, key.raw))
            self.keys[key.key_id] = earliest(record, key) if record is not None else key
        elif known.raw != key.raw:
            raise refused(f"two different keys are both called {key.key_id}")
        else:
            self.keys[key.key_id] = earliest(known, key)

    def trusted(self, key: PublicKey) -> bool:
        known = self.keys.get(key.key_id)
        if known is not None and known.raw == key.raw:
            return True
        if any(k.raw == key.raw for k in self.keys.values()):
            raise refused(f"a statement calls the trusted key {key.fingerprint} {key.key_id}")
        return False

    def predecessor(self, raw: bytes) -> Rotation | None:
        return next((r for r in self.accepted.values() if r.to_key.raw == raw), None)

    def check(self, rotation: Rotation) -> None:
        old, new = rotation.from_key, rotation.to_key
        for key in (old, new):
            if not signed_by(rotation.envelope, key):
                raise refused(
                    f"{rotation} is not signed by {key.key_id}: a rotation needs both keys"
                )
        if self.predecessor(new.raw) is not None:
            raise refused(f"{new.key_id} is rotated into from two different keys")
        successor: bytes | None = new.raw
        while successor is not None:  # a rotation back into the chain would be a cycle
            if successor == old.raw:
                raise refused(f"{rotation} closes a cycle")
            nxt = self.accepted.get(successor)
            successor = nxt.to_key.raw if nxt is not None else None
        before = self.predecessor(old.raw)
        after = self.accepted.get(new.raw)
        if (before is not None and before.rotates_at >= rotation.rotates_at) or (
            after is not None and after.rotates_at <= rotation.rotates_at
        ):
            raise refused(f"{rotation}: rotation times must increase along the chain")

    def follow(self, rotations: Sequence[Rotation]) -> None:
        by_from: dict[bytes, dict[bytes, Rotation]] = {}
        for r in rotations:  # the same statement may arrive in several files
            by_from.setdefault(r.from_key.raw, {})[r.body] = r
        changed = True
        while changed:
            changed = False
            for raw, group in by_from.items():
                if raw in self.accepted:
                    continue
                rotation = next(iter(group.values()))
                if not self.trusted(rotation.from_key):
                    continue
                if len(group) > 1:
                    raise refused(
                        f"{rotation.from_key.key_id} has {len(group)} different rotation "
                        "statements: the key forked (equivocation)"
                    )
                self.check(rotation)
                self.accepted[raw] = rotation
                ends = format_seconds(rotation.rotates_at)
                self.admit(dataclasses.replace(rotation.from_key, rotates_at=ends))
                self.admit(rotation.to_key)
                changed = True

    def chain(self, raw: bytes) -> set[bytes]:
        """``raw``, the keys it was rotated from, and the keys it leads to (cycles are refused)."""
        found = {raw}
        before = self.predecessor(raw)
        while before is not None:
            found.add(before.from_key.raw)
            before = self.predecessor(before.from_key.raw)
        after = self.accepted.get(raw)
        while after is not None:
            found.add(after.to_key.raw)
            after = self.accepted.get(after.to_key.raw)
        return found

    def revokers(self, rv: Revocation) -> list[PublicKey]:
        """The trusted keys other than the revoked one that signed ``rv``, by key id."""
        others = sorted(self.keys.values(), key=lambda k: k.key_id)
        return [k for k in others if k.raw != rv.key.raw and signed_by(rv.envelope, k)]

    def revocations(self, revocations: Sequence[Revocation]) -> list[Revocation]:
        found: dict[str, Revocation] = {}
        for rv in revocations:
            if not self.trusted(rv.key):
                continue
            signers = self.revokers(rv)
            if not signers:
                raise refused(f"{rv} is not signed by another trusted key")
            # §10: a signature by K counts only before K's rotates_at. A retired key's
            # authority ended when it handed over; its thief must not take the successor down.
            # Statements carry whole seconds, and `pith keys revoke` then `rotate --at now` in
            # one second signs the revocation at the rotation's instant: that second still counts.
            current = [k for k in signers if k.rotates is None or rv.issued_at <= k.rotates]
            if not current:
                retired = signers[0]
                raise refused(
                    f"{rv} is signed by {retired.key_id} only after it rotated away at "
                    f"{retired.rotates_at}: a retired key cannot revoke"
                )
            rotation = self.accepted.get(rv.key.raw)
            outside = [k for k in current if k.raw not in self.chain(rv.key.raw)]
            if rotation is not None and outside:
                # The rotation is the revoked key's word (and a new key's, maybe the thief's);
                # only the revoked key's own chain can vouch that it was the genuine one.
                raise refused(
                    f"{rv} is signed by {outside[0].key_id}, outside the chain of "
                    f"{rv.key.key_id}, so {rotation} rests on the revoked key's word alone"
                )
            known = found.get(rv.key.key_id)
            if known is None or rv.compromised_since < known.compromised_since:
                found[rv.key.key_id] = rv
        return list(found.values())


def follow(
    anchors: Sequence[PublicKey],
    statements: Sequence[Statement],
    records: Sequence[PublicKey] = (),
) -> Trust:
    """Trust the anchors, then every key the statements lead to from them.

    Args:
        anchors: keys trusted outright (a pinned root, or keys given explicitly).
        statements: rotation and revocation statements, in any order.
        records: published key records, for the url and notes of keys reached by rotation.

    Raises:
        VerificationError: reason ``bad_key_statement``, for any of the cases above.
    """
    builder = _Builder(records)
    for key in anchors:
        builder.admit(key)
    builder.follow([s for s in statements if isinstance(s, Rotation)])
    revoked = builder.revocations([s for s in statements if isinstance(s, Revocation)])
    return Trust(list(builder.keys.values()), list(builder.accepted.values()), revoked)
