"""The arXiv API's Atom feed: recognised and refused, one line per file (spec §3).

No Atom feed can issue (it has no license element, and the API served since
late 2025 converts TeX), so a feed is refused once for the whole file,
counting its entries (``FILE: 100 entries: …``), rather than once per entry.
Every element is freed as soon as it ends, so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from issuer.errors import SourceError
from issuer.sources import _refused
from issuer.sources._model import Item, Refusal
from issuer.sources._xml import release, text_of

NS = _refused.ATOM_NS
ROOT = f"{{{NS}}}feed"
_ENTRY = f"{{{NS}}}entry"
_ID = f"{{{NS}}}id"
_SUMMARY = f"{{{NS}}}summary"
_LICENSE = f"{{{_refused.ARXIV_ATOM_NS}}}license"
_MAX_SUMMARY = 1000


class _Entry:
    """What one ``<entry>`` is judged by, kept as its elements end."""

    def __init__(self, element: etree._Element) -> None:
        self.element = element
        self.id = ""
        self.summary = ""
        self.has_license = False

    def child_ended(self, elem: etree._Element) -> None:
        if elem.tag == _ID:
            self.id = (text_of(elem) or "").strip()
        elif elem.tag == _SUMMARY:
            self.summary = (text_of(elem) or "").strip()[:_MAX_SUMMARY]
        elif elem.tag == _LICENSE:
            self.has_license = True


def read(
    root: etree._Element, events: Iterator[tuple[str, etree._Element]], name: str
) -> Iterator[Item]:
    """Yield one refusal per reason for the whole feed (or one if it has no entries).

    Raises:
        SourceError: for the API's error feed, with its message.
    """
    generation: str | None = None
    reasons: dict[str, int] = {}  # reason → entries, in the order first seen
    entries = 0
    entry: _Entry | None = None
    for event, elem in events:
        if event == "start":
            if elem.tag == _ENTRY and entry is None:
                entry = _Entry(elem)
            continue
        if entry is None:
            if elem.tag == _ID and elem.getparent() is root:
                generation = _refused.atom_generation((elem.text or "").strip())
        elif elem is entry.element:
            entries += 1
            if "/api/errors" in entry.id:
                raise SourceError(
                    f"arXiv API error feed: {entry.summary or entry.id}",
                    location=f"{name}:{elem.sourceline}",
                )
            reason = _refused.atom_entry_reason(entry.id, entry.has_license, generation or "legacy")
            reasons[reason] = reasons.get(reason, 0) + 1
            entry = None
        elif elem.getparent() is entry.element:
            entry.child_ended(elem)
        release(elem)  # every element is freed as soon as it ends
    if not entries:
        reason = _refused.atom_reason(generation or "legacy", has_license=False)
        yield Refusal(name, f"{reason} (and this feed has no entries)")
    for reason, count in reasons.items():
        yield Refusal(name, reason, entries=count)
