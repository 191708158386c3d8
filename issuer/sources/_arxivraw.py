"""OAI-PMH ``arXivRaw`` metadata → :class:`SourceMetadata`.

``arXivRaw`` is the one XML format arXiv serves with everything a canonical
record needs: raw title and abstract (TeX kept), every version with its
submission time, and the license (absent for older papers → ``None``).
"""

from __future__ import annotations

from lxml import etree

from issuer.identifiers import ARXIV_ID_RE, shown
from issuer.sources._model import (
    Refusal,
    RefuseRecordError,
    SourceMetadata,
    checked,
    parse_arxiv_date,
    parse_version_label,
)
from issuer.sources._xml import text_of

NS = "http://arxiv.org/OAI/arXivRaw/"
TAG = f"{{{NS}}}arXivRaw"
FORMAT = "arxivraw"


def field(raw: etree._Element, name: str) -> str | None:
    """The text of ``raw``'s first child ``name`` in the arXivRaw namespace, or None if absent.

    A hint only (the arXiv id of a record found for a worker): records are read with
    :func:`_only`, which refuses what this reads one way and another parser another.
    """
    return text_of(raw.find(f"{{{NS}}}{name}"))


def _only(parent: etree._Element, name: str) -> str | None:
    """The text of ``parent``'s one child ``name``, or None if absent.

    The snapshot reader refuses a duplicate key; so this refuses a second element
    of a field arXiv writes once, and elements inside one (arXiv writes text), both
    of which other parsers read otherwise (the last one; the text before the element).

    Raises:
        RefuseRecordError: for two such children, or one that holds elements.
    """
    found = parent.findall(f"{{{NS}}}{name}")
    if not found:
        return None
    if len(found) > 1:
        raise RefuseRecordError(f"record has {len(found)} <{name}> elements, not one")
    if len(found[0]):
        raise RefuseRecordError(f"<{name}> holds elements, not only text")
    return text_of(found[0])


def parse(raw: etree._Element, location: str) -> SourceMetadata | Refusal:
    """Read one ``<arXivRaw>``; a record missing what a canonical record needs is refused."""
    try:
        arxiv_id = (_only(raw, "id") or "").strip()
    except RefuseRecordError as e:
        return Refusal(location, f"arXivRaw {e}")
    if not ARXIV_ID_RE.fullmatch(arxiv_id):
        return Refusal(location, f"arXivRaw record has no valid <id> (got {shown(arxiv_id)})")
    try:
        return _parse(raw, arxiv_id, location)
    except RefuseRecordError as e:
        return Refusal(location, f"arXivRaw {e}", arxiv_id)


def _parse(raw: etree._Element, arxiv_id: str, location: str) -> SourceMetadata:
    versions: dict[int, str] = {}
    for node in raw.iterfind(f"{{{NS}}}version"):
        label = node.get("version") or ""
        date = _only(node, "date")
        if date is None:
            raise RefuseRecordError(f"<version version={label!r}> has no <date>")
        number = parse_version_label(label, "<version>")
        if number in versions:
            raise RefuseRecordError(f"<version> v{number} is listed twice")
        versions[number] = date
    if not versions:
        raise RefuseRecordError("record has no <version> elements")
    if 1 not in versions:
        raise RefuseRecordError("record lists no v1, so the submission time is unknown")
    submitted = parse_arxiv_date(versions[1], "v1 <date>")

    title = _only(raw, "title")
    abstract = _only(raw, "abstract")
    categories = tuple((_only(raw, "categories") or "").split())
    # A title may be literally "0": test for absence, never for falsiness.
    if title is None:
        raise RefuseRecordError("record has no <title>")
    if abstract is None:
        raise RefuseRecordError("record has no <abstract>")
    if not categories:
        raise RefuseRecordError("record has no <categories>")
    license_text = (_only(raw, "license") or "").strip()
    meta = SourceMetadata(
        arxiv_id=arxiv_id,
        version=max(versions),
        title=title,
        abstract=abstract,
        categories=categories,
        license=license_text or None,
        submitted_at=submitted,
        dois=tuple((_only(raw, "doi") or "").split()),
        source_format=FORMAT,
        location=location,
    )
    return checked(meta)
