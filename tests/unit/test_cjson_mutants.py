"""Canonical JSON behaviour that mutation testing found unpinned (docs/mutation.md).

Each test pins something a user or a verifier relies on: the exact text of a
refusal (what it quotes, where it cuts), the fallback of the fast path, and when
the UTF-16 key order applies.
"""

from __future__ import annotations

from typing import Any

import pytest

from issuer import cjson
from issuer.cjson import CanonicalJSONError


def _refusal(value: Any) -> str:
    with pytest.raises(CanonicalJSONError) as e:
        cjson.dumps(value)
    return str(e.value)


def _nested(keys: list[str], leaf: Any) -> dict[str, Any]:
    value: Any = leaf
    for key in reversed(keys):
        value = {key: value}
    result: dict[str, Any] = value
    return result


def test_a_path_of_ten_steps_is_quoted_whole() -> None:
    keys = [f"k{i}" for i in range(10)]
    assert _refusal(_nested(keys, 1.5)) == (
        "cannot write canonical JSON: $.k0.k1.k2.k3.k4.k5.k6.k7.k8.k9: "
        "float 1.5 is not allowed (use an integer or a string)"
    )


def test_a_longer_path_keeps_its_first_and_last_five_steps() -> None:
    keys = [f"k{i}" for i in range(12)]
    assert _refusal(_nested(keys, 1.5)) == (
        "cannot write canonical JSON: $.k0.k1.k2.k3.k4....k7.k8.k9.k10.k11: "
        "float 1.5 is not allowed (use an integer or a string)"
    )


def test_a_refused_value_of_forty_characters_is_quoted_whole() -> None:
    value = 10**39  # 40 digits
    assert _refusal(value) == (
        f"cannot write canonical JSON: $: integer {value} is outside +/-(2^53-1)"
    )


def test_a_longer_refused_value_is_cut_to_forty_characters() -> None:
    value = -(10**39)  # 41 characters with the sign
    shown = repr(value)[:37] + "..."
    assert len(shown) == 40
    assert _refusal(value) == (
        f"cannot write canonical JSON: $: integer {shown} is outside +/-(2^53-1)"
    )


def test_an_integer_of_more_than_forty_digits_is_not_printed() -> None:
    assert _refusal(10**40) == (
        "cannot write canonical JSON: $: integer <huge> is outside +/-(2^53-1)"
    )
    assert _refusal(-(10**40)).endswith("integer <huge> is outside +/-(2^53-1)")


@pytest.mark.parametrize("value", [{"n": 2**53}, {"s": {1, 2}}, [b"raw"]], ids=repr)
def test_the_fast_path_refuses_what_dumps_refuses(value: Any) -> None:
    with pytest.raises(CanonicalJSONError) as fast:
        cjson.dumps_parsed(value)
    with pytest.raises(CanonicalJSONError) as strict:
        cjson.dumps(value)
    assert str(fast.value) == str(strict.value)


@pytest.mark.parametrize(
    ("keys", "differs"),
    [
        (["a", "b"], False),
        (["é", "ü"], False),  # below U+E000: both orders agree
        (["\ue000", "\uffff"], False),  # high BMP only
        (["\U0001f600", "a"], False),  # astral only
        (["\U0001f600", "\ue000"], True),  # the one case where the orders differ
    ],
)
def test_utf16_order_is_used_only_when_it_differs(keys: list[str], differs: bool) -> None:
    assert cjson._needs_utf16_sort(keys) is differs
    by_code_point = sorted(keys)
    by_utf16 = sorted(keys, key=lambda k: k.encode("utf-16-be"))
    assert (by_code_point != by_utf16) is differs


def test_a_lone_surrogate_is_refused_naming_where() -> None:
    assert _refusal({"title": "a\ud800"}) == (
        "cannot write canonical JSON: $.title: lone surrogate in string (not valid Unicode text)"
    )
    assert _refusal({"\udfff": 1}) == (
        "cannot write canonical JSON: $['\\udfff']: "
        "lone surrogate in string (not valid Unicode text)"
    )
