"""Pith numbers and short forms: derivation and strict parsing (spec §4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from issuer.errors import FormatError
from issuer.identifiers import (
    PithNumber,
    ShortPith,
    check_arxiv_id,
    check_category,
    check_submitted,
    check_submitted_at,
    check_version,
    code_from_digest,
    parse_any,
    parse_pith_number,
    parse_short,
    parse_version_digits,
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


# The source grammar: one definition for readers, issuance, verification and merge.


@pytest.mark.parametrize(
    ("check", "value", "ok"),
    [
        (check_arxiv_id, "1811.06992", True),
        (check_arxiv_id, "0704.0001", True),
        (check_arxiv_id, "math.AG/0601001", True),
        (check_arxiv_id, "hep-th/9901001", True),
        (check_arxiv_id, "1811.06992v2", False),
        (check_arxiv_id, "Math/9201201", False),
        (check_arxiv_id, 1811.06992, False),
        (check_category, "cs.LG", True),
        (check_category, "cond-mat.stat-mech", True),
        (check_category, "hep-th", True),
        (check_category, "CS.LG", False),
        (check_category, "cs.LG!", False),
        (check_category, "", False),
        (check_version, 1, True),
        (check_version, 2**53 - 1, True),
        (check_version, 2**53, False),
        (check_version, 0, False),
        (check_version, True, False),
        (check_submitted_at, "1991-08-14T00:00:00Z", True),
        (check_submitted_at, "9999-12-31T23:59:59Z", True),
        (check_submitted_at, "0999-12-31T23:59:59Z", False),
        (check_submitted_at, "2018-11-16T19:01:40+00:00", False),
    ],
)
def test_source_grammar(check: Callable[[Any], object], value: Any, ok: bool) -> None:
    if ok:
        check(value)
    else:
        with pytest.raises(FormatError):
            check(value)


def test_version_digits_are_bounded_before_conversion() -> None:
    assert parse_version_digits("9007199254740991") == 2**53 - 1
    for digits in (
        "9007199254740992",
        "9" * 5000,
        "01",
        "",
        "\u0661",
    ):  # the last: ARABIC-INDIC DIGIT ONE
        with pytest.raises(FormatError):
            parse_version_digits(digits)


def test_submission_year_bounds() -> None:
    check_submitted(datetime(1000, 1, 1, tzinfo=UTC))
    with pytest.raises(FormatError, match="year 999"):
        check_submitted(datetime(999, 12, 31, tzinfo=UTC))
    with pytest.raises(FormatError, match="timezone"):
        check_submitted(datetime(2020, 1, 1))
