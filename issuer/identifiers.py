"""Pith numbers, short forms, source aliases (spec §4), and the source grammar (§3).

``code`` is the first 26 characters (130 bits) of the upper-case RFC 4648
base32 of the canonical record's SHA-256 digest. The Pith number prefixes it
with the v1 submission year; the short forms are its first 8, 12 or 16
characters. Pith numbers are compared in full; a short form can be ambiguous
(about 3 million records make a few 8-character collisions likely), and
resolvers must name every candidate rather than pick one.

The *source grammar* is the one definition of what an arXiv id, a category,
a version and a submission time may be. The readers refuse a record with it
(``FILE:LINE``), issuance builds records with it, and the verifier and the
merge check records with it (through :meth:`CanonicalRecord.from_dict`), so a
record the verifier would refuse is never issued.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from issuer._frozen import assemble
from issuer._time import format_seconds, parse_seconds
from issuer.cjson import MAX_SAFE_INTEGER
from issuer.errors import FormatError

if TYPE_CHECKING:  # annotations only: record.py imports the grammar from here
    from issuer.record import CanonicalRecord

PREFIX = "pith:"
CODE_LENGTH = 26
SHORT_LENGTHS = (8, 12, 16)
YEAR_DIGITS = 4
ARXIV_DOI_PREFIX = "10.48550/arxiv."

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_CODE_RE = re.compile(r"[A-Z2-7]+")
_FULL_RE = re.compile(r"pith:([0-9]{4}):([A-Z2-7]{26})")

# --- The source grammar (spec §3): readers, issuance, verification and merge share it.

#: New-style ids (0704.0001, 1811.06992) and old-style ids (math/9201201,
#: hep-th/9901001, math.AG/0601001): arXiv's two identifier schemes.
ARXIV_ID_RE = re.compile(r"(?:[0-9]{4}\.[0-9]{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/[0-9]{7})")
#: A category: an archive (``hep-th``, ``math``) and an optional subject (``cs.LG``).
CATEGORY_RE = re.compile(r"[a-z][a-z-]*(?:\.[A-Za-z-]+)?")
#: Versions are integers canonical JSON can carry: 1 … 2^53−1.
MAX_VERSION = MAX_SAFE_INTEGER
_MAX_VERSION_DIGITS = len(str(MAX_VERSION))
#: Submission years: the Pith number carries the year as four digits.
MIN_YEAR, MAX_YEAR = 1000, 9999


def check_arxiv_id(value: object, what: str = "arXiv id") -> str:
    """An arXiv id without version, or :class:`FormatError` naming ``what``.

    Raises:
        FormatError: if ``value`` is not a new- or old-style arXiv id.
    """
    if not isinstance(value, str) or not ARXIV_ID_RE.fullmatch(value):
        raise FormatError(f"{what}: not an arXiv id: {shown(value)}")
    return value


def check_category(value: object, what: str = "category") -> str:
    """An arXiv category such as ``cs.LG`` or ``hep-th``.

    Raises:
        FormatError: if ``value`` is not a category.
    """
    if not isinstance(value, str) or not CATEGORY_RE.fullmatch(value):
        raise FormatError(f"{what}: not a category: {shown(value)}")
    return value


def check_categories(values: Sequence[object], what: str = "categories") -> tuple[str, ...]:
    """All categories of a paper, primary first: at least one, each a category.

    Raises:
        FormatError: if there is none or one is not a category.
    """
    if not values:
        raise FormatError(f"{what}: empty")
    match = CATEGORY_RE.fullmatch
    for value in values:
        if type(value) is not str or not match(value):
            check_category(value, what)  # raises, naming the value
    return cast("tuple[str, ...]", tuple(values))


def check_version(value: object, what: str = "version") -> int:
    """A version number: an integer from 1 to 2^53−1.

    Raises:
        FormatError: if ``value`` is not such an integer.
    """
    if type(value) is not int or value < 1:
        raise FormatError(f"{what}: not a positive integer: {shown(value)}")
    if value > MAX_VERSION:
        raise FormatError(f"{what}: {shown(value)} is above 2^53-1")
    return value


def parse_version_digits(digits: str, what: str = "version") -> int:
    """The version written as decimal ``digits`` (no sign, no leading zero).

    Raises:
        FormatError: if ``digits`` is not such a number from 1 to 2^53−1.
    """
    if not (digits.isascii() and digits.isdigit()) or digits.startswith("0"):
        raise FormatError(f"{what}: not a positive integer: {shown(digits)}")
    if len(digits) > _MAX_VERSION_DIGITS:  # before int(): a 5,000-digit label stays cheap
        raise FormatError(f"{what}: {shown(digits)} is above 2^53-1")
    return check_version(int(digits), what)


def check_submitted(value: datetime, what: str = "submitted_at") -> datetime:
    """A v1 submission time: UTC-aware, with a four-digit year (1000 to 9999).

    Raises:
        FormatError: if the year is out of range or the time is naive.
    """
    if value.tzinfo is None:
        raise FormatError(f"{what}: a time without a timezone")
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise FormatError(f"{what}: year {value.year} is not between {MIN_YEAR} and {MAX_YEAR}")
    return value


def check_submitted_at(value: object, what: str = "submitted_at") -> datetime:
    """``submitted_at`` as the record carries it (``YYYY-MM-DDTHH:MM:SSZ``), parsed.

    Raises:
        FormatError: if it is not that wire format or its year is out of range.
    """
    try:
        when = parse_seconds(value)
    except FormatError as e:
        raise FormatError(f"{what}: {e.message}") from e
    return check_submitted(when, what)


def check_license(value: object, what: str = "license") -> str | None:
    """A license URL (a non-empty string of valid Unicode) or None.

    Raises:
        FormatError: otherwise.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value or not is_unicode(value):
        raise FormatError(f"{what}: not a non-empty string or null")
    return value


