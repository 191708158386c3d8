"""The arXiv API's Atom feed: recognised, every entry refused with its reason (spec §3)."""

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


def read(
    root: etree._Element, events: Iterator[tuple[str, etree._Element]], name: str
) -> Iterator[Item]:
    """Yield one refusal per entry (or one for the feed if it has none).

    Raises:
        SourceError: for the API's error feed, with its message.
    """
    generation: str | None = None
    entries = 0
    for event, elem in events:
        if event != "end":
            continue
        if elem.tag == _ID and elem.getparent() is root:
            generation = _refused.atom_generation((elem.text or "").strip())
        elif elem.tag == _ENTRY:
            entries += 1
            location = f"{name}:{elem.sourceline}"
            entry_id = (text_of(elem.find(_ID)) or "").strip()
            if "/api/errors" in entry_id:
                summary = (text_of(elem.find(f"{{{NS}}}summary")) or "").strip()
                raise SourceError(f"arXiv API error feed: {summary or entry_id}", location=location)
            yield _refused.atom_entry(elem, generation or "legacy", location)
            release(elem)
    if not entries:
        reason = _refused.atom_reason(generation or "legacy", has_license=False)
        yield Refusal(name, f"{reason} (and this feed has no entries)")
