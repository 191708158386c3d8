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


def _deep(levels: int, *, alternate: bool, first_list: bool = False) -> Any:
    """``levels`` nested containers: all objects, or objects and arrays in turn."""
    value: Any = 1
    for level in range(levels):
        as_list = alternate and (level % 2 == 0) != first_list
        value = [value] if as_list else {"k": value}
    return value


@pytest.mark.parametrize(("alternate", "first_list"), [(False, False), (True, False), (True, True)])
def test_exactly_max_depth_levels_are_written_and_one_more_is_refused(
    alternate: bool, first_list: bool
) -> None:
    assert cjson.loads(
        cjson.dumps(_deep(cjson.MAX_DEPTH, alternate=alternate, first_list=first_list))
    )
    assert _refusal(
        _deep(cjson.MAX_DEPTH + 1, alternate=alternate, first_list=first_list)
    ).endswith(f": nested more than {cjson.MAX_DEPTH} levels deep")


# Keys whose code-point order (U+E000 first) and UTF-16 order (the astral one first) differ.
HAZARD = {"\ue000": 2, "\U0001f600": 1}
HAZARD_BYTES = '{"\U0001f600":1,"\ue000":2}'.encode()


@pytest.mark.parametrize(
    "value",
    [
        [HAZARD, {}],
        [[HAZARD], []],
        [[HAZARD], ["x"]],
        {"a": [HAZARD], "b": []},
        {"a": HAZARD, "b": {}},
    ],
    ids=["object-then-object", "array-then-array", "array-then-strings", "in-object", "objects"],
)
def test_utf16_key_order_deep_inside_is_kept_whatever_follows_it(value: Any) -> None:
    assert HAZARD_BYTES in cjson.dumps(value)


def test_a_non_string_key_is_quoted_in_the_refusal() -> None:
    assert _refusal({7: "x"}) == ("cannot write canonical JSON: $[7]: object key 7 is not a string")


def test_an_identifier_key_of_forty_characters_is_shown_as_a_dotted_step() -> None:
    key = "k" * 40
    assert _refusal({key: 1.5}) == (
        f"cannot write canonical JSON: $.{key}: "
        "float 1.5 is not allowed (use an integer or a string)"
    )
    longer = "k" * 41
    assert _refusal({longer: 1.5}).startswith(f"cannot write canonical JSON: $['{'k' * 36}...]:")


def _load_refusal(data: bytes | str) -> str:
    with pytest.raises(CanonicalJSONError) as e:
        cjson.loads(data)
    return str(e.value)


def test_a_duplicate_key_is_named_not_the_first_key() -> None:
    assert _load_refusal(b'{"a": 1, "b": 2, "b": 3}') == "invalid JSON: duplicate object key 'b'"


def test_a_document_of_exactly_the_limit_is_read() -> None:
    data = b'"' + b"a" * (cjson.MAX_DOCUMENT_BYTES - 2) + b'"'
    assert len(cjson.loads(data)) == cjson.MAX_DOCUMENT_BYTES - 2
    assert _load_refusal(data + b" ") == (
        f"invalid JSON: {cjson.MAX_DOCUMENT_BYTES + 1} bytes is over the "
        f"{cjson.MAX_DOCUMENT_BYTES}-byte limit"
    )


def test_text_is_read_like_bytes() -> None:
    assert cjson.loads('{"b": [1, "é"], "a": null}') == {"a": None, "b": [1, "é"]}


def test_a_byte_order_mark_is_refused_saying_so() -> None:
    assert _load_refusal(b'\xef\xbb\xbf{"a": 1}') == "invalid JSON: starts with a byte-order mark"


def test_a_value_outside_the_domain_is_refused_on_reading_with_its_path() -> None:
    assert _load_refusal('{"t": ["ok", "\\ud800"]}') == (
        "invalid JSON: $.t[1]: lone surrogate in string (not valid Unicode text)"
    )
