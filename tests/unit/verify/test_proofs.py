"""Step (10), the log proofs of a bundle (``issuer.verify._proofs``), check by check.

Each refusal is pinned by its step, reason and the message a user reads
(which proof, which sizes, which log); each pass by what it reports. The
scenario table of ``tests/unit/tlog/test_registry_log_proofs.py`` runs the
same checks through ``verify_bundle``; these call :func:`check_log_proofs`
directly, with the time and policy under test.
"""

from __future__ import annotations

import base64
import copy
from datetime import datetime, timedelta
from typing import Any

import pytest

from issuer import cjson
from issuer._time import parse_seconds
from issuer.errors import FormatError, VerificationError
from issuer.keys import SeedSigner
from issuer.keys.keyset import KeySet
from issuer.reasons import Reason
from issuer.tlog import (
    COSIGNATURE_ED25519,
    ED25519,
    PROOF_TYPE,
    Checkpoint,
    Note,
    NoteSignature,
    NoteSigner,
    cosign,
    note_key,
    sign_note,
)
from issuer.verify import (
    STEPS,
    LogPolicy,
    VerifiedInclusion,
    check_log_proofs,
    log_policy,
    verify_bundle,
    verify_bundle_report,
)
from tests.conformance._log_cases import ORIGIN, with_proofs
from tests.conformance.forge import GOOD, K1, K2, TRUSTED, resign

Json = dict[str, Any]

W1, W2, W3 = (
    NoteSigner(
        f"witness.example/w{n}", COSIGNATURE_ED25519, SeedSigner(f"w{n}", bytes([40 + n]) * 32)
    )
    for n in (1, 2, 3)
)
WITNESSES = (W1.verifier_key, W2.verifier_key, W3.verifier_key)
PROVEN = with_proofs(GOOD)  # leaves 5, 6, 7 (record, record_created, snapshot) of 10
BUILT = parse_seconds(PROVEN["built_at"])


def _check(
    bundle: Json, keys: KeySet = TRUSTED, policy: LogPolicy | None = None, at: datetime = BUILT
) -> list[VerifiedInclusion]:
    return check_log_proofs(bundle, keys, at, policy or LogPolicy())


def _refused(
    bundle: Json, keys: KeySet = TRUSTED, policy: LogPolicy | None = None, at: datetime = BUILT
) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        _check(bundle, keys, policy, at)
    assert caught.value.step == "log"
    return caught.value


def _proofs(bundle: Json, **changes: Any) -> Json:
    """``bundle`` with ``changes`` applied to every proof."""
    proofs = [{**p, **changes} for p in copy.deepcopy(bundle["timestamp_proofs"])]
    return resign(bundle, timestamp_proofs=proofs)


def _edit(bundle: Json, index: int, **changes: Any) -> Json:
    proofs = copy.deepcopy(bundle["timestamp_proofs"])
    proofs[index].update(changes)
    return resign(bundle, timestamp_proofs=proofs)


def _note(bundle: Json = PROVEN) -> Note:
    return Note.parse(bundle["timestamp_proofs"][0]["checkpoint"].encode())


def _with_note(note: Note, bundle: Json = PROVEN) -> Json:
    return _proofs(bundle, checkpoint=note.to_bytes().decode())


def _cosigned(*witnesses: NoteSigner, bad: NoteSigner | None = None) -> Json:
    note = _note()
    extra = [cosign(note.text, w, timestamp=1_780_000_000) for w in witnesses]
    if bad is not None:
        good = cosign(note.text, bad, timestamp=1_780_000_000)
        extra.append(NoteSignature(good.name, good.key_id, good.signature[:-1] + b"\x00"))
    return _with_note(note.with_signatures(*extra))


def _k1_note_key_id() -> str:
    return note_key(ORIGIN, K1.public_key.raw).key_id.hex()


# -- passes ----------------------------------------------------------------------------


def test_each_proof_reports_its_leaf_its_log_and_the_key_that_signed_the_checkpoint() -> None:
    assert _check(PROVEN) == [
        VerifiedInclusion(ORIGIN, index, 10, K1.public_key.key_id, ()) for index in (5, 6, 7)
    ]


def test_a_bundle_without_proofs_checks_nothing_unless_the_log_is_required() -> None:
    assert _check(GOOD) == []
    with pytest.raises(VerificationError):
        _check(GOOD, policy=LogPolicy(require=True))


def test_the_expected_origin_is_accepted_when_the_checkpoint_is_of_it() -> None:
    assert len(_check(PROVEN, policy=LogPolicy(origin=ORIGIN))) == 3


