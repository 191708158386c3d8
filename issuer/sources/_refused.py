"""Formats we recognise and refuse to issue from, each with its exact reason (spec §3).

The arXiv API's Atom feed has no license element, and since late 2025 it
converts TeX to Unicode in titles and abstracts; the OAI ``arXiv`` prefix has
a creation *date* but no submission time, and also converts TeX. A record
built from either would hash text arXiv never stored, or guess a field, so
the toolkit says precisely what is missing and which format to use instead.
"""

from __future__ import annotations

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


def atom_entry_reason(entry_id: str, has_license: bool, generation: str) -> str:
    """Why one Atom ``<entry>`` cannot issue."""
    if not entry_id:
        return "empty Atom entry (the API's answer for an id it does not know)"
    return atom_reason(generation, has_license)


OAI_ARXIV_REASON = (
    "OAI-PMH metadataPrefix=arXiv cannot issue: it has no v1 submission time (only the "
    "date <created>), and arXiv converts TeX in its titles and abstracts, so they are not "
    f"the raw text; {USE_INSTEAD}"
)
