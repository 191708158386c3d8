"""Step (10)'s quick way (``_proofs._accepted``) gives the steps' own answer, or none.

The bundles of one publication are checked the quick way once their
checkpoint has passed: proofs accepted from their spellings, against the
remembered checkpoint. Each row spoils one bundle of such a publication in
one way; the whole sequence is checked with the quick way and without it,
from the same fresh start, and every outcome (verdict, reason, message, what
is reported) must be the same.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest

from issuer import tlog
from issuer._time import parse_seconds
from issuer.errors import VerificationError
from issuer.keys.keyset import KeySet
from issuer.verify import LogPolicy, _proofs, check_log_proofs
from tests import factory

Json = dict[str, Any]
ORIGIN = "quick.example/log"
KEY = factory.signer(1)
KEYS = KeySet([KEY.public_key])
COUNT = 6
SPOILT = 3  # which bundle of the publication is spoilt


def _publication() -> list[Json]:
    """``COUNT`` bundles, each with a proof of its three leaves in one checkpoint."""
    bundles = [factory.bundle(factory.record(i + 1), KEY) for i in range(COUNT)]
    leaves = [
        tlog.bundle_entries(b["pith_number"], b["canonical_sha256"], b["events"]) for b in bundles
    ]
    tree = tlog.MemoryTree(tlog.leaf_hash(e) for entries in leaves for e in entries)
    note = tlog.sign_checkpoint(ORIGIN, tree.size, tree.root(), KEY).to_bytes()
    first = 0
    for bundle, entries in zip(bundles, leaves, strict=True):
        bundle["timestamp_proofs"] = [
            tlog.inclusion_object(
                ORIGIN,
                first + k,
                tree_size=tree.size,
                entry=entry,
                proof=tlog.inclusion_proof(tree, first + k, tree.size),
                checkpoint=note,
            )
            for k, entry in enumerate(entries)
        ]
        first += len(entries)
    return bundles


PUBLICATION = _publication()


def _flip(proof: Json, at: int) -> None:
    raw = bytearray(base64.b64decode(proof["proof"][at]))
    raw[0] ^= 1
    proof["proof"][at] = base64.b64encode(bytes(raw)).decode()


def _respell(proof: Json, at: int) -> None:
    text = proof["proof"][at]
    proof["proof"][at] = text[:42] + chr(ord(text[42]) + 1) + "="


def _other_note(proofs: list[Json]) -> None:
    note = tlog.Note.parse(proofs[0]["checkpoint"].encode())
    bad = note.signatures[0]
    spoilt = type(bad)(bad.name, bad.key_id, bad.signature[:-1] + bytes([bad.signature[-1] ^ 1]))
    for p in proofs:
        p["checkpoint"] = tlog.Note(note.text, (spoilt,)).to_bytes().decode()


def _set(which: int, key: str, value: object) -> Callable[[list[Json]], None]:
    def edit(proofs: list[Json]) -> None:
        proofs[which][key] = value

    return edit


def _do(edit: Callable[[list[Json]], object]) -> Callable[[list[Json]], None]:
    def spoil(proofs: list[Json]) -> None:
        edit(proofs)

    return spoil


def _not_an_object(proofs: list[Json]) -> None:
    proofs[1] = []  # type: ignore[call-overload]  # the spoil under test


SPOILS: dict[str, Callable[[list[Json]], None]] = {
    "nothing": lambda proofs: None,
    "a hash flipped at the bottom": lambda proofs: _flip(proofs[0], 0),
    "a hash flipped in the shared part": lambda proofs: _flip(proofs[1], 3),
    "a hash flipped at the top": lambda proofs: _flip(proofs[2], -1),
    "a hash spelt leniently at the bottom": lambda proofs: _respell(proofs[0], 0),
    "a hash spelt leniently in the shared part": lambda proofs: _respell(proofs[2], 2),
    "a hash dropped": _do(lambda proofs: proofs[1]["proof"].pop()),
    "a hash added": lambda proofs: proofs[1]["proof"].append(proofs[1]["proof"][0]),
    "a hash that is a number": lambda proofs: proofs[1]["proof"].__setitem__(1, 7),
    "the proof is not a list": _set(0, "proof", "AAAA"),
    "another leaf index": _set(1, "leaf_index", 0),
    "another tree size": _set(1, "tree_size", 10_000),
    "another log origin": _set(2, "log_origin", "other.example/log"),
    "a leaf the bundle does not imply": _set(1, "leaf", "sha256:" + "0" * 64),
    "a proof of the record named as an event": _set(0, "leaf", "record-not"),
    "an unknown field": _set(0, "extra", 1),
    "a field missing": _do(lambda proofs: proofs[0].pop("type")),
    "another type": _set(0, "type", "pith-tlog-inclusion-v2"),
    "the checkpoint spoilt in one proof": lambda proofs: _other_note(proofs[1:2]),
    "the checkpoint spoilt in every proof": _other_note,
    "a proof repeated": lambda proofs: proofs.append(copy.deepcopy(proofs[0])),
    "a proof dropped": _do(lambda proofs: proofs.pop(1)),
    "only the first proof kept": _do(lambda proofs: proofs.__delitem__(slice(1, None))),
    "every proof dropped": lambda proofs: proofs.clear(),
    "two proofs swapped": lambda proofs: proofs.reverse(),
    "a proof that is not an object": _not_an_object,
}


def _outcomes(bundles: list[Json], policy: LogPolicy, *, quick: bool) -> list[tuple[Any, ...]]:
    _proofs._VETTED.clear()
    _proofs._tree.cache_clear()
    _proofs._spelled.cache_clear()
    out: list[tuple[Any, ...]] = []
    was, _proofs._QUICK = _proofs._QUICK, quick
    try:
        for bundle in bundles:
            at = parse_seconds(bundle["built_at"])
            try:
                found = check_log_proofs(bundle, KEYS, at, policy)
            except VerificationError as e:
                out.append((e.step, str(e.reason), e.message))
            except Exception as e:  # noqa: BLE001 - whatever escapes must escape both ways
                out.append((type(e).__name__, str(e)))
            else:
                out.append(("ok", *found))
    finally:
        _proofs._QUICK = was
    return out


@pytest.mark.parametrize("require", [False, True], ids=["log-optional", "log-required"])
@pytest.mark.parametrize("spoil", SPOILS.values(), ids=SPOILS.keys())
def test_the_quick_way_answers_as_the_steps_do(
    spoil: Callable[[list[Json]], None], require: bool
) -> None:
    bundles = copy.deepcopy(PUBLICATION)
    spoil(bundles[SPOILT]["timestamp_proofs"])
    policy = LogPolicy(require=require)
    assert _outcomes(bundles, policy, quick=True) == _outcomes(bundles, policy, quick=False)


def test_the_bundles_after_the_first_of_a_publication_go_the_quick_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers: list[bool] = []
    real = _proofs._accepted

    def counting(*args: Any) -> Any:
        found = real(*args)
        answers.append(found is not None)
        return found

    monkeypatch.setattr(_proofs, "_accepted", counting)
    outcomes = _outcomes(PUBLICATION, LogPolicy(require=True), quick=True)
    assert all(o[0] == "ok" for o in outcomes)
    assert answers == [False] + [True] * (COUNT - 1)


def test_without_the_quick_way_every_bundle_goes_through_the_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The differential tests' other side really is the steps alone."""
    calls: list[str] = []
    for name in ("_accepted", "_steps"):
        real = getattr(_proofs, name)

        def counting(*args: Any, _name: str = name, _real: Any = real) -> Any:
            calls.append(_name)
            return _real(*args)

        monkeypatch.setattr(_proofs, name, counting)
    outcomes = _outcomes(PUBLICATION, LogPolicy(require=True), quick=False)
    assert all(o[0] == "ok" for o in outcomes)
    assert calls == ["_steps"] * COUNT
    calls.clear()
    _outcomes(PUBLICATION, LogPolicy(require=True), quick=True)
    assert calls == ["_accepted", "_steps"] + ["_accepted"] * (COUNT - 1)