def test_witnesses_that_cosigned_are_reported_by_name_in_the_policy_order() -> None:
    result = _check(_cosigned(W3, W1), policy=LogPolicy(witnesses=WITNESSES, threshold=2))
    assert {r.cosigned_by for r in result} == {("witness.example/w1", "witness.example/w3")}


def test_exactly_the_threshold_of_witnesses_is_enough() -> None:
    assert _check(_cosigned(W2), policy=LogPolicy(witnesses=WITNESSES, threshold=1))


def test_cosignatures_are_not_asked_for_without_witnesses() -> None:
    # A broken cosignature line by a witness nobody configured is ignored.
    result = _check(_cosigned(bad=W1))
    assert [r.cosigned_by for r in result] == [(), (), ()]


def test_the_checkpoint_signer_is_found_among_several_trusted_keys() -> None:
    keys = KeySet([K2.public_key, K1.public_key])
    assert {r.signed_by for r in _check(PROVEN, keys)} == {K1.public_key.key_id}


def test_a_key_that_does_not_count_is_passed_over_for_one_that_does() -> None:
    """The checkpoint is signed by K1 (rotated out before the bundle) and by K2."""
    keys = KeySet([K1.public_key.with_rotation(BUILT - timedelta(days=1)), K2.public_key])
    both = _note().with_signatures(
        *sign_note(_note().text, [NoteSigner(ORIGIN, ED25519, K2)]).signatures
    )
    assert {r.signed_by for r in _check(_with_note(both), keys)} == {K2.public_key.key_id}


# -- (1) format ------------------------------------------------------------------------


def test_a_proof_that_is_not_the_documented_object_is_malformed_and_named() -> None:
    bad = _edit(PROVEN, 1, type="rfc3161")
    e = _refused(bad)
    assert e.reason == Reason.MALFORMED
    assert e.message.startswith("timestamp_proofs[1]: a timestamp proof of an unknown type")


def test_a_checkpoint_that_is_not_a_signed_note_is_malformed_and_named() -> None:
    e = _refused(_edit(PROVEN, 0, checkpoint="not a note"))
    assert e.reason == Reason.MALFORMED
    assert e.message.startswith("timestamp_proofs[0].checkpoint: ")


# -- (2) entry -------------------------------------------------------------------------


def test_a_proof_of_a_leaf_the_bundle_does_not_imply_is_refused_and_named() -> None:
    leaf = "sha256:" + "ab" * 32
    e = _refused(_edit(PROVEN, 2, leaf=leaf))
    assert e.reason == Reason.LOG_ENTRY_MISMATCH
    assert e.message == f"timestamp_proofs[2] proves leaf {leaf!r}, not one of this bundle's"


def test_each_event_proof_is_checked_against_its_own_event_entry() -> None:
    swapped = copy.deepcopy(PROVEN["timestamp_proofs"])
    swapped[1]["leaf"], swapped[2]["leaf"] = swapped[2]["leaf"], swapped[1]["leaf"]
    e = _refused(resign(PROVEN, timestamp_proofs=swapped))
    assert (e.reason, e.message.split(":")[0]) == (
        Reason.BAD_INCLUSION_PROOF,
        "timestamp_proofs[1]",
    )


# -- (3) origin ------------------------------------------------------------------------


def test_a_proof_whose_checkpoint_is_of_another_log_than_it_names_is_refused() -> None:
    e = _refused(with_proofs(GOOD, note_origin="other.example"))
    assert e.reason == Reason.ORIGIN_MISMATCH
    assert e.message == (
        f"timestamp_proofs[0] names log {ORIGIN!r}, its checkpoint 'other.example'"
    )


def test_a_checkpoint_of_another_log_than_the_verifier_expects_is_refused() -> None:
    e = _refused(PROVEN, policy=LogPolicy(origin="pith.science"))
    assert e.reason == Reason.ORIGIN_MISMATCH
    assert e.message == (f"timestamp_proofs[0].checkpoint is of log {ORIGIN!r}, not 'pith.science'")


# -- (4) log signature -----------------------------------------------------------------


def test_a_checkpoint_no_trusted_key_signed_is_refused_and_names_the_log() -> None:
    e = _refused(with_proofs(GOOD, signer=K2))
    assert e.reason == Reason.NO_LOG_SIGNATURE
    assert (
        e.message
        == f"timestamp_proofs[0].checkpoint is not signed by a trusted key as log {ORIGIN!r}"
    )


def test_a_checkpoint_whose_origin_cannot_name_a_note_key_has_no_log_signature() -> None:
    """Its origin holds a space, so no key signs as that log, whatever the note says."""
    note = _note()
    text = Checkpoint("bad origin", 10, Checkpoint.from_text(note.text).root_hash).text()
    signed = sign_note(text, [NoteSigner(ORIGIN, ED25519, K1)])
    e = _refused(_proofs(PROVEN, checkpoint=signed.to_bytes().decode(), log_origin="bad origin"))
    assert e.reason == Reason.NO_LOG_SIGNATURE
    assert e.message.endswith("as log 'bad origin'")


