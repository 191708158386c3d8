"""Step (10) remembers a checkpoint that passed, never a verdict that depends on keys or time.

A checkpoint note whose format, origin and witness cosignatures passed under a
policy is remembered with that policy (``_proofs._VETTED``), so the bundles of
one publication check its log signature only (which key signed it, and whether
that key counts at the bundle's ``built_at``). Each row below first verifies a
good bundle with the same checkpoint, then a second verification under another
key set, time or policy: its verdict must be the one a fresh process gives.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from issuer.errors import VerificationError
from issuer.keys.keyset import KeySet
from issuer.reasons import Reason
from issuer.tlog import ED25519, Note, NoteSigner, sign_note
from issuer.verify import LogPolicy, _proofs, check_log_proofs, verify_bundle
from tests.conformance._log_cases import ORIGIN
from tests.conformance.forge import K1, K2, TRUSTED, resign
from tests.unit.verify.test_proofs import BUILT, PROVEN, WITNESSES, _note
from tests.unit.verify.test_proofs import _proofs as proofs_of

Json = dict[str, Any]
DAY = timedelta(days=1)


def _forget() -> None:
    _proofs._VETTED.clear()
    _proofs._parsed.cache_clear()
    _proofs._signature_valid.cache_clear()
    _proofs._cosignatures.cache_clear()
    _proofs._tree.cache_clear()
    _proofs._spelled.cache_clear()


def _outcome(bundle: Json, keys: KeySet, at: datetime, policy: LogPolicy) -> tuple[Any, ...]:
    try:
        out = check_log_proofs(bundle, keys, at, policy)
    except VerificationError as e:
        return (e.step, str(e.reason), e.message)
    return ("ok", tuple(v.signed_by for v in out))


def _with_bad_signature() -> Json:
    """PROVEN's checkpoint text, its one signature spoilt."""
    note = _note()
    good = note.signatures[0]
    bad = type(good)(good.name, good.key_id, good.signature[:-1] + b"\x00")
    return proofs_of(PROVEN, checkpoint=Note(note.text, (bad,)).to_bytes().decode())


def _rotated(at: datetime) -> KeySet:
    return KeySet([K1.public_key.with_rotation(at)])


# name: (bundle, key set, time, policy) of the second verification, and its reason
SECOND: dict[str, tuple[Callable[[], tuple[Json, KeySet, datetime, LogPolicy]], str]] = {
    "signed by a key after its rotates_at": (
        lambda: (PROVEN, _rotated(BUILT - DAY), BUILT, LogPolicy()),
        Reason.KEY_NOT_VALID,
    ),
    "the same key set, later than the key's rotates_at": (
        lambda: (PROVEN, _rotated(BUILT + DAY), BUILT + 2 * DAY, LogPolicy()),
        Reason.KEY_NOT_VALID,
    ),
    "a key set that does not hold the log key": (
        lambda: (PROVEN, KeySet([K2.public_key]), BUILT, LogPolicy()),
        Reason.NO_LOG_SIGNATURE,
    ),
    "witnesses asked for": (
        lambda: (PROVEN, TRUSTED, BUILT, LogPolicy(witnesses=WITNESSES, threshold=1)),
        Reason.WITNESS_THRESHOLD,
    ),
    "another log expected": (
        lambda: (PROVEN, TRUSTED, BUILT, LogPolicy(origin="other.example/log")),
        Reason.ORIGIN_MISMATCH,
    ),
    "the same checkpoint text with a spoilt signature": (
        lambda: (_with_bad_signature(), TRUSTED, BUILT, LogPolicy()),
        Reason.BAD_NOTE_SIGNATURE,
    ),
}