def check_source(
    arxiv_id: object,
    *,
    version: object,
    categories: Sequence[object],
    license_url: object,
    submitted: datetime,
    texts: dict[str, str],
) -> tuple[str, ...]:
    """Check what a source says about a paper against the grammar; the categories back.

    What readers and :meth:`CanonicalRecord.from_source` both check, so no
    record that :meth:`CanonicalRecord.from_dict` (the verifier) would refuse
    is ever built. ``texts`` are the title and abstract, by name: they are
    hashed as UTF-8, so they must be valid Unicode, and kept as text, so
    without U+0000.

    Raises:
        FormatError: naming the first field outside the grammar.
    """
    check_arxiv_id(arxiv_id, "source id")
    check_version(version, "source version")
    checked = check_categories(categories)
    check_license(license_url)
    check_submitted(submitted, "v1 submission time")
    for name, text in texts.items():
        if not is_unicode(text):
            raise FormatError(f"{name}: not valid Unicode (a lone surrogate)")
        if "\0" in text:
            # XML cannot carry it, so arXiv never serves it; a PostgreSQL registry cannot store it.
            raise FormatError(f"{name}: holds U+0000 (NUL), which no arXiv text holds")
    return checked


def is_unicode(text: str) -> bool:
    """Whether ``text`` is valid Unicode (no lone surrogates), so it can be hashed as UTF-8."""
    if text.isascii():
        return True
    try:
        # A lone surrogate is above U+00FF: Latin-1 text (stored one byte a character,
        # encoded by a copy) has none, so only other text is encoded as UTF-8 to find one.
        text.encode("latin-1")
    except UnicodeEncodeError:
        pass
    else:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut short for a message: refusals quote input, which may be huge."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


#: Alias kinds in the registry's order (sorted by ``alias_kind``).
ALIAS_KINDS = ("arxiv", "arxiv_version", "doi", "pith_short_12", "pith_short_16", "pith_short_8")


