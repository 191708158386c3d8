"""UTC-aware datetimes and the two wire formats the registry uses.

Events and aliases carry times to the second (``2026-05-17T23:59:22Z``);
receipts and signatures to the microsecond (``2026-05-17T23:59:22.045226Z``).
Everything is UTC; a naive datetime is a bug and is refused.

A fixed clock (``--now`` or ``SOURCE_DATE_EPOCH``) makes output reproducible,
as reproducible-builds.org recommends.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

from issuer.errors import FormatError

Clock = Callable[[], datetime]

_SECONDS_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
_MICROS_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})Z"
)


def _require_aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("naive datetime: every time in the registry is UTC-aware")
    return when.astimezone(UTC)


# Years from 1000 on are four digits either way; below that, strftime's ``%Y`` is
# platform-defined, so those few keep going through it (and stay as they were).
_FOUR_DIGIT_YEAR = 1000
# strftime's text for those, printf-style: one call formats every field, where an f-string
# formats each through its __format__ (tests/unit/test_record_bytes.py pins both to strftime).
_SECONDS = "%d-%02d-%02dT%02d:%02d:%02dZ"
_MICROS = "%d-%02d-%02dT%02d:%02d:%02d.%06dZ"


@lru_cache(maxsize=256)  # issuance formats the same few instants many times over
def format_seconds(when: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``: the format of ``created_at`` and ``submitted_at``."""
    t = _require_aware(when)
    if t.year < _FOUR_DIGIT_YEAR:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The same text as strftime, without its per-call format parsing.
    return _SECONDS % (t.year, t.month, t.day, t.hour, t.minute, t.second)


@lru_cache(maxsize=256)
def format_micros(when: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ``: the format of ``signed_at`` and receipt times."""
    t = _require_aware(when)
    if t.year < _FOUR_DIGIT_YEAR:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return _MICROS % (t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond)


def parse_seconds(text: object) -> datetime:
    """Parse a seconds-precision wire time strictly.

    Raises:
        FormatError: if ``text`` is not exactly ``YYYY-MM-DDTHH:MM:SSZ``.
    """
    if isinstance(text, str):
        return _seconds(text)
    raise FormatError(f"not a UTC time to the second (YYYY-MM-DDTHH:MM:SSZ): {text!r}")


def parse_micros(text: object) -> datetime:
    """Parse a microsecond-precision wire time strictly.

    Raises:
        FormatError: if ``text`` is not exactly ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.
    """
    if isinstance(text, str):
        return _micros(text)
    raise FormatError(f"not a UTC time to the microsecond (YYYY-MM-DDTHH:MM:SS.ffffffZ): {text!r}")


# A verifier meets each time of a bundle in several steps: parse it once. A refusal
# is not cached (lru_cache keeps results only), so it is raised afresh each time.
@lru_cache(maxsize=4096)
def _seconds(text: str) -> datetime:
    m = _SECONDS_RE.fullmatch(text)
    if m is None:
        raise FormatError(f"not a UTC time to the second (YYYY-MM-DDTHH:MM:SSZ): {text!r}")
    return _build(m, text)


@lru_cache(maxsize=4096)
def _micros(text: str) -> datetime:
    m = _MICROS_RE.fullmatch(text)
    if m is None:
        raise FormatError(
            f"not a UTC time to the microsecond (YYYY-MM-DDTHH:MM:SS.ffffffZ): {text!r}"
        )
    return _build(m, text)


def parse_wire_time(text: object) -> datetime:
    """Parse either wire format (seconds or microseconds).

    Raises:
        FormatError: if ``text`` is neither.
    """
    if isinstance(text, str) and _MICROS_RE.fullmatch(text):
        return parse_micros(text)
    return parse_seconds(text)


def _build(m: re.Match[str], text: object) -> datetime:
    # Built from the matched fields: several times faster than strptime, and as strict.
    try:
        y, mo, d, h, mi, sec, *frac = (int(g) for g in m.groups())
        return datetime(y, mo, d, h, mi, sec, frac[0] if frac else 0, tzinfo=UTC)
    except ValueError as e:
        raise FormatError(f"not a valid time: {text!r}") from e


def parse_user_time(text: str) -> datetime:
    """Parse a time given on the command line: ISO 8601, ``Z`` or an offset, or epoch seconds.

    A time without an offset is refused: guessing a timezone for signed
    evidence would be silent corruption.

    Raises:
        FormatError: if ``text`` is not such a time.
    """
    stripped = text.strip()
    if stripped.isdigit():
        try:
            return datetime.fromtimestamp(int(stripped), tz=UTC)
        except (OverflowError, OSError, ValueError) as e:  # past time_t, or past year 9999
            raise FormatError(
                f"time {text!r} is out of range", hint="use epoch seconds before year 10000"
            ) from e
    try:
        when = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError as e:
        raise FormatError(
            f"not a time: {text!r}", hint="use ISO 8601 with Z, e.g. 2026-05-17T23:59:22Z"
        ) from e
    if when.tzinfo is None:
        raise FormatError(
            f"time {text!r} has no timezone", hint="add Z (UTC) or an offset such as +00:00"
        )
    return when.astimezone(UTC)


def fixed_or_system_clock(now: str | None = None) -> Clock:
    """The clock to use: ``now`` if given, else ``SOURCE_DATE_EPOCH``, else the system clock.

    Raises:
        FormatError: if ``now`` or ``SOURCE_DATE_EPOCH`` is not a valid time.
    """
    if now is None:
        now = os.environ.get("SOURCE_DATE_EPOCH") or None
    if now is None:
        return lambda: datetime.now(UTC)
    fixed = parse_user_time(now)
    return lambda: fixed
