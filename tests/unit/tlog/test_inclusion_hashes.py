"""The hashes of an inclusion proof (``parse_inclusion``): read at once, refused one by one.

Each spelling is checked and decoded once per process; whatever was read
before, a proof's hashes and its refusals (the index of the first bad hash)
are those of the reference below, which checks each element on its own.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.errors import FormatError
from issuer.tlog import PROOF_TYPE, parse_inclusion

CANONICAL = re.compile(r"[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=")
GOOD = [base64.b64encode(bytes([i]) * 32).decode() for i in range(4)]


def _reference(proof: list[Any]) -> tuple[bytes, ...] | str:
    """The hashes, or the refusal message, checking each element on its own."""
    for i, h in enumerate(proof):
        if not isinstance(h, str) or not CANONICAL.fullmatch(h):
            return f"proof[{i}] is not the canonical base64 of a 32-byte hash"
    return tuple(binascii.a2b_base64(h) for h in proof)


def _parsed(proof: list[Any]) -> tuple[bytes, ...] | str:
    obj = {
        "type": PROOF_TYPE,
        "log_origin": "example.org/log",
        "leaf_index": 0,
        "tree_size": 2,
        "leaf": "record",
        "proof": proof,
        "checkpoint": "x",
    }
    try:
        return parse_inclusion(obj).proof
    except FormatError as e:
        return e.message


def _near_misses(h: str) -> list[Any]:
    """Spellings of (almost) the same hash that are not its canonical base64."""
    return [
        h[:-1],  # no padding
        h + "=",
        h[:-2] + "B=",  # the unused bits set
        h[:-1] + "A",
        " " + h[1:],
        h[:10] + "\n" + h[11:],
        h[:10] + "é" + h[11:],
        h[:3] + "=" + h[4:],  # padding that ends the first quad: a lenient decoder stops there
        h[:39] + "=" + h[40:],
        h.encode(),
        None,
        44,
        [h],
        {"h": h},
        "",
    ]


CASES = {
    "empty": [],
    "one": GOOD[:1],
    "several": GOOD,
    "the same hash twice": [GOOD[0], GOOD[0]],
    **{
        f"bad at {at}: {bad!r:.20}": [*GOOD[:at], bad, *GOOD[at:]]
        for at in (0, 2)
        for bad in _near_misses(GOOD[1])
    },
    "two bad: the first is named": [GOOD[0], GOOD[1][:-1], None],
}


@pytest.mark.parametrize("proof", CASES.values(), ids=CASES.keys())
def test_hashes_and_refusals_are_those_of_each_element_checked_alone(proof: list[Any]) -> None:
    assert _parsed(proof) == _reference(proof)
    assert _parsed(proof) == _reference(proof)  # again, from what was remembered


@given(
    st.lists(
        st.one_of(
            st.sampled_from(GOOD),
            st.sampled_from(GOOD).map(_near_misses).flatmap(st.sampled_from),
            st.binary(min_size=30, max_size=34).map(lambda b: base64.b64encode(b).decode()),
            st.text(alphabet="AQgw=+/x", min_size=43, max_size=45),
        ),
        max_size=8,
    )
)
def test_any_list_reads_as_each_element_checked_alone(proof: list[Any]) -> None:
    assert _parsed(proof) == _reference(proof)


def test_a_proof_hash_is_decoded_once_and_shared() -> None:
    first, second = _parsed([GOOD[3]]), _parsed([GOOD[3]])
    assert isinstance(first, tuple)
    assert isinstance(second, tuple)
    assert first[0] is second[0]
