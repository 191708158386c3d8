"""Formats we recognise and refuse to issue from, each with its exact reason (spec §3).

The arXiv API's Atom feed has no license element, and since late 2025 it
converts TeX to Unicode in titles and abstracts; the OAI ``arXiv`` prefix has
a creation *date* but no submission time, and also converts TeX. A record
built from either would hash text arXiv never stored, or guess a field, so
the toolkit says precisely what is missing and which format to use instead.
"""

from __future__ import annotations

from lxml import etree

from issuer.sources._model import Refusal
from issuer.sources._xml import text_of

ATOM_NS = "http://www.w3.org/2005/Atom"
ARXIV_ATOM_NS = "http://arxiv.org/schemas/atom"
OAI_ARXIV_NS = "http://arxiv.org/OAI/arXiv/"
OAI_ARXIV_TAG = f"{{{OAI_ARXIV_NS}}}arXiv"

USE_INSTEAD = (
    "harvest OAI-PMH with metadataPrefix=arXivRaw, or use the JSON-lines metadata snapshot"
)


def atom_generation(feed_id: str | None) -> str:
    """Which generation of the API wrote a feed, from the feed's own ``<id>``.

    ``new`` for the rewrite served since 2025-11 (``https://arxiv.org/api/…``),
    ``legacy`` for the service before it (``http://arxiv.org/api/…``).
    """
    return "new" if feed_id and feed_id.startswith("https://arxiv.org/") else "legacy"


def atom_reason(generation: str, has_license: bool) -> str:
    """Why an Atom entry cannot issue, naming each missing or altered field."""
    problems = []
    if not has_license:
        problems.append("it has no license element (the registry never guesses a license)")
    if generation == "new":
        problems.append(
            "it is from the API served since late 2025, which converts TeX to "
            "Unicode in titles and abstracts, so they are not arXiv's raw text"
        )
    if not problems:  # pragma: no cover - no Atom feed has carried a license so far
        problems.append("the Atom feed is not a source the registry issues from")
    return f"arXiv API Atom feed cannot issue: {'; '.join(problems)}; {USE_INSTEAD}"


def atom_entry(entry: etree._Element, generation: str, location: str) -> Refusal:
    """Refuse one Atom ``<entry>``, naming the paper where the entry names one."""
    entry_id = (text_of(entry.find(f"{{{ATOM_NS}}}id")) or "").strip()
    record_id = entry_id.rsplit("/abs/", 1)[-1] if "/abs/" in entry_id else None
    has_license = entry.find(f"{{{ARXIV_ATOM_NS}}}license") is not None
    if not entry_id:
        return Refusal(location, "empty Atom entry (the API's answer for an id it does not know)")
    return Refusal(location, atom_reason(generation, has_license), record_id)


def oai_arxiv_record(meta: etree._Element, location: str) -> Refusal:
    """Refuse one OAI ``arXiv``-prefix record: no submission time, TeX converted."""
    arxiv_id = (text_of(meta.find(f"{{{OAI_ARXIV_NS}}}id")) or "").strip() or None
    created = (text_of(meta.find(f"{{{OAI_ARXIV_NS}}}created")) or "").strip()
    has_date = f" (only the date <created>{created}</created>)" if created else ""
    return Refusal(
        location,
        "OAI-PMH metadataPrefix=arXiv cannot issue: it has no v1 submission time"
        f"{has_date}, and arXiv converts TeX in its titles and abstracts, so they are not "
        f"the raw text; {USE_INSTEAD}",
        arxiv_id,
    )
