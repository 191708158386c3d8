"""Which witness URL may add which cosignature: ``WitnessKeys``, trust on first use per URL.

A named scenario table: the keys held before (as ``.pith-witnesses.json`` gives
them), the checkpoint's cosignatures before, then the answers of one run, in
order, each taken or refused with the warning it gets. A refused answer adds
nothing, and no answer ever removes or replaces another URL's line.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from issuer.errors import FormatError, NetworkError
from issuer.tlog import CosignerKey, Note, NoteSignature, WitnessKeys

W1 = CosignerKey("witness.example/w1", bytes.fromhex("0a0b0c0d"))
W2 = CosignerKey("witness.example/w2", bytes.fromhex("01020304"))
A, B, C = "http://a.example", "http://b.example", "http://c.example"
LOG_LINE = NoteSignature("example.com/log", b"\x00" * 4, b"\x00" * 64)
TEXT = "example.com/log\n10\n" + "A" * 43 + "=\n"


def line(key: CosignerKey, tag: int) -> NoteSignature:
    """A cosignature line under ``key``; ``tag`` tells lines apart."""
    return NoteSignature(key.name, key.key_id, bytes([tag]) * 72)


@dataclass(frozen=True)
class Scenario:
    held: dict[str, CosignerKey]  # before the run
    before: tuple[NoteSignature, ...]  # the checkpoint's cosignatures before the run
    answers: tuple[tuple[str, tuple[NoteSignature, ...]], ...]  # (URL, lines), in order
    warnings: tuple[str | None, ...]  # one per answer: None when taken
    after: tuple[NoteSignature, ...]  # the checkpoint's cosignatures after the run
    held_after: dict[str, CosignerKey]


SCENARIOS = {
    "first answers: taken, each URL holds its key": Scenario(
        held={},
        before=(),
        answers=((A, (line(W1, 1),)), (B, (line(W2, 2),))),
        warnings=(None, None),
        after=(line(W1, 1), line(W2, 2)),
        held_after={A: W1, B: W2},
    ),
    "a URL answering again under its key replaces its own older line": Scenario(
        held={A: W1, B: W2},
        before=(line(W1, 1), line(W2, 2)),
        answers=((A, (line(W1, 3),)),),
        warnings=(None,),
        after=(line(W2, 2), line(W1, 3)),
        held_after={A: W1, B: W2},
    ),
    "refused: an answer under two keys": Scenario(
        held={},
        before=(),
        answers=((A, (line(W1, 1), line(W2, 2))),),
        warnings=("cosignature lines under 2 keys",),
        after=(),
        held_after={},
    ),
    "refused: a URL answering under another key than the one it holds": Scenario(
        held={A: W1},
        before=(line(W1, 1),),
        answers=((A, (line(W2, 2),)),),
        warnings=(
            f"a cosignature under {W2}, not under {W1}, the key this URL answered with before",
        ),
        after=(line(W1, 1),),
        held_after={A: W1},
    ),
    "refused: a key another URL held in an earlier run, whatever the order": Scenario(
        held={B: W1},
        before=(line(W1, 1),),
        answers=((A, (line(W1, 9),)), (B, (line(W1, 2),))),
        warnings=(f"a cosignature under {W1}, the key of witness {B}", None),
        after=(line(W1, 2),),
        held_after={B: W1},
    ),
    "refused: a key another URL got earlier in this run": Scenario(
        held={},
        before=(),
        answers=((B, (line(W1, 1),)), (A, (line(W1, 9),))),
        warnings=(None, f"a cosignature under {W1}, the key of witness {B}"),
        after=(line(W1, 1),),
        held_after={B: W1},
    ),
    "refused: a first answer under a key the checkpoint carries from an unrecorded URL": Scenario(
        held={},
        before=(line(W1, 1),),
        answers=((A, (line(W1, 9),)),),
        warnings=(f"a cosignature under {W1}, which the checkpoint already carries",),
        after=(line(W1, 1),),
        held_after={},
    ),
    "the same witness by its URL with credentials: taken": Scenario(
        held={A: W1},
        before=(line(W1, 1),),
        answers=(("http://***@a.example/", (line(W1, 2),)),),
        warnings=(None,),
        after=(line(W1, 2),),
        held_after={A: W1, "http://***@a.example/": W1},
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS), ids=list(SCENARIOS))
def test_witness_keys_scenarios(name: str) -> None:
    s = SCENARIOS[name]
    keys = WitnessKeys(s.held)
    note = Note(TEXT, (LOG_LINE, *s.before))
    for (url, lines), warning in zip(s.answers, s.warnings, strict=True):
        if warning is None:
            note = keys.add(url, note, lines)
        else:
            with pytest.raises(NetworkError) as e:
                keys.add(url, note, lines)
            assert e.value.message.startswith(f"witness {url}: {warning}"), e.value.message
    assert note.signatures == (LOG_LINE, *s.after)
    assert keys.held == s.held_after


def test_a_cosigner_key_is_written_and_read_as_name_plus_key_id() -> None:
    assert str(W1) == "witness.example/w1+0a0b0c0d"
    assert CosignerKey.parse(str(W1)) == W1


@pytest.mark.parametrize(
    "text", ["", "w1", "w1+0a0b0c", "w1+0A0B0C0D", "w 1+0a0b0c0d", "+0a0b0c0d", "a+b+0a0b0c0d"]
)
def test_a_malformed_cosigner_key_is_refused(text: str) -> None:
    with pytest.raises(FormatError):
        CosignerKey.parse(text)