#: Two base32 characters for each 10-bit value: a code is 13 look-ups, where
#: ``base64.b32encode`` (pure Python before 3.13) encodes all 32 bytes to cut 26.
_B32_PAIRS = tuple(a + b for a in _B32 for b in _B32)
_CODE_BITS = 5 * CODE_LENGTH  # 130: the first 17 bytes of the digest, less 6 bits


def code_from_bytes(digest: bytes) -> str:
    """The 26-character code of a SHA-256 digest given as its 32 raw bytes.

    Equal to ``base64.b32encode(digest).decode()[:26]`` (a test pins it). The
    13 look-ups are spelt out: a comprehension costs a frame and a loop a call.
    """
    bits = int.from_bytes(digest[:17], "big") >> (8 * 17 - _CODE_BITS)
    p = _B32_PAIRS
    return (
        p[bits >> 120]
        + p[(bits >> 110) & 0x3FF]
        + p[(bits >> 100) & 0x3FF]
        + p[(bits >> 90) & 0x3FF]
        + p[(bits >> 80) & 0x3FF]
        + p[(bits >> 70) & 0x3FF]
        + p[(bits >> 60) & 0x3FF]
        + p[(bits >> 50) & 0x3FF]
        + p[(bits >> 40) & 0x3FF]
        + p[(bits >> 30) & 0x3FF]
        + p[(bits >> 20) & 0x3FF]
        + p[(bits >> 10) & 0x3FF]
        + p[bits & 0x3FF]
    )


def code_from_digest(digest_hex: str) -> str:
    """The 26-character code of a SHA-256 digest given as hex."""
    return code_from_bytes(bytes.fromhex(digest_hex))


@dataclass(frozen=True, order=True)
class PithNumber:
    """A full Pith number, ``pith:YYYY:CODE``."""

    year: int
    code: str

    def __str__(self) -> str:
        return f"{PREFIX}{self.year:04d}:{self.code}"

    @property
    def short(self) -> str:
        """The short Pith number, ``pith:`` + the first 8 characters of the code."""
        return PREFIX + self.code[:8]

    @classmethod
    def for_record(cls, record: CanonicalRecord) -> PithNumber:
        """Derive the Pith number of a canonical record."""
        # submitted_at is validated wire format (YYYY-…), so its year is its first 4 digits.
        # cls(year, code) without its field-by-field __init__
        return assemble(
            cls,
            {
                "year": int(record.submitted_at[:4]),
                "code": code_from_bytes(record.canonical_digest),
            },
        )


@dataclass(frozen=True)
class ShortPith:
    """A short form: ``pith:`` + the first 8, 12 or 16 characters of a code."""

    prefix: str

    def __str__(self) -> str:
        return PREFIX + self.prefix

    def matches(self, number: PithNumber) -> bool:
        """Whether ``number`` starts with this short form."""
        return number.code.startswith(self.prefix)


def _check_code(code: str, text: str, lengths: tuple[int, ...]) -> None:
    if code != code.upper() and _CODE_RE.fullmatch(code.upper()):
        fixed = text[: len(text) - len(code)] + code.upper()
        raise FormatError(f"{text!r}: Pith codes are upper case", hint=f"did you mean {fixed}?")
    bad = sorted({ch for ch in code if ch not in _B32})
    if bad:
        hint = None
        if set(bad) & set("0189"):
            hint = "base32 has no 0, 1, 8 or 9: read 0 as O, 1 as I, 8 as B"
        raise FormatError(
            f"{text!r}: characters {''.join(bad)!r} are not in the base32 alphabet A-Z 2-7",
            hint=hint,
        )
    if len(code) not in lengths:
        want = " or ".join(str(n) for n in lengths)
        raise FormatError(f"{text!r}: code has {len(code)} characters, expected {want}")


