"""Pith numbers and short forms: derivation and strict parsing (spec §4)."""

from __future__ import annotations

import pytest

from issuer.errors import FormatError
from issuer.identifiers import (
    PithNumber,
    ShortPith,
    code_from_digest,
    parse_any,
    parse_pith_number,
    parse_short,
)

REAL = "pith:2018:AH5S4WE2T4KISLKPOBTLFWQMX3"


def test_code_is_first_26_base32_characters() -> None:
    digest = "01fb2e589a9f14892d4f7066b2da0cbedbddaa333d2b71aa702d1be61b7854be"
    assert code_from_digest(digest) == "AH5S4WE2T4KISLKPOBTLFWQMX3"


def test_parse_round_trips() -> None:
    number = parse_pith_number(REAL)
    assert number == PithNumber(2018, "AH5S4WE2T4KISLKPOBTLFWQMX3")
    assert str(number) == REAL
    assert number.short == "pith:AH5S4WE2"
    assert parse_any(REAL) == number
    short = parse_any("pith:AH5S4WE2T4KI")
    assert isinstance(short, ShortPith)
    assert short.matches(number)
    assert not parse_short("pith:AH5S4WE3").matches(number)


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("PITH:2018:AH5S4WE2T4KISLKPOBTLFWQMX3", "does not start with 'pith:'", "lower case"),
        ("doi:2018:AH5S4WE2T4KISLKPOBTLFWQMX3", "does not start", "looks like"),
        ("pith:18:AH5S4WE2T4KISLKPOBTLFWQMX3", "year '18' is not four digits", None),
        ("pith:\uff12\uff10\uff11\uff18:AH5S4WE2T4KISLKPOBTLFWQMX3", "not four digits", None),
        (
            "pith:2018:ah5s4we2t4kislkpobtlfwqmx3",
            "upper case",
            "pith:2018:AH5S4WE2T4KISLKPOBTLFWQMX3",
        ),
        ("pith:2018:AH5S4WE2T4KISLKPOBTLFWQMX0", "'0' are not in the base32", "read 0 as O"),
        ("pith:2018:AH5S4WE2T4KISLKPOBTLFWQMX", "25 characters, expected 26", None),
        ("pith:2018:AH5S4WE2T4KISLKPOBTLFWQMX33", "27 characters", None),
        ("pith:AH5S4WE2T4KISLKPOBTLFWQMX3", "missing the year", "short form"),
    ],
)
def test_parse_pith_number_errors(text: str, message: str, hint: str | None) -> None:
    with pytest.raises(FormatError, match=message) as info:
        parse_pith_number(text)
    if hint:
        assert info.value.hint and hint in info.value.hint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pith:AH5S4WE", "7 characters, expected 8 or 12 or 16"),
        ("pith:AH5S4WE2T", "9 characters"),
        ("pith:ah5s4we2", "upper case"),
        ("AH5S4WE2", "looks like pith:AH5S4WE2"),
        ("pith:AH5S-WE2", "not in the base32"),
    ],
)
def test_parse_short_errors(text: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_short(text)


def test_non_string_is_refused() -> None:
    with pytest.raises(FormatError):
        parse_pith_number(2018)
