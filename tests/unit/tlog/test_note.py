"""C2SP signed notes and note keys: the Go example, strict parsing, the spec's verify rules."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from issuer.errors import FormatError, VerificationError
from issuer.reasons import Reason
from issuer.tlog import (
    COSIGNATURE_ED25519,
    ED25519,
    MAX_SIGNATURES,
    Note,
    NoteSignature,
    NoteSigner,
    VerifierKey,
    key_id,
    sign_note,
    verify_note,
)
from tests import factory
from tests.conftest import VECTORS, data_file

EXAMPLE: dict[str, Any] = json.loads(
    data_file(VECTORS / "checkpoints" / "real-checkpoints.json").read_text()
)["go_sumdb_note_example"]

ALICE = NoteSigner("alice.example/log", ED25519, factory.signer(1))
BOB = NoteSigner("bob.example/log", ED25519, factory.signer(2))
TEXT = "hello\nworld\n"


def test_go_example_signs_to_the_exact_signed_note() -> None:
    signer = NoteSigner.parse_private(EXAMPLE["skey"])
    assert str(signer.verifier_key) == EXAMPLE["vkey"]
    note = sign_note(EXAMPLE["text"], [signer])
    assert note.to_bytes().decode() == EXAMPLE["signed_note"]


def test_go_example_parses_verifies_and_writes_back_byte_for_byte() -> None:
    data = EXAMPLE["signed_note"].encode()
    note = Note.parse(data)
    assert note.text == EXAMPLE["text"]
    assert verify_note(note, [VerifierKey.parse(EXAMPLE["vkey"])])
    assert note.to_bytes() == data


def test_key_id_is_the_spec_hash() -> None:
    key = VerifierKey.parse(EXAMPLE["vkey"])
    assert key.key_id == bytes.fromhex("c74f20a3")
    assert key_id("PeterNeumann", ED25519, key.public_key) == key.key_id
    # The same key for cosignatures has another id: the type byte is hashed too.
    assert key_id("PeterNeumann", COSIGNATURE_ED25519, key.public_key) != key.key_id


def _vkey_with(name: str = "n", hex_id: str | None = None, raw: bytes | None = None) -> str:
    public = factory.signer(3).public_key.raw
    raw = bytes([ED25519]) + public if raw is None else raw
    hex_id = key_id(name, raw[0], raw[1:]).hex() if hex_id is None else hex_id
    return f"{name}+{hex_id}+{base64.b64encode(raw).decode()}"


@pytest.mark.parametrize(
    "vkey",
    [
        "no-plus-at-all",
        "name+c74f20a3",
        _vkey_with(hex_id="00000000"),
        _vkey_with(hex_id="C74F20A3"),
        _vkey_with(hex_id="c74f20"),
        _vkey_with(raw=bytes([0x02]) + bytes(32)),
        _vkey_with(raw=bytes([ED25519]) + bytes(31)),
        _vkey_with(raw=bytes([ED25519]) + bytes([1]) + bytes(31)),  # small order (identity)
        _vkey_with(name=""),
        _vkey_with(name="two words"),
        _vkey_with() + "==",
        _vkey_with()[:-1] + "-",
    ],
    ids=[
        "no-fields",
        "no-key",
        "wrong-key-id",
        "uppercase-key-id",
        "short-key-id",
        "unsupported-type",
        "short-key",
        "small-order-key",
        "empty-name",
        "name-with-space",
        "extra-padding",
        "not-base64",
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(FormatError):
        VerifierKey.parse(vkey)


def test_verifier_key_round_trips() -> None:
    vkey = _vkey_with(name="example.com/log")
    assert str(VerifierKey.parse(vkey)) == vkey


SIGNED = sign_note(TEXT, [ALICE]).to_bytes()
SIG_LINE = SIGNED.decode().split("\n\n")[1]


@pytest.mark.parametrize(
    "data",
    [
        b"hello\n",
        b"hello\n\n",
        b"hello\n\n" + SIG_LINE.encode().rstrip(b"\n"),
        b"hello\n\n- alice " + SIG_LINE.split(" ", 2)[2].encode(),
        b"hello\n\n" + SIG_LINE.replace("— ", "—").encode(),
        b"hello\n\n" + SIG_LINE.replace("=\n", "\n").encode(),
        b"hello\n\n" + SIG_LINE.replace(" ", "  ", 2).encode(),
        b"hello\n\n" + SIG_LINE.replace("alice.example/log", "alice+log").encode(),
        b"hello\n\n\xe2\x80\x94 alice AAAA\n",
        b"hel\rlo\n\n" + SIG_LINE.encode(),
        b"hel\x00lo\n\n" + SIG_LINE.encode(),
        b"hel\xfflo\n\n" + SIG_LINE.encode(),
        b"\n\n" + SIG_LINE.encode(),
        b"hello\n\n" + SIG_LINE.encode() * (MAX_SIGNATURES + 1),
        b"x\n" * 2000 + b"\n" + SIG_LINE.encode(),
        b"hello\n\n" + SIG_LINE.encode() + b"trailing",
    ],
    ids=[
        "no-signatures",
        "empty-signature-block",
        "no-final-newline",
        "hyphen-not-em-dash",
        "no-space-after-dash",
        "unpadded-base64",
        "double-space",
        "plus-in-name",
        "signature-too-short",
        "carriage-return",
        "nul",
        "not-utf8",
        "empty-text",
        "too-many-signatures",
        "too-many-lines",
        "trailing-garbage",
    ],
)
def test_malformed_notes_are_refused(data: bytes) -> None:
    with pytest.raises(FormatError):
        Note.parse(data)


def test_an_oversized_note_is_refused_before_decoding() -> None:
    with pytest.raises(FormatError, match="at most"):
        Note.parse(b"a" * (64 * 1024) + b"\n\n" + SIG_LINE.encode())


def test_a_text_with_blank_lines_is_split_at_the_last_blank_line() -> None:
    note = sign_note("a\n\nb\n", [ALICE])
    assert Note.parse(note.to_bytes()) == note
    assert verify_note(note, [ALICE.verifier_key])


def test_unknown_signatures_are_ignored() -> None:
    note = sign_note(TEXT, [ALICE, BOB])
    stranger = NoteSignature("carol.example", b"\x01\x02\x03\x04", b"\x00" * 64)
    same_name_other_id = NoteSignature(ALICE.name, b"\xff\xff\xff\xff", b"\x00" * 64)
    noisy = Note.parse(note.with_signatures(stranger, same_name_other_id).to_bytes())
    assert verify_note(noisy, [ALICE.verifier_key]) == (ALICE.verifier_key,)


def test_a_bad_signature_by_a_known_key_refuses_the_note() -> None:
    good = sign_note(TEXT, [ALICE])
    forged = NoteSignature(ALICE.name, ALICE.verifier_key.key_id, b"\x00" * 64)
    with pytest.raises(VerificationError) as e:
        verify_note(good.with_signatures(forged), [ALICE.verifier_key])
    assert e.value.reason == Reason.BAD_NOTE_SIGNATURE


def test_a_note_no_trusted_key_signed_is_refused() -> None:
    with pytest.raises(VerificationError) as e:
        verify_note(sign_note(TEXT, [BOB]), [ALICE.verifier_key])
    assert e.value.reason == Reason.NO_LOG_SIGNATURE


def test_a_signature_over_another_text_is_refused() -> None:
    other = sign_note("other\n", [ALICE])
    moved = Note(TEXT, other.signatures)
    with pytest.raises(VerificationError) as e:
        verify_note(moved, [ALICE.verifier_key])
    assert e.value.reason == Reason.BAD_NOTE_SIGNATURE


@pytest.mark.parametrize("text", ["no newline", "", "\n", "tab\there\n"])
def test_sign_refuses_texts_that_are_not_note_texts(text: str) -> None:
    with pytest.raises(FormatError):
        sign_note(text, [ALICE])


def test_private_key_with_a_wrong_key_id_is_refused() -> None:
    skey = EXAMPLE["skey"].replace("c74f20a3", "c74f20a4")
    with pytest.raises(FormatError, match="key id"):
        NoteSigner.parse_private(skey)


def test_repr_of_a_note_signer_shows_no_key_material() -> None:
    signer = NoteSigner.parse_private(EXAMPLE["skey"])
    seed_b64 = EXAMPLE["skey"].split("+", 4)[4]
    assert seed_b64 not in repr(signer)
    assert base64.b64decode(seed_b64)[1:].hex() not in repr(signer)
