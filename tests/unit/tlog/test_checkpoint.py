"""C2SP tlog-checkpoint bodies and tlog-cosignature (type 0x04)."""

from __future__ import annotations

import base64

import pytest

from issuer.errors import FormatError, VerificationError
from issuer.reasons import Reason
from issuer.tlog import (
    COSIGNATURE_ED25519,
    ED25519,
    Checkpoint,
    NoteSignature,
    NoteSigner,
    cosign,
    cosigned_message,
    sign_note,
    verify_cosignature,
)
from tests import factory

ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()
URLSAFE = base64.urlsafe_b64encode(bytes([0xFF]) * 32).decode()
LOG = NoteSigner("example.com/log", ED25519, factory.signer(1))
WITNESS = NoteSigner("witness.example/w1", COSIGNATURE_ED25519, factory.signer(2))


def test_checkpoint_round_trips_with_extension_lines() -> None:
    text = f"example.com/log\n20852163\n{ROOT_B64}\next one\next two\n"
    cp = Checkpoint.from_text(text)
    assert (cp.origin, cp.size, cp.root_hash) == ("example.com/log", 20852163, ROOT)
    assert cp.extensions == ("ext one", "ext two")
    assert cp.text() == text


def test_the_empty_tree_has_size_zero() -> None:
    assert Checkpoint.from_text(f"o\n0\n{ROOT_B64}\n").size == 0


@pytest.mark.parametrize(
    "text",
    [
        f"o\n1\n{ROOT_B64}",
        "o\n1\n",
        f"\n1\n{ROOT_B64}\n",
        f"o\n01\n{ROOT_B64}\n",
        f"o\n+1\n{ROOT_B64}\n",
        f"o\n-1\n{ROOT_B64}\n",
        f"o\n1 \n{ROOT_B64}\n",
        f"o\n\u0661\n{ROOT_B64}\n",  # ARABIC-INDIC DIGIT ONE: int() would take it
        f"o\n{2**63}\n{ROOT_B64}\n",
        f"o\n1\n{ROOT_B64.rstrip('=')}\n",
        f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"o\n1\n{URLSAFE}\n",
        f"o\n1\n{ROOT_B64}\n\n",
        f"o\n1\n{ROOT_B64}\next\n\nmore\n",
    ],
    ids=[
        "no-final-newline",
        "no-root",
        "empty-origin",
        "leading-zero",
        "plus-sign",
        "negative",
        "trailing-space",
        "non-ascii-digit",
        "size-beyond-2^63-1",
        "unpadded-root",
        "short-root",
        "urlsafe-root",
        "empty-extension-at-end",
        "empty-extension-between",
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(FormatError):
        Checkpoint.from_text(text)


def test_cosignature_signs_the_spec_message() -> None:
    body = Checkpoint("example.com/log", 5, ROOT).text()
    assert cosigned_message(body, 1679315147) == (
        f"cosignature/v1\ntime 1679315147\nexample.com/log\n5\n{ROOT_B64}\n".encode()
    )


def test_cosign_then_verify_gives_the_timestamp() -> None:
    body = Checkpoint("example.com/log", 5, ROOT, ("ext",)).text()
    sig = cosign(body, WITNESS, timestamp=1_700_000_000)
    assert sig.key_id == WITNESS.verifier_key.key_id
    assert sig.signature[:8] == (1_700_000_000).to_bytes(8, "big")
    assert len(sig.signature) == 72
    assert verify_cosignature(sig, body, WITNESS.verifier_key) == 1_700_000_000


def test_a_cosignature_with_another_timestamp_is_refused() -> None:
    body = Checkpoint("example.com/log", 5, ROOT).text()
    sig = cosign(body, WITNESS, timestamp=1_700_000_000)
    moved = NoteSignature(
        sig.name, sig.key_id, (1_700_000_001).to_bytes(8, "big") + sig.signature[8:]
    )
    with pytest.raises(VerificationError) as e:
        verify_cosignature(moved, body, WITNESS.verifier_key)
    assert e.value.reason == Reason.BAD_COSIGNATURE


def test_a_cosignature_covers_the_extension_lines() -> None:
    body = Checkpoint("example.com/log", 5, ROOT).text()
    sig = cosign(body, WITNESS, timestamp=1)
    with pytest.raises(VerificationError):
        verify_cosignature(
            sig, Checkpoint("example.com/log", 5, ROOT, ("x",)).text(), WITNESS.verifier_key
        )


def test_a_cosignature_of_the_wrong_length_is_malformed() -> None:
    key = WITNESS.verifier_key
    with pytest.raises(FormatError):
        verify_cosignature(NoteSignature(key.name, key.key_id, b"\x00" * 71), "o\n", key)


def test_log_and_cosigner_keys_cannot_stand_in_for_each_other() -> None:
    body = Checkpoint("example.com/log", 5, ROOT).text()
    with pytest.raises(ValueError):
        cosign(body, LOG)
    with pytest.raises(ValueError):
        sign_note(body, [WITNESS])
