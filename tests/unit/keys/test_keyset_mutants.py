"""The trusted key set (spec §10) behaviour that mutation testing found unpinned.

See docs/mutation.md. The CLI asks these questions (is a key known, which key
did it rotate to, would a signature made now count); the verifier's own tests
reach them only through ``require``.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest

import issuer
from issuer.errors import FormatError, VerificationError
from issuer.keys._public import fingerprint_b32
from issuer.keys._statements import Revocation, parse_statement, sign_revocation, sign_rotation
from issuer.keys.keyset import (
    DOCUMENT_TYPE,
    DOCUMENT_VERSION,
    KeySet,
    Material,
    load_key_file,
    parse_key_document,
    shipped_keys_dir,
)
from tests import factory

T0 = factory.T0
DAY = timedelta(days=1)
R1 = T0 + 30 * DAY
K1, K2, K3 = factory.signer(1), factory.signer(2), factory.signer(3)


def _rotated() -> KeySet:
    """K1 rotates to K2 at R1; K3 is trusted outright and revokes nothing."""
    rotation = parse_statement(sign_rotation(K1, K2, rotates_at=R1, issued_at=T0))
    material = Material([K1.public_key, K2.public_key, K3.public_key], [rotation])
    return KeySet.trusting(material)


def _revoked() -> KeySet:
    revocation = parse_statement(
        sign_revocation(K1.public_key, K2, compromised_since=T0, reason="leaked", issued_at=R1)
    )
    return KeySet.trusting(Material([K1.public_key, K2.public_key], [revocation]))


def test_membership_is_by_key_id() -> None:
    keys = KeySet([K1.public_key])
    assert K1.key_id in keys
    assert K2.key_id not in keys
    assert K1.public_key not in keys  # a key id, not a key record


def test_the_successor_is_the_key_rotated_to() -> None:
    keys = _rotated()
    successor = keys.successor(K1.public_key)
    assert successor is not None
    assert successor.raw == K2.public_key.raw
    assert keys.successor(K2.public_key) is None
    assert keys.successor(K3.public_key) is None


def test_a_new_signature_counts_only_before_rotation_and_never_when_revoked() -> None:
    keys = _rotated()
    assert keys.valid_at(K1.public_key, T0)
    assert keys.valid_at(K1.public_key, R1 - timedelta(seconds=1))
    assert not keys.valid_at(K1.public_key, R1)
    assert not keys.valid_at(K1.public_key, R1 + DAY)
    assert keys.valid_at(K2.public_key, R1 + DAY)
    assert not KeySet([K2.public_key]).valid_at(K1.public_key, T0)  # unknown key
    revoked = _revoked()
    assert not revoked.valid_at(K1.public_key, T0 - DAY)
    assert revoked.valid_at(K2.public_key, T0)


def test_merging_keeps_keys_rotations_and_revocations_of_both() -> None:
    merged = _rotated().merged(_revoked())
    assert [k.key_id for k in merged] == [K1.key_id, K2.key_id, K3.key_id]
    assert [str(r) for r in merged.rotations] == [f"rotation {K1.key_id} → {K2.key_id}"]
    assert [str(r) for r in merged.revocations] == [f"revocation of {K1.key_id}"]
    assert not merged.valid_at(K1.public_key, T0)
    successor = merged.successor(K1.public_key)
    assert successor is not None
    assert successor.key_id == K2.key_id


def test_a_key_set_given_two_revocations_of_one_key_keeps_the_earlier() -> None:
    def revocation(since: timedelta, reason: str) -> Revocation:
        parsed = parse_statement(
            sign_revocation(
                K1.public_key, K2, compromised_since=T0 + since, reason=reason, issued_at=R1
            )
        )
        assert isinstance(parsed, Revocation)
        return parsed

    early, late = revocation(timedelta(0), "early"), revocation(5 * DAY, "late")
    for order in ([early, late], [late, early]):
        keys = KeySet([K1.public_key, K2.public_key], revocations=order)
        kept = keys.revocation(K1.key_id)
        assert kept is not None
        assert (kept.reason, kept.compromised_since) == ("early", T0)


def test_a_key_reached_from_a_root_keeps_its_published_record() -> None:
    published = dataclasses.replace(K2.public_key, url="https://keys.example/k2.json", notes="two")
    rotation = parse_statement(sign_rotation(K1, K2, rotates_at=R1, issued_at=T0))
    keys = KeySet.trusting(Material([K1.public_key, published], [rotation]), K1.public_key)
    reached = keys.get(K2.key_id)
    assert reached is not None
    assert (reached.url, reached.notes) == ("https://keys.example/k2.json", "two")


def test_the_checkout_trusts_the_keys_directory_beside_the_package() -> None:
    assert shipped_keys_dir() == Path(issuer.__file__).resolve().parents[1] / "keys"
    assert "pith-v1-2026-05" in KeySet.shipped()


def test_a_trust_root_is_found_by_id_or_either_fingerprint() -> None:
    material = Material([K1.public_key, K2.public_key])
    key = K2.public_key
    for wanted in (
        key.key_id,
        f"  {key.key_id} ",
        key.fingerprint,
        key.fingerprint.upper(),
        fingerprint_b32(key.raw),
    ):
        assert material.find(wanted).raw == key.raw, wanted
    with pytest.raises(FormatError) as none:
        material.find("nobody")
    assert none.value.message == "no known key(s) match the trust root 'nobody'"
    assert none.value.hint == (
        "give a key id or fingerprint of a key in the shipped keys or --keys"
    )
    twice = Material([K1.public_key, dataclasses.replace(K2.public_key, key_id=K1.key_id)])
    with pytest.raises(FormatError) as several:
        twice.find(K1.key_id)
    assert several.value.message == f"2 known key(s) match the trust root {K1.key_id!r}"
    # one key listed twice is one key
    assert Material([K1.public_key, K1.public_key]).find(K1.key_id).raw == K1.public_key.raw


def test_a_key_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "k.json"
    with pytest.raises(FormatError) as absent:
        load_key_file(missing)
    assert absent.value.message == f"cannot read key file {missing}: No such file or directory"
    missing.write_text("{")
    with pytest.raises(FormatError) as broken:
        load_key_file(missing)
    assert broken.value.message.startswith(f"{missing}: malformed key document: invalid JSON")
    record = {**K1.public_key.to_dict(), "key_id": "Not An Id"}
    missing.write_text(json.dumps(record))
    with pytest.raises(FormatError) as bad_id:
        load_key_file(missing)
    assert bad_id.value.message == f"malformed key document: {missing}: invalid key id 'Not An Id'"
    assert bad_id.value.hint is not None
    assert "lower-case letters" in bad_id.value.hint


BAD_STATEMENT = {"payloadType": "application/x-unknown", "payload": "", "signatures": []}


def _document(**fields: object) -> dict[str, object]:
    return {
        "document_type": DOCUMENT_TYPE,
        "document_version": DOCUMENT_VERSION,
        "keys": [K1.public_key.to_dict()],
        **fields,
    }


def _parse_refusal(data: object) -> str:
    with pytest.raises(FormatError) as e:
        parse_key_document(data, "keys.json")
    return e.value.message


def test_a_key_document_without_statement_lists_holds_just_its_keys() -> None:
    material = parse_key_document(_document(), "keys.json")
    assert [k.raw for k in material.keys] == [K1.public_key.raw]
    assert material.statements == []


def test_a_key_document_refusal_names_the_file_and_the_statement() -> None:
    assert _parse_refusal(_document(document_version="2.0")) == (
        "keys.json: unsupported key document version"
    )
    assert _parse_refusal(_document(rotation_statements={})) == (
        "keys.json: rotation_statements must be a list"
    )
    assert _parse_refusal(_document(revocation_statements=[BAD_STATEMENT])) == (
        "keys.json: revocation_statements[0]: unsupported payloadType 'application/x-unknown'"
    )
    assert _parse_refusal(BAD_STATEMENT) == (
        "keys.json: unsupported payloadType 'application/x-unknown'"
    )


def _require_refusal(keys: KeySet, key_id: object, fingerprint: object) -> tuple[str, str]:
    with pytest.raises(VerificationError) as e:
        keys.require(key_id, fingerprint, R1 + DAY)
    return str(e.value.reason), e.value.message


def test_a_key_id_that_is_not_a_string_is_an_unknown_key() -> None:
    assert _require_refusal(KeySet([K1.public_key]), ["x"], K1.public_key.fingerprint) == (
        "unknown_key",
        "signed by key ['x'], which is not in the trusted key set",
    )


def test_require_says_why_a_known_key_does_not_count() -> None:
    key = K1.public_key
    assert _require_refusal(KeySet([key]), key.key_id, "00" * 16) == (
        "fingerprint_mismatch",
        f"fingerprint {'00' * 16!r} is not the fingerprint of key {key.key_id}",
    )
    assert _require_refusal(_revoked(), key.key_id, key.fingerprint) == (
        "key_revoked",
        f"signed by key {key.key_id}, revoked as compromised since {T0.isoformat()} (leaked); "
        "its signatures do not count on their own, whatever time they claim",
    )
    rotated = _rotated().get(key.key_id)
    assert rotated is not None
    assert _require_refusal(_rotated(), key.key_id, key.fingerprint) == (
        "key_not_valid_at_signing_time",
        f"signed at {(R1 + DAY).isoformat()} by key {key.key_id}, which rotated at "
        f"{rotated.rotates_at}",
    )