def _bad_signature(note: Note) -> NoteSignature:
    good = note.signatures[0]
    return NoteSignature(
        good.name, good.key_id, good.signature[:-1] + bytes([good.signature[-1] ^ 1])
    )


def test_a_trusted_key_signature_that_does_not_verify_is_refused_with_its_key_id() -> None:
    note = _note()
    e = _refused(_with_note(Note(note.text, (_bad_signature(note),))))
    assert e.reason == Reason.BAD_NOTE_SIGNATURE
    assert e.message == (
        f"timestamp_proofs[0].checkpoint: the signature by {ORIGIN} ({_k1_note_key_id()}) "
        "does not verify"
    )


def test_one_bad_signature_by_the_log_key_refuses_the_checkpoint_beside_a_good_one() -> None:
    note = _note()
    e = _refused(_with_note(note.with_signatures(_bad_signature(note))))
    assert e.reason == Reason.BAD_NOTE_SIGNATURE


def test_a_checkpoint_signed_after_the_key_rotated_out_is_refused_with_the_key_set_reason() -> None:
    keys = KeySet([K1.public_key.with_rotation(BUILT - timedelta(days=1))])
    e = _refused(PROVEN, keys)
    assert e.reason == Reason.KEY_NOT_VALID
    assert e.message.startswith("timestamp_proofs[0].checkpoint: ")
    assert _check(PROVEN, keys, at=BUILT - timedelta(days=2))  # before it rotated: counts


def test_the_first_key_problem_is_the_one_reported() -> None:
    keys = KeySet(
        [
            K1.public_key.with_rotation(BUILT - timedelta(days=1)),
            K2.public_key.with_rotation(BUILT - timedelta(days=3)),
        ]
    )
    both = _note().with_signatures(
        *sign_note(_note().text, [NoteSigner(ORIGIN, ED25519, K2)]).signatures
    )
    e = _refused(_with_note(both), keys)
    assert e.reason == Reason.KEY_NOT_VALID
    assert K1.public_key.key_id in e.message and K2.public_key.key_id not in e.message


# -- (5) cosignatures ------------------------------------------------------------------


def test_too_few_witnesses_is_refused_with_the_count() -> None:
    e = _refused(_cosigned(W1), policy=LogPolicy(witnesses=WITNESSES, threshold=2))
    assert e.reason == Reason.WITNESS_THRESHOLD
    assert e.message == ("timestamp_proofs[0].checkpoint: 1 of 3 witnesses cosigned, 2 required")


def test_all_witnesses_are_required_by_default() -> None:
    e = _refused(_cosigned(W1, W2), policy=LogPolicy(witnesses=WITNESSES))
    assert e.reason == Reason.WITNESS_THRESHOLD
    assert e.message.endswith("2 of 3 witnesses cosigned, 3 required")


def test_a_forged_cosignature_by_a_configured_witness_is_refused() -> None:
    e = _refused(_cosigned(W1, bad=W2), policy=LogPolicy(witnesses=WITNESSES, threshold=1))
    assert e.reason == Reason.BAD_COSIGNATURE
    assert e.message.startswith("timestamp_proofs[0].checkpoint: ")


def test_a_cosignature_of_the_wrong_length_is_refused() -> None:
    note = _note()
    good = cosign(note.text, W1, timestamp=1_780_000_000)
    short = NoteSignature(good.name, good.key_id, good.signature[:20])
    e = _refused(_with_note(note.with_signatures(short)), policy=LogPolicy(witnesses=WITNESSES[:1]))
    assert e.reason == Reason.BAD_COSIGNATURE
    assert e.message.startswith("timestamp_proofs[0].checkpoint: ")


# -- (6) inclusion ---------------------------------------------------------------------


def test_a_proof_for_another_size_than_its_checkpoint_is_refused_with_both_sizes() -> None:
    e = _refused(_proofs(PROVEN, tree_size=11))
    assert e.reason == Reason.BAD_INCLUSION_PROOF
    assert e.message == "timestamp_proofs[0] is for size 11, its checkpoint 10"


def test_a_proof_that_leads_to_another_root_is_refused_and_named() -> None:
    hashes = list(PROVEN["timestamp_proofs"][2]["proof"])
    raw = bytearray(base64.b64decode(hashes[-1]))
    raw[0] ^= 1
    hashes[-1] = base64.b64encode(bytes(raw)).decode()
    e = _refused(_edit(PROVEN, 2, proof=hashes))
    assert e.reason == Reason.BAD_INCLUSION_PROOF
    assert e.message.startswith("timestamp_proofs[2]: inclusion proof: ")


