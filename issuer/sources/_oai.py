"""OAI-PMH responses: GetRecord and ListRecords pages, error responses, resumption tokens.

Each ``<record>`` is handed to the reader of its metadata format
(``arXivRaw`` issues, ``arXiv`` is refused) and then freed, and so is every
element outside the records, so a page of any size is read in constant
memory. A record larger than :data:`MAX_RECORD_BYTES` is refused without
being held (its elements are freed as they end), and the page goes on.

A page in a metadata format that cannot issue (``arXiv``, ``oai_dc``) gets
one refusal for the whole file, counting its records, not one per record.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from issuer.errors import SourceError
from issuer.sources import _arxivraw, _refused
from issuer.sources._model import Item, Notice, Refusal
from issuer.sources._rawxml import RawRecord, raw_record
from issuer.sources._xml import ElementStream, release, text_of

NS = "http://www.openarchives.org/OAI/2.0/"
ROOT = f"{{{NS}}}OAI-PMH"
_RECORD = f"{{{NS}}}record"
_ERROR = f"{{{NS}}}error"
_TOKEN = f"{{{NS}}}resumptionToken"
_HEADER = f"{{{NS}}}header"
_METADATA = f"{{{NS}}}metadata"

# OAI-PMH's "no records" is an empty answer, not a failure of the harvest.
_EMPTY_CODES = {"noRecordsMatch"}
#: The largest record read, in bytes and in elements. arXivRaw records are a
#: few KiB and a few dozen elements (four per version); the largest (thousands
#: of authors, dozens of versions) stay far below both.
MAX_RECORD_BYTES = 4 << 20
MAX_RECORD_ELEMENTS = 10_000
_MAX_ERRORS = 100


class _Page:
    """Reading state of one OAI-PMH response: record depth, size, errors, refusals."""

    def __init__(self, stream: ElementStream, name: str, raw: bool) -> None:
        self.stream = stream
        self.name = name
        self.raw = raw  # arXivRaw records as RawRecord, read elsewhere
        self.errors: list[tuple[str, str, int]] = []
        self.whole_file: dict[str, int] = {}  # reason a format cannot issue → records
        self.depth = 0  # inside how many <record> elements
        self.started = 0
        self.elements = 0
        self.oversized = False

    def _too_big(self) -> bool:
        return (
            self.elements > MAX_RECORD_ELEMENTS
            or self.stream.bytes_read - self.started > MAX_RECORD_BYTES
        )

    def start(self, elem: etree._Element) -> None:
        """A ``<record>`` started."""
        self.depth += 1
        if self.depth == 1:
            self.started, self.elements, self.oversized = self.stream.bytes_read, 0, False

    def inner(self, elem: etree._Element) -> None:
        """An element inside a record ended: counted, and freed if the record is too big."""
        self.elements += 1
        self.oversized = self.oversized or self._too_big()
        if self.oversized:
            release(elem)

    def end(self, elem: etree._Element) -> Item | RawRecord | None:
        """The item an ended element makes, if any; frees what is no longer needed."""
        tag = elem.tag
        if self.depth and tag == _RECORD:
            self.depth -= 1
        if self.depth:  # inside a record: the record reads it when it ends
            self.inner(elem)
            return None
        item: Item | RawRecord | None = None
        if tag == _RECORD:
            item = self._record(elem)
        elif tag == _ERROR and len(self.errors) < _MAX_ERRORS:
            code, text = elem.get("code") or "?", (text_of(elem) or "").strip()
            self.errors.append((code, text, elem.sourceline or 0))
        elif tag == _TOKEN:
            item = _token(elem, self.name)
        release(elem)  # everything outside the records is freed as soon as it ends
        return item

    def _record(self, elem: etree._Element) -> Item | RawRecord | None:
        location = f"{self.name}:{elem.sourceline}"
        if self.oversized or self._too_big():
            return Refusal(
                location,
                f"OAI-PMH record larger than {MAX_RECORD_BYTES >> 20} MiB or "
                f"{MAX_RECORD_ELEMENTS:,} elements: not read",
            )
        item = _record(elem, location, self.raw)
        if isinstance(item, str):
            self.whole_file[item] = self.whole_file.get(item, 0) + 1
            return None
        return item


def read(
    stream: ElementStream,
    events: Iterator[tuple[str, etree._Element]],
    name: str,
    raw: bool = False,
) -> Iterator[Item | RawRecord]:
    """Yield the items of an OAI-PMH response whose root start event was consumed.

    Args:
        stream: the parser, for the bytes read so far.
        events: its iterator, positioned after the root element's start.
        name: the file name, for locations.
        raw: yield each ``arXivRaw`` record as a :class:`RawRecord`, to be read
            elsewhere (:meth:`RawRecord.read`), instead of reading it here.

    Raises:
        SourceError: for an OAI-PMH error response, with arXiv's code and message.
    """
    page = _Page(stream, name, raw)
    for event, elem in events:
        if event == "start":
            if elem.tag == _RECORD:
                page.start(elem)
        elif page.depth and elem.tag != _RECORD:  # most elements: inside a record
            page.inner(elem)
        elif (item := page.end(elem)) is not None:
            yield item
    for reason, count in page.whole_file.items():
        yield Refusal(name, reason, entries=count)
    errors = page.errors
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


def _record(record: etree._Element, location: str, raw: bool) -> Item | RawRecord | str:
    """The record's item, or (a ``str``) the reason its whole format cannot issue."""
    header = record.find(_HEADER)
    identifier = text_of(header.find(f"{{{NS}}}identifier")) if header is not None else None
    if header is not None and header.get("status") == "deleted":
        return Notice(location, "oai_deleted", f"{identifier}: deleted record, skipped")
    metadata = record.find(_METADATA)
    payload = metadata[0] if metadata is not None and len(metadata) else None
    if payload is None:
        return Refusal(location, "OAI-PMH record has no <metadata>", identifier)
    if payload.tag == _arxivraw.TAG:
        return raw_record(payload, location) if raw else _arxivraw.parse(payload, location)
    # A format that cannot issue at all: its reason, refused once for the whole file.
    if payload.tag == _refused.OAI_ARXIV_TAG:
        return _refused.OAI_ARXIV_REASON
    return f"OAI-PMH metadata format {payload.tag!r} cannot issue; {_refused.USE_INSTEAD}"


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