def test_a_spoilt_bundle_after_good_ones_is_refused_as_a_fresh_process_refuses_it() -> None:
    """The quick way never lets a remembered good bundle vouch for a spoilt neighbour."""
    bundles = copy.deepcopy(PUBLICATION)
    _flip(bundles[SPOILT]["timestamp_proofs"][2], 4)
    outcomes = _outcomes(bundles, LogPolicy(), quick=True)
    assert outcomes[SPOILT][:2] == ("log", "bad_inclusion_proof")
    assert outcomes == _outcomes(bundles, LogPolicy(), quick=False)


def _bundle_spoils() -> dict[str, Callable[[Json], None]]:
    """Spoils of the bundle around its proofs: what check_log_proofs's callers check first."""

    def unwritable(bundle: Json) -> None:  # a leaf that cannot be written, a spelling wrong
        bundle["canonical_sha256"] = 2**60
        _respell(bundle["timestamp_proofs"][0], 0)

    def events_read_once(bundle: Json) -> None:
        _flip(bundle["timestamp_proofs"][2], 0)
        bundle["events"] = iter(bundle["events"])

    def nothing_to_name(bundle: Json) -> None:
        del bundle["pith_number"], bundle["timestamp_proofs"]

    def number_not_text(bundle: Json) -> None:
        bundle["pith_number"] = 7

    return {
        "a record hash that cannot be written, beside a lenient spelling": unwritable,
        "events that can be read once, beside a wrong proof": events_read_once,
        "no Pith number and no proofs": nothing_to_name,
        "a Pith number that is not text": number_not_text,
    }


BUNDLE_SPOILS = _bundle_spoils()


@pytest.mark.parametrize("spoil", BUNDLE_SPOILS.values(), ids=BUNDLE_SPOILS.keys())
def test_a_bundle_the_other_steps_would_refuse_gets_the_steps_answer(
    spoil: Callable[[Json], None],
) -> None:
    """check_log_proofs called directly: the quick way gives way, whatever it meets."""
    outcomes = []
    for quick in (True, False):
        bundles = copy.deepcopy(PUBLICATION[:2])  # the first vets the checkpoint
        spoil(bundles[1])
        outcomes.append(_outcomes(bundles, LogPolicy(), quick=quick))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1][0] != "ok"
