"""OAI-PMH responses: GetRecord and ListRecords pages, error responses, resumption tokens.

Each ``<record>`` is handed to the reader of its metadata format
(``arXivRaw`` issues, ``arXiv`` is refused) and then freed, so a page of any
size is read in constant memory.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from issuer.errors import SourceError
from issuer.sources import _arxivraw, _refused
from issuer.sources._model import Item, Notice, Refusal
from issuer.sources._xml import release, text_of

NS = "http://www.openarchives.org/OAI/2.0/"
ROOT = f"{{{NS}}}OAI-PMH"
_RECORD = f"{{{NS}}}record"
_ERROR = f"{{{NS}}}error"
_TOKEN = f"{{{NS}}}resumptionToken"
_HEADER = f"{{{NS}}}header"
_METADATA = f"{{{NS}}}metadata"

# OAI-PMH's "no records" is an empty answer, not a failure of the harvest.
_EMPTY_CODES = {"noRecordsMatch"}


def read(events: Iterator[tuple[str, etree._Element]], name: str) -> Iterator[Item]:
    """Yield the items of an OAI-PMH response whose root start event was consumed.

    Raises:
        SourceError: for an OAI-PMH error response, with arXiv's code and message.
    """
    errors: list[tuple[str, str, int]] = []
    for event, elem in events:
        if event != "end":
            continue
        tag = elem.tag
        if tag == _RECORD:
            yield _record(elem, f"{name}:{elem.sourceline}")
            release(elem)
        elif tag == _ERROR:
            errors.append(
                (elem.get("code") or "?", (text_of(elem) or "").strip(), elem.sourceline or 0)
            )
        elif tag == _TOKEN:
            yield _token(elem, name)
    for code, message, line in errors:
        if code in _EMPTY_CODES:
            yield Notice(f"{name}:{line}", "oai_empty", f"OAI-PMH {code}: {message}")
        else:
            raise SourceError(
                location=f"{name}:{line}",
                message=f"OAI-PMH error response {code}: {message}",
                hint="this file is arXiv's answer to a bad request, not metadata; "
                "fix the request and harvest again",
            )


def _record(record: etree._Element, location: str) -> Item:
    header = record.find(_HEADER)
    identifier = text_of(header.find(f"{{{NS}}}identifier")) if header is not None else None
    if header is not None and header.get("status") == "deleted":
        return Notice(location, "oai_deleted", f"{identifier}: deleted record, skipped")
    metadata = record.find(_METADATA)
    payload = metadata[0] if metadata is not None and len(metadata) else None
    if payload is None:
        return Refusal(location, "OAI-PMH record has no <metadata>", identifier)
    if payload.tag == _arxivraw.TAG:
        return _arxivraw.parse(payload, location)
    if payload.tag == _refused.OAI_ARXIV_TAG:
        return _refused.oai_arxiv_record(payload, location)
    return Refusal(
        location,
        f"OAI-PMH metadata format {payload.tag!r} cannot issue; {_refused.USE_INSTEAD}",
        identifier,
    )


def _token(elem: etree._Element, name: str) -> Notice:
    token = (elem.text or "").strip()
    size = elem.get("completeListSize")
    cursor = elem.get("cursor")
    where = f"{name}:{elem.sourceline}"
    if not token:
        return Notice(where, "oai_complete", "OAI-PMH list complete (empty resumptionToken)")
    extra = f" (cursor {cursor} of {size})" if size is not None else ""
    return Notice(
        where,
        "resumption_token",
        f"more records to harvest: resumptionToken={token}{extra}",
        token,
    )
