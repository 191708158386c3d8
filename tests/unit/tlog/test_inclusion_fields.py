"""The verifier's quick readers against the strict ones: same values, same refusals.

:func:`issuer.tlog.inclusion_fields` must give :func:`~issuer.tlog.parse_inclusion`'s
fields (the checkpoint as text) or its exact error, for every proof object
below; :func:`~issuer.tlog.record_entry` and :func:`~issuer.tlog.event_entry`
spell plain entries out themselves, and must write the bytes the canonical
JSON writer makes of the entry objects, for any text.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer import cjson
from issuer.errors import FormatError
from issuer.tlog import (
    event_entry,
    inclusion_fields,
    inclusion_spelled,
    parse_inclusion,
    record_entry,
)
from issuer.tlog._log import event_object, record_object
from tests.unit.verify.test_proofs import PROVEN

GOOD: dict[str, Any] = PROVEN["timestamp_proofs"][0]
HASH = GOOD["proof"][0]


class _Int(int):
    pass


class _Str(str):
    __slots__ = ()


class _Dict(dict):  # type: ignore[type-arg]
    pass


def _with(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(GOOD), **changes}


def _without(name: str) -> dict[str, Any]:
    return {k: v for k, v in copy.deepcopy(GOOD).items() if k != name}


OBJECTS: dict[str, Any] = {
    "good": GOOD,
    "not an object": [GOOD],
    "a dict subclass": _Dict(GOOD),
    "no type": _without("type"),
    "another type": _with(type="pith-tlog-inclusion-v2"),
    "a missing field": _without("leaf"),
    "an extra field": _with(extra=1),
    "a field swapped for another": {**_without("leaf"), "leaves": "record"},
    "a bool index": _with(leaf_index=True),
    "a bool size": _with(tree_size=True),
    "an int subclass index": _with(leaf_index=_Int(5)),
    "a string index": _with(leaf_index="5"),
    "a negative index": _with(leaf_index=-1),
    "index at the size": _with(leaf_index=10),
    "the first index": _with(leaf_index=0),
    "the last index": _with(leaf_index=9),
    "a str subclass origin": _with(log_origin=_Str(GOOD["log_origin"])),
    "an origin that is not text": _with(log_origin=1),
    "a leaf that is not text": _with(leaf=None),
    "a checkpoint that is not text": _with(checkpoint=b"x"),
    "a checkpoint of a lone surrogate": _with(checkpoint="\ud800"),
    "a proof that is a tuple": _with(proof=tuple(GOOD["proof"])),
    "a proof that is text": _with(proof=HASH),
    "63 hashes": _with(proof=[HASH] * 63),
    "64 hashes": _with(proof=[HASH] * 64),
    "no hashes": _with(proof=[]),
    "a hash that is not text": _with(proof=[HASH, 7]),
    "a hash that is a list": _with(proof=[HASH, [HASH]]),
    "a non-canonical hash": _with(proof=[HASH[:42] + "B="]),
    "a short hash": _with(proof=[HASH[:-4] + "="]),
}


def _outcome(read: Any, obj: Any) -> tuple[Any, ...]:
    try:
        return ("value", read(obj))
    except FormatError as e:
        return ("refused", e.message)
    except ValueError as e:  # str.encode's, as parse_inclusion lets it through
        return ("error", type(e).__name__)


def _strict(obj: Any) -> tuple[Any, ...]:
    p = parse_inclusion(obj)
    return (p.origin, p.leaf_index, p.tree_size, p.leaf, p.proof, p.checkpoint.decode())


def _quick(obj: Any) -> tuple[Any, ...]:
    """inclusion_fields, its checkpoint encoded as the verifier encodes an unseen one."""
    fields = inclusion_fields(obj)
    return (*fields[:5], fields[5].encode().decode())


@pytest.mark.parametrize("obj", OBJECTS.values(), ids=OBJECTS.keys())
def test_inclusion_fields_reads_as_parse_inclusion(obj: Any) -> None:
    assert _outcome(_quick, obj) == _outcome(_strict, obj)


# The objects inclusion_spelled reads (their proof hashes are not looked at); it hands
# every other one back (None), for parse_inclusion to refuse or read.
SPELLED = {
    "good",
    "the first index",
    "the last index",
    "a checkpoint of a lone surrogate",
    "63 hashes",
    "no hashes",
    "a hash that is not text",
    "a hash that is a list",
    "a non-canonical hash",
    "a short hash",
}


@pytest.mark.parametrize("name", OBJECTS)
def test_inclusion_spelled_reads_the_usual_shape_and_hands_back_the_rest(name: str) -> None:
    obj = OBJECTS[name]
    found = inclusion_spelled(obj)
    if name not in SPELLED:
        assert found is None
        return
    assert found == (
        obj["log_origin"],
        obj["leaf_index"],
        obj["tree_size"],
        obj["leaf"],
        obj["proof"],
        obj["checkpoint"],
    )
    assert found[4] is obj["proof"]  # as spelt: not read, not copied


def test_the_good_proof_is_read_as_it_is() -> None:
    assert inclusion_fields(GOOD) == _strict(GOOD)
    assert inclusion_fields(GOOD)[5] is GOOD["checkpoint"]  # the text, not a copy


_text = st.text(max_size=24) | st.sampled_from(["pith:2024:AB", "", '"', "\\", "\x7f", "\u2028"])
_hex = st.text(alphabet="0123456789abcdefABCDEF", min_size=63, max_size=65)


@given(_text, _text | _hex)
def test_record_entry_writes_the_canonical_bytes(number: str, digest: str) -> None:
    assert record_entry(number, digest) == cjson.dumps(record_object(number, digest))


@given(_text, _hex | _text)
def test_event_entry_writes_the_canonical_bytes(number: str, digest: str) -> None:
    event_id = "sha256:" + digest
    try:
        expected = cjson.dumps(event_object(number, event_id))
    except ValueError:
        with pytest.raises(ValueError, match="not an event id"):
            event_entry(number, event_id)
        return
    assert event_entry(number, event_id) == expected