# -- require ---------------------------------------------------------------------------


@pytest.mark.parametrize("dropped", [0, 1, 2])
def test_require_refuses_a_bundle_with_any_leaf_unproven(dropped: int) -> None:
    proofs = copy.deepcopy(PROVEN["timestamp_proofs"])
    del proofs[dropped]
    bundle = resign(PROVEN, timestamp_proofs=proofs)
    assert len(_check(bundle)) == 2  # what is there is valid
    e = _refused(bundle, policy=LogPolicy(require=True))
    assert e.reason == Reason.MISSING_LOG_PROOF
    assert e.message == (f"1 of the bundle's 3 log leaves have no inclusion proof ({PROOF_TYPE})")


def test_require_counts_leaves_not_proofs() -> None:
    """Two proofs of the same leaf do not make up for a missing one."""
    proofs = copy.deepcopy(PROVEN["timestamp_proofs"])
    proofs[2] = proofs[1]
    e = _refused(resign(PROVEN, timestamp_proofs=proofs), policy=LogPolicy(require=True))
    assert e.reason == Reason.MISSING_LOG_PROOF
    assert e.message.startswith("1 of the bundle's 3 log leaves")


def test_require_with_no_proof_at_all_counts_every_leaf() -> None:
    e = _refused(GOOD, policy=LogPolicy(require=True))
    assert e.message.startswith("3 of the bundle's 3 log leaves")


# -- the policy ------------------------------------------------------------------------


def test_the_default_threshold_is_every_witness_and_none_without_witnesses() -> None:
    assert LogPolicy().required == 0
    assert LogPolicy(witnesses=WITNESSES).required == 3
    assert LogPolicy(witnesses=WITNESSES, threshold=0).required == 0
    assert LogPolicy(witnesses=WITNESSES, threshold=3).required == 3


@pytest.mark.parametrize(
    ("witnesses", "threshold", "message"),
    [
        (WITNESSES, 4, "witness threshold 4 is not between 0 and 3"),
        (WITNESSES, -1, "witness threshold -1 is not between 0 and 3"),
        ((), 1, "witness threshold 1 is not between 0 and 0"),
        ((W1.verifier_key, W1.verifier_key), None, "a witness key is given twice"),
        (
            (note_key(ORIGIN, K1.public_key.raw),),
            None,
            "a witness key is a cosignature (0x04) key",
        ),
    ],
    ids=["above", "negative", "no witnesses", "twice", "a note key"],
)
def test_a_policy_that_cannot_be_met_or_is_not_one_is_refused(
    witnesses: tuple[Any, ...], threshold: int | None, message: str
) -> None:
    with pytest.raises(
        ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"
    ):
        LogPolicy(witnesses=witnesses, threshold=threshold)


def test_log_policy_reads_command_line_witness_keys() -> None:
    policy = log_policy(
        require=True,
        witnesses=[str(W1.verifier_key), str(W2.verifier_key)],
        threshold=1,
        origin="o",
    )
    assert policy == LogPolicy(True, (W1.verifier_key, W2.verifier_key), 1, "o")
    assert log_policy() == LogPolicy()


def test_log_policy_refuses_a_note_key_given_as_a_witness() -> None:
    with pytest.raises(FormatError) as caught:
        log_policy(witnesses=[str(note_key(ORIGIN, K1.public_key.raw))])
    assert caught.value.message == (f"witness key {ORIGIN}: expected a cosignature key (type 0x04)")


# -- as a step of the verifier ---------------------------------------------------------


def test_a_report_lists_the_log_step_only_when_proofs_are_checked() -> None:
    assert verify_bundle_report(cjson.dumps(PROVEN), TRUSTED).passed == list(STEPS)
    assert verify_bundle_report(cjson.dumps(GOOD), TRUSTED).passed == list(STEPS[:-1])
    required = verify_bundle_report(cjson.dumps(PROVEN), TRUSTED, log=LogPolicy(require=True))
    assert required.passed == list(STEPS)
    assert STEPS[-1] == "log"


def test_the_verifier_checks_the_checkpoint_key_at_the_time_the_bundle_was_built() -> None:
    """K1 signed the checkpoint but rotated out before ``built_at``; K2 signed the bundle."""
    keys = KeySet([K1.public_key.with_rotation(BUILT - timedelta(days=2)), K2.public_key])
    with pytest.raises(VerificationError) as caught:
        verify_bundle(resign(PROVEN, K2), keys)
    assert (caught.value.step, caught.value.reason) == ("log", Reason.KEY_NOT_VALID)