def parse_pith_number(text: object) -> PithNumber:
    """Parse a full Pith number strictly.

    Raises:
        FormatError: naming what is wrong (prefix, year, alphabet, length or case).
    """
    if not isinstance(text, str):
        raise FormatError(f"not a Pith number: {text!r}")
    if not text.startswith(PREFIX):
        hint = "a Pith number looks like pith:2018:AH5S4WE2T4KISLKPOBTLFWQMX3"
        if text.lower().startswith(PREFIX):
            hint = f"the prefix is lower case: {PREFIX}{text[len(PREFIX) :]}"
        raise FormatError(f"{text!r}: does not start with {PREFIX!r}", hint=hint)
    m = _FULL_RE.fullmatch(text)
    if m:
        return PithNumber(int(m.group(1)), m.group(2))
    rest = text[len(PREFIX) :]
    year, sep, code = rest.partition(":")
    if not sep:
        raise FormatError(
            f"{text!r}: missing the year (pith:YYYY:CODE)",
            hint="a short form (pith:CODE8) names a record only where it is unambiguous",
        )
    if not (len(year) == YEAR_DIGITS and year.isascii() and year.isdigit()):
        raise FormatError(f"{text!r}: year {year!r} is not four digits")
    _check_code(code, text, (CODE_LENGTH,))
    raise FormatError(f"not a Pith number: {text!r}")  # pragma: no cover - _check_code raised


def parse_short(text: object) -> ShortPith:
    """Parse a short form, ``pith:`` + 8, 12 or 16 code characters.

    Raises:
        FormatError: naming what is wrong.
    """
    if not isinstance(text, str) or not text.startswith(PREFIX):
        raise FormatError(f"{text!r}: a short Pith number looks like pith:AH5S4WE2")
    code = text[len(PREFIX) :]
    _check_code(code, text, SHORT_LENGTHS)
    return ShortPith(code)


def parse_any(text: str) -> PithNumber | ShortPith:
    """Parse a full Pith number or a short form.

    Raises:
        FormatError: naming what is wrong.
    """
    if text.count(":") > 1:
        return parse_pith_number(text)
    return parse_short(text)


def arxiv_doi(arxiv_id: str) -> str:
    """arXiv's own DOI for a paper, lower case: ``10.48550/arxiv.1811.06992``."""
    return (ARXIV_DOI_PREFIX + arxiv_id).lower()


def source_aliases(
    record: CanonicalRecord,
    number: PithNumber,
    created_at: datetime,
    short_created_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """The six source aliases of a record, in the registry's order.

    Args:
        record: the canonical record.
        number: its Pith number.
        created_at: when the arXiv aliases were created.
        short_created_at: when the ``pith_short_*`` aliases were created
            (the registry added them later); defaults to ``created_at``.
    """
    at = format_seconds(created_at)
    short_at = at if short_created_at is None else format_seconds(short_created_at)
    values = expected_alias_values(record, number)
    # In ALIAS_KINDS order, spelt out (a test pins the kinds to ALIAS_KINDS).
    return [
        {"alias_kind": "arxiv", "alias_value": values["arxiv"], "created_at": at},
        {"alias_kind": "arxiv_version", "alias_value": values["arxiv_version"], "created_at": at},
        {"alias_kind": "doi", "alias_value": values["doi"], "created_at": at},
        {
            "alias_kind": "pith_short_12",
            "alias_value": values["pith_short_12"],
            "created_at": short_at,
        },
        {
            "alias_kind": "pith_short_16",
            "alias_value": values["pith_short_16"],
            "created_at": short_at,
        },
        {
            "alias_kind": "pith_short_8",
            "alias_value": values["pith_short_8"],
            "created_at": short_at,
        },
    ]


def expected_alias_values(record: CanonicalRecord, number: PithNumber) -> dict[str, str]:
    """The value each alias kind must have for this record (used by verification)."""
    code = number.code
    return {
        "arxiv": record.source_id,
        "arxiv_version": record.versioned_id,
        "doi": arxiv_doi(record.source_id),
        "pith_short_12": code[:12],
        "pith_short_16": code[:16],
        "pith_short_8": code[:8],
    }
