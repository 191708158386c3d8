"""Key statements: DSSE encoding, domain separation, strict parsing, the key document."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer import cjson
from issuer.errors import FormatError, VerificationError
from issuer.keys import verify
from issuer.keys._seen import Seen, check_rollback, load_seen, remember
from issuer.keys._statements import (
    REVOCATION_TYPE,
    ROTATION_TYPE,
    Revocation,
    Rotation,
    pae,
    parse_statement,
    sign_revocation,
    sign_rotation,
    signed_by,
)
from issuer.keys.keyset import KeySet, load_material
from issuer.reasons import Reason
from tests import factory

T0 = factory.T0
K1, K2, K3 = factory.signer(1), factory.signer(2), factory.signer(3)


def _rotation(**changes: Any) -> dict[str, Any]:
    return sign_rotation(K1, K2, rotates_at=T0 + timedelta(days=1), issued_at=T0, **changes)


def _with_payload(envelope: dict[str, Any], payload: bytes) -> dict[str, Any]:
    return {**envelope, "payload": base64.b64encode(payload).decode()}


def test_pae_is_dsse_v1() -> None:
    # The DSSE protocol's own example.
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    assert pae("t", "é".encode()) == b"DSSEv1 1 t 2 " + "é".encode()


def test_a_rotation_round_trips_and_both_keys_sign_the_pae() -> None:
    envelope = _rotation()
    parsed = parse_statement(envelope)
    assert isinstance(parsed, Rotation)
    assert (parsed.from_key.raw, parsed.to_key.raw) == (K1.public_key.raw, K2.public_key.raw)
    assert parsed.rotates_at == T0.replace(microsecond=0) + timedelta(days=1)
    assert [s["keyid"] for s in envelope["signatures"]] == [K1.key_id, K2.key_id]
    assert signed_by(envelope, K1.public_key) and signed_by(envelope, K2.public_key)
    assert not signed_by(envelope, K3.public_key)


def test_statement_signatures_are_domain_separated() -> None:
    envelope = _rotation()
    body = base64.b64decode(envelope["payload"])
    sig = base64.b64decode(envelope["signatures"][0]["sig"])
    raw = K1.public_key.raw
    # Not a signature over the bare payload, nor over its digest (what receipts, events and
    # bundles sign), nor under another statement type.
    assert verify(raw, pae(ROTATION_TYPE, body), sig)
    assert not verify(raw, body, sig)
    assert not verify(raw, hashlib.sha256(body).digest(), sig)
    assert not verify(raw, pae(REVOCATION_TYPE, body), sig)
    # And a signature made for a digest does not verify as a statement signature.
    digest_sig = K1.sign(hashlib.sha256(body).digest())
    forged = {**envelope, "signatures": [{"sig": base64.b64encode(digest_sig).decode()}]}
    assert not signed_by(forged, K1.public_key)


def test_retyping_a_statement_breaks_every_signature() -> None:
    envelope = _rotation()
    retyped = {**envelope, "payloadType": REVOCATION_TYPE}
    assert not signed_by(retyped, K1.public_key)
    with pytest.raises(FormatError, match="revocation fields"):
        parse_statement(retyped)


def test_a_changed_payload_breaks_every_signature() -> None:
    envelope = _rotation()
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["rotates_at"] = "2030-01-01T00:00:00Z"
    tampered = _with_payload(envelope, cjson.dumps(payload))
    assert isinstance(parse_statement(tampered), Rotation)  # well-formed...
    assert not signed_by(tampered, K1.public_key)  # ...but signed by no one
    assert not signed_by(tampered, K2.public_key)


def test_url_safe_base64_is_accepted_as_dsse_requires() -> None:
    envelope = _rotation()
    urlsafe = {
        **envelope,
        "payload": envelope["payload"].replace("+", "-").replace("/", "_").rstrip("="),
        "signatures": [
            {**s, "sig": s["sig"].replace("+", "-").replace("/", "_").rstrip("=")}
            for s in envelope["signatures"]
        ],
    }
    assert parse_statement(urlsafe) == parse_statement(envelope)
    assert signed_by(urlsafe, K1.public_key)


def test_base64_mixing_both_alphabets_is_refused() -> None:
    envelope = _rotation()
    for sig in ("+_8=", "/-8=", "-A+B"):
        mixed = {**envelope, "signatures": [{**envelope["signatures"][0], "sig": sig}]}
        with pytest.raises(FormatError, match="mixes the standard and URL-safe"):
            parse_statement(mixed)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: {**e, "extra": 1}, "DSSE envelope"),
        (lambda e: {**e, "payloadType": "application/json"}, "unsupported payloadType"),
        (lambda e: {**e, "signatures": []}, "non-empty list"),
        (lambda e: {**e, "signatures": [{"sig": "!!"}]}, "not base64"),
        (lambda e: {**e, "signatures": [{"sig": "AA==", "other": 1}]}, "optionally keyid"),
        (lambda e: _with_payload(e, b'{"from_key":1}'), "rotation fields"),
        (lambda e: _with_payload(e, b"[1]"), "canonical JSON object"),
        (lambda e: _with_payload(e, b'{ "a": 1}'), "canonical JSON object"),
        (lambda e: _with_payload(e, b"\xff"), "payload"),
    ],
)
def test_malformed_statements_are_refused(mutate: Any, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_statement(mutate(_rotation()))


def test_a_key_reference_must_match_its_fingerprint() -> None:
    envelope = _rotation()
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["to_key"]["fingerprint_sha256_hex"] = "00" * 16
    with pytest.raises(FormatError, match="fingerprint_sha256_hex does not match"):
        parse_statement(_with_payload(envelope, cjson.dumps(payload)))


def test_signing_refuses_what_could_never_verify() -> None:
    with pytest.raises(ValueError, match="itself"):
        sign_rotation(K1, K1, rotates_at=T0, issued_at=T0)
    with pytest.raises(ValueError, match="other than the revoked"):
        sign_revocation(K1.public_key, K1, compromised_since=T0, reason="x", issued_at=T0)
    with pytest.raises(ValueError, match="reason"):
        sign_revocation(K1.public_key, K2, compromised_since=T0, reason=" ", issued_at=T0)


def test_the_key_document_carries_statements_and_loads_back(tmp_path: Path) -> None:
    revocation = sign_revocation(
        K1.public_key, K2, compromised_since=T0, reason="leaked", issued_at=T0
    )
    material_keys = [K1.public_key, K2.public_key]
    keys = KeySet.trusting(load_material_of(tmp_path, material_keys, [_rotation(), revocation]))
    document = keys.to_document()
    assert [len(document["rotation_statements"]), len(document["revocation_statements"])] == [1, 1]
    (tmp_path / "doc.json").write_bytes(cjson.dumps(document))
    again = KeySet.load(tmp_path / "doc.json")
    assert again.to_document() == document
    assert again.get(K1.key_id) is not None and again.get(K1.key_id).rotates_at is not None  # type: ignore[union-attr]
    revoked = again.revocation(K1.key_id)
    assert isinstance(revoked, Revocation) and revoked.reason == "leaked"
    with pytest.raises(VerificationError) as refused:
        again.require(K1.key_id, K1.public_key.fingerprint, T0 - timedelta(days=9))
    assert refused.value.reason == Reason.KEY_REVOKED


def load_material_of(where: Path, keys: list[Any], statements: list[dict[str, Any]]) -> Any:
    """Write keys and statements as separate files in a directory and load it."""
    folder = where / "keys"
    folder.mkdir()
    for key in keys:
        (folder / f"{key.key_id}.json").write_bytes(cjson.dumps(key.to_dict()))
    for i, statement in enumerate(statements):
        (folder / f"statement-{i}.json").write_bytes(cjson.dumps(statement))
    return load_material(folder)


def test_seen_file_round_trips_and_only_grows(tmp_path: Path) -> None:
    path = tmp_path / "seen.json"
    assert load_seen(path) == Seen()
    keys = KeySet.trusting(load_material_of(tmp_path, [K1.public_key], [_rotation()]))
    assert remember(keys, path, Seen()) is True
    seen = load_seen(path)
    assert seen.rotations == {K1.public_key.fingerprint: K2.public_key.fingerprint}
    assert remember(keys, path, seen) is False  # nothing new: not rewritten
    check_rollback(keys, seen)
    with pytest.raises(VerificationError) as refused:
        check_rollback(KeySet([K1.public_key]), seen)
    assert refused.value.reason == Reason.KEY_ROLLBACK
    check_rollback(KeySet([K3.public_key]), seen)  # a set about other keys is not compared
    path.write_text('{"document_type": "something else"}')
    with pytest.raises(FormatError, match="malformed seen-keys file"):
        load_seen(path)


def test_remembering_keeps_what_another_verifier_wrote_meanwhile(tmp_path: Path) -> None:
    """Two verifiers sharing a home: each adds its rotation, neither loses the other's."""
    path = tmp_path / "seen.json"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = KeySet.trusting(load_material_of(tmp_path / "a", [K1.public_key], [_rotation()]))
    other_rotation = sign_rotation(K2, K3, rotates_at=T0 + timedelta(days=2), issued_at=T0)
    second = KeySet.trusting(load_material_of(tmp_path / "b", [K2.public_key], [other_rotation]))
    stale = load_seen(path)  # the second verifier read the file before the first wrote it
    assert remember(first, path, load_seen(path)) is True
    assert remember(second, path, stale) is True
    assert load_seen(path).rotations == {
        K1.public_key.fingerprint: K2.public_key.fingerprint,
        K2.public_key.fingerprint: K3.public_key.fingerprint,
    }
