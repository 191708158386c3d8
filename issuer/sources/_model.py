"""What the arXiv readers yield: metadata that can issue, refusals, and notices."""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime

from issuer.errors import FormatError
from issuer.identifiers import (
    MIN_YEAR,
    check_source,
    check_submitted,
    parse_version_digits,
    shown,
)


@dataclass(frozen=True)
class SourceMetadata:
    """One arXiv paper at its newest version, as a source that can issue serves it.

    Attributes:
        arxiv_id: the id without version (``1811.06992``, ``math/9201201``).
        version: the newest version the source describes; title and abstract are of it.
        title: raw title text (TeX kept), exactly as served.
        abstract: raw abstract text (TeX kept), exactly as served.
        categories: all categories, primary first.
        license: the license URL, or None where arXiv has none.
        submitted_at: submission time of v1 (UTC).
        dois: publisher DOIs the source lists (arXiv sometimes lists several).
        source_format: ``arxivraw`` or ``snapshot``.
        location: where the record was read (``FILE:LINE``).
    """

    arxiv_id: str
    version: int
    title: str
    abstract: str
    categories: tuple[str, ...]
    license: str | None
    submitted_at: datetime
    dois: tuple[str, ...]
    source_format: str
    location: str

    def check_grammar(self) -> tuple[str, ...]:
        """Check every field with the source grammar the verifier applies; the categories.

        Raises:
            FormatError: naming the field that is outside the grammar.
        """
        return check_source(
            self.arxiv_id,
            version=self.version,
            categories=self.categories,
            license_url=self.license,
            submitted=self.submitted_at,
            texts={"title": self.title, "abstract": self.abstract},
        )

    @property
    def is_checked(self) -> bool:
        """Whether :func:`checked` passed this very object (the source grammar holds).

        A copy (``dataclasses.replace``, the constructor, a pickle) is not
        marked, so :meth:`issuer.record.CanonicalRecord.from_source` checks it again.
        """
        ref = _checked.get(id(self))
        return ref is not None and ref() is self


# The objects checked() passed, by id, each as a weak reference: the mark is for that very
# object (equal fields are not enough, nor is a copy), and an id that a later object
# reuses is never mistaken for it (the reference is dead, or is the later object's own).
# Dead references are swept out whenever the map has doubled since the last sweep, so
# it holds about as many entries as there are live checked objects. (A WeakValueDictionary
# did the same at several Python calls a record: a keyed reference and its callback.)
_checked: dict[int, weakref.ref[SourceMetadata]] = {}
_SWEEP_MIN = 1024
_sweep_at = _SWEEP_MIN


def _mark(meta: SourceMetadata) -> None:
    """Mark ``meta`` as checked (see :attr:`SourceMetadata.is_checked`)."""
    global _sweep_at  # noqa: PLW0603 - the sweep's threshold, kept with the map
    _checked[id(meta)] = weakref.ref(meta)
    if len(_checked) > _sweep_at:
        for key, ref in list(_checked.items()):
            if ref() is None and _checked.get(key) is ref:
                _checked.pop(key, None)  # (a new mark another thread just made may go: a re-check)
        _sweep_at = max(_SWEEP_MIN, 2 * len(_checked))


@dataclass(frozen=True)
class Refusal:
    """A record the reader recognised but that cannot issue, and why.

    Attributes:
        location: ``FILE:LINE`` of the record, or ``FILE`` for ``entries``.
        reason: why it cannot issue.
        record_id: the arXiv id, where the record names one.
        entries: set when one refusal stands for this many entries of a file
            that cannot issue at all (an Atom feed): one line per file.
    """

    location: str
    reason: str
    record_id: str | None = None
    entries: int | None = None

    @property
    def count(self) -> int:
        """How many records this refusal stands for."""
        return 1 if self.entries is None else self.entries

    def __str__(self) -> str:
        who = f" ({self.record_id})" if self.record_id else ""
        return f"{self.location}{who}: {entries_prefix(self.entries)}{self.reason}"


def entries_prefix(entries: int | None) -> str:
    """``"100 entries: "`` for a refusal that stands for a whole file's entries, else ``""``."""
    if entries is None:
        return ""
    return f"{entries} {'entry' if entries == 1 else 'entries'}: "


@dataclass(frozen=True)
class Notice:
    """Information about the input that is not a record (e.g. a resumption token)."""

    location: str
    kind: str
    message: str
    value: str | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


Item = SourceMetadata | Refusal | Notice

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
# arXiv writes RFC 2822 dates with and without a zero-padded day:
# "Fri, 16 Nov 2018 19:01:40 GMT" and "Tue, 3 Apr 2007 22:04:11 GMT".
_DATE_RE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{1,2}) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([0-9]{4}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)
# The day, hour, minute and second fields by their digits (looked up, not parsed).
_NUMBERS = {f"{n}": n for n in range(10)} | {f"{n:02d}": n for n in range(100)}


class RefuseRecordError(Exception):
    """Internal to the readers: this record cannot issue; the message says why."""


def checked(meta: SourceMetadata, now: datetime | None = None) -> SourceMetadata:
    """``meta`` if its record can issue under the source grammar (:mod:`issuer.identifiers`).

    The grammar is the one the verifier applies, so nothing is issued that a
    verifier would refuse later. In addition, a v1 submission time after
    ``now`` (default: the system clock) is refused: arXiv never serves one.

    Raises:
        RefuseRecordError: naming the field that is out of the grammar.
    """
    try:
        meta.check_grammar()
    except FormatError as e:
        raise RefuseRecordError(e.message) from e
    limit = now or datetime.now(UTC)
    if meta.submitted_at > limit:
        raise RefuseRecordError(
            f"v1 submission time {meta.submitted_at.isoformat()} is in the future"
        )
    _mark(meta)
    return meta


def parse_arxiv_date(text: str, what: str = "date") -> datetime:
    """Parse an arXiv version date such as ``Mon, 2 Apr 2007 19:18:42 GMT``.

    Raises:
        RefuseRecordError: if ``text`` is not such a date; the message starts with ``what``.
    """
    m = _DATE_RE.fullmatch(text.strip())
    if m:
        day, month, year, hh, mm, ss = m.groups()
        n = _NUMBERS
        try:
            when = datetime(int(year), _MONTHS[month], n[day], n[hh], n[mm], n[ss], tzinfo=UTC)
        except ValueError:
            pass  # e.g. 31 Feb: reported below
        else:
            # Aware, and at most 9999 by the pattern: check_submitted asks only this more.
            if when.year >= MIN_YEAR:
                return when
            try:
                return check_submitted(when, what)
            except FormatError as e:
                raise RefuseRecordError(e.message) from e
    raise RefuseRecordError(
        f"{what}: not an arXiv date (like 'Mon, 2 Apr 2007 19:18:42 GMT'): {text!r}"
    )


_VERSION_RE = re.compile(r"v([1-9][0-9]*)")
# The labels every record has, looked up rather than parsed (a test pins them to the parse).
_COMMON_LABELS = {f"v{n}": n for n in range(1, 100)}


def parse_version_label(label: str, what: str = "version") -> int:
    """``v2`` → 2.

    Raises:
        RefuseRecordError: if ``label`` is not ``v`` followed by an integer from 1 to 2^53−1.
    """
    common = _COMMON_LABELS.get(label)
    if common is not None:
        return common
    m = _VERSION_RE.fullmatch(label)
    if not m:
        raise RefuseRecordError(f"{what}: not a version label (v1, v2, ...): {shown(label)}")
    try:
        return parse_version_digits(m.group(1), what)
    except FormatError as e:
        raise RefuseRecordError(e.message) from e