@pytest.mark.parametrize(("second", "reason"), SECOND.values(), ids=SECOND.keys())
def test_a_remembered_checkpoint_gives_the_verdict_of_a_fresh_process(
    second: Callable[[], tuple[Json, KeySet, datetime, LogPolicy]], reason: str
) -> None:
    args = second()
    _forget()
    fresh = _outcome(*args)
    assert fresh[:2] == ("log", reason)
    _forget()
    assert _outcome(PROVEN, TRUSTED, BUILT, LogPolicy()) == ("ok", (K1.public_key.key_id,) * 3)
    assert _outcome(*args) == fresh


def test_a_key_set_changed_after_a_checkpoint_passed_is_asked_again() -> None:
    """The same KeySet object: a record of the key with an earlier rotates_at shortens it."""
    _forget()
    keys = KeySet([K1.public_key])
    assert _outcome(PROVEN, keys, BUILT, LogPolicy())[0] == "ok"
    keys.add(K1.public_key.with_rotation(BUILT - DAY))
    assert _outcome(PROVEN, keys, BUILT, LogPolicy())[:2] == ("log", Reason.KEY_NOT_VALID)


def test_the_first_key_that_counts_signs_whatever_was_remembered() -> None:
    """K1 and K2 both signed; K1 counts at BUILT, not a day later, when K2 does."""
    both = _note().with_signatures(
        *sign_note(_note().text, [NoteSigner(ORIGIN, ED25519, K2)]).signatures
    )
    bundle = proofs_of(PROVEN, checkpoint=both.to_bytes().decode())
    keys = KeySet([K1.public_key.with_rotation(BUILT + DAY), K2.public_key])
    _forget()
    assert _outcome(bundle, keys, BUILT, LogPolicy()) == ("ok", (K1.public_key.key_id,) * 3)
    assert _outcome(bundle, keys, BUILT + DAY, LogPolicy()) == ("ok", (K2.public_key.key_id,) * 3)


def test_a_bundle_signed_after_the_log_key_rotated_fails_after_a_good_one() -> None:
    """Through verify_bundle: the good bundle vets the checkpoint, the second is still refused."""
    _forget()
    verify_bundle(PROVEN, TRUSTED)
    assert len(_proofs._VETTED) == 1
    keys = KeySet([K1.public_key.with_rotation(BUILT - 2 * DAY), K2.public_key])
    with pytest.raises(VerificationError) as caught:
        verify_bundle(resign(PROVEN, K2), keys)
    assert (caught.value.step, caught.value.reason) == ("log", Reason.KEY_NOT_VALID)


@pytest.mark.parametrize("quick", [True, False], ids=["quick-way", "steps-only"])
def test_a_vetted_checkpoint_is_checked_in_full_once_and_its_signer_for_every_bundle(
    monkeypatch: pytest.MonkeyPatch, quick: bool
) -> None:
    """Both ways: the later bundles go the quick way, or (without it) through the steps."""
    full: list[bytes] = []
    signer: list[bytes] = []
    real_full, real_signer = _proofs._checkpoint, _proofs._log_signer

    def counting_full(data: bytes, *args: Any) -> Any:
        full.append(data)
        return real_full(data, *args)

    def counting_signer(data: bytes, *args: Any) -> Any:
        signer.append(data)
        return real_signer(data, *args)

    monkeypatch.setattr(_proofs, "_checkpoint", counting_full)
    monkeypatch.setattr(_proofs, "_log_signer", counting_signer)
    monkeypatch.setattr(_proofs, "_QUICK", quick)
    _forget()
    for _ in range(3):
        check_log_proofs(resign(PROVEN), TRUSTED, BUILT, LogPolicy())
    assert len(full) == 1  # the first bundle: every step
    assert len(signer) == 3  # once per bundle (the first through _checkpoint)


def test_remembered_checkpoints_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_proofs, "_VETTED_MAX", 2)
    _forget()
    data = PROVEN["timestamp_proofs"][0]["checkpoint"].encode()
    for n in range(3):
        _proofs._vet(f"note {n}", data, TRUSTED, BUILT, LogPolicy(), i=0)
    assert [note for note, _ in _proofs._VETTED] == ["note 1", "note 2"]  # the oldest went
