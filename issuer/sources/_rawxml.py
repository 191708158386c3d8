"""An OAI-PMH ``arXivRaw`` record as bytes: found in one process, read in another.

Issuance reads an OAI-PMH page in the issuing process only as far as the
page's structure: each ``<record>``'s header (a deleted record is a notice),
the format of its metadata (a format that cannot issue is refused once for
the whole file) and the arXiv id, as a hint for the registry lookup. The
``<arXivRaw>`` element itself goes to a worker as the bytes lxml serializes
it to, and :meth:`RawRecord.read` there gives what
:func:`issuer.sources._arxivraw.parse` gives in the issuing process: the same
:class:`~issuer.sources.SourceMetadata` or the same refusal, at the same
``FILE:LINE``.

The bytes are lxml's own serialization of an element it parsed with
entities unresolved, DTDs refused, comments and processing instructions
removed, so reading them again gives back the same text. They are still read
with the same safe parser settings, and bytes that do not parse are refused
(the reader fails closed, whatever it is handed).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from issuer.sources import _arxivraw
from issuer.sources._model import Refusal, SourceMetadata
from issuer.sources._xml import SAFE_PARSING

_PARSER = etree.XMLParser(**SAFE_PARSING)


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One ``<arXivRaw>`` element, serialized, with where it was read.

    Attributes:
        location: ``FILE:LINE`` of its ``<record>``, as a whole read names it.
        arxiv_id: the ``<id>`` text, stripped: a hint for the registry lookup only.
        payload: the element as lxml serializes it (namespace declarations included).
    """

    location: str
    arxiv_id: str
    payload: bytes

    def read(self) -> SourceMetadata | Refusal:
        """The record, or its refusal, as :func:`issuer.sources._arxivraw.parse` reads it."""
        try:
            element = etree.fromstring(self.payload, _PARSER)
        except etree.XMLSyntaxError as e:
            return Refusal(self.location, f"arXivRaw record unreadable: {e.msg}")
        if element.tag != _arxivraw.TAG:
            return Refusal(self.location, f"not an arXivRaw record: {element.tag!r}")
        return _arxivraw.parse(element, self.location)


def raw_record(payload: etree._Element, location: str) -> RawRecord:
    """The ``<arXivRaw>`` element ``payload`` as a :class:`RawRecord`."""
    hint = _arxivraw.field(payload, "id") or ""
    return RawRecord(location, hint.strip(), etree.tostring(payload, with_tail=False))
