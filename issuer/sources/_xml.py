"""Hardened, streaming XML parsing for arXiv responses.

Choice (measured by ``bench/xml_parsers.py`` on the bundled samples): lxml's
``iterparse`` with entity resolution, DTD loading and network access turned
off. arXiv never sends a DTD, so any document with a DOCTYPE is refused: that
rules out entity expansion (billion laughs) and external entities (XXE)
outright, as defusedxml does. The DOCTYPE is looked for twice: in the first
bytes (:func:`prolog_declares_doctype`, before anything is parsed), and by
the parser itself when the root element starts, so neither a long comment
before it nor an encoding other than UTF-8 (UTF-16 without a byte-order mark)
hides one. A DOCTYPE after the root element is malformed XML.

Memory stays flat whatever the document holds: the format readers free every
element they have finished with (:func:`release`), records included, and
:class:`ElementStream` reports how many bytes were read so that a reader can
bound the size of one record. libxml2 bounds a single text node (10 MB) and
the nesting depth (256) since ``huge_tree`` is off.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import IO, Final, TypedDict

from lxml import etree

from issuer._fs import CountingReader
from issuer.errors import SourceError, UnreadableInputError

DOCTYPE_REFUSED = (
    "XML with a DOCTYPE or entity declaration is refused (arXiv never sends one; "
    "it could expand entities or fetch external files)"
)
_UTF16 = ("utf-16-le", "utf-16-be")


def _decoded_head(head: bytes) -> bytes:
    """``head`` as ASCII-compatible bytes, for UTF-16 with or without a byte-order mark."""
    for bom, encoding in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[2:].decode(encoding, "replace").encode("utf-8", "replace")
    if head[1:2] == b"\0" and head[:1] != b"\0":
        return head.decode(_UTF16[0], "replace").encode("utf-8", "replace")
    if head[:1] == b"\0" and head[1:2] not in (b"", b"\0"):
        return head.decode(_UTF16[1], "replace").encode("utf-8", "replace")
    return head


def looks_like_xml(head: bytes) -> bool:
    """Whether ``head`` starts an XML document, in UTF-8 or UTF-16 (BOM or not)."""
    text = _decoded_head(head).lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"<")


def prolog_declares_doctype(head: bytes) -> bool:
    """Whether a DOCTYPE (or entity declaration) comes before the root element in ``head``."""
    head = _decoded_head(head)
    pos = 0
    while True:
        start = head.find(b"<", pos)
        if start < 0 or start + 1 >= len(head):
            return False
        nxt = head[start + 1 : start + 2]
        if nxt == b"?":
            end = head.find(b"?>", start)
        elif head.startswith(b"<!--", start):
            end = head.find(b"-->", start)
        else:
            # <!DOCTYPE or <!ENTITY (never in arXiv's responses), or the root element.
            return nxt == b"!"
        if end < 0:
            return False  # the parser's own check (ElementStream) decides
        pos = end + 2


#: The encodings an XML input may declare: arXiv serves UTF-8; UTF-16 (and ASCII, a part
#: of UTF-8) read as the same text whatever parser reads them.
_ENCODINGS = frozenset({"utf-8", "utf8", "utf-16", "utf-16le", "utf-16be", "us-ascii", "ascii"})
_DECLARED = re.compile(rb"""<\?xml\s[^>]*?encoding\s*=\s*["']([^"']{0,40})["']""")


def refused_encoding(head: bytes) -> str | None:
    """The encoding the XML declaration in ``head`` names, if it is not one read (else None).

    An encoding such as UTF-7 spells ``<`` and ``&`` in other bytes, so a parser that
    honours the declaration and one that does not read different text (and markup).
    """
    text = _decoded_head(head).lstrip(b"\xef\xbb\xbf \t\r\n")
    m = _DECLARED.match(text)
    if m is None:
        return None
    name = m.group(1).decode("ascii", "replace")
    return None if name.lower() in _ENCODINGS else name


class SafeParsing(TypedDict):
    """lxml parser options (see :data:`SAFE_PARSING`)."""

    resolve_entities: bool
    load_dtd: bool
    no_network: bool
    huge_tree: bool
    remove_comments: bool
    remove_pis: bool


#: How every XML input is parsed: no entity expanded, no DTD or network fetched, no text
#: node over lxml's default limits; comments and processing instructions dropped.
SAFE_PARSING: Final[SafeParsing] = {
    "resolve_entities": False,
    "load_dtd": False,
    "no_network": True,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


class ElementStream:
    """``(event, element)`` for start and end events, parsed safely.

    Callers must :func:`release` elements they have finished with to keep
    memory flat. :attr:`bytes_read` is how far the parser has read (to the
    parser's buffer size), for bounding one record's size.

    Raises:
        SourceError: when iterated, for a DOCTYPE (wherever it is), and
            :class:`UnreadableInputError` for malformed XML, naming the line.
    """

    def __init__(self, stream: IO[bytes], location: str) -> None:
        self._counting = CountingReader(stream)
        self._location = location

    @property
    def bytes_read(self) -> int:
        """Bytes of the document read so far."""
        return self._counting.count

    def __iter__(self) -> Iterator[tuple[str, etree._Element]]:
        parser = etree.iterparse(
            io.BufferedReader(self._counting), events=("start", "end"), **SAFE_PARSING
        )
        try:
            for event, element in parser:
                info = element.getroottree().docinfo
                # Before the root element's content is parsed: nothing was expanded yet.
                if info.doctype or info.internalDTD is not None:
                    raise SourceError(DOCTYPE_REFUSED, location=self._location)
                yield event, element
                break
            yield from parser
        except etree.XMLSyntaxError as e:
            line = e.position[0]
            where = f"{self._location}:{line}" if line > 0 else self._location
            raise UnreadableInputError(f"malformed XML: {e.msg}", location=where) from e


def release(element: etree._Element) -> None:
    """Free a finished element and the siblings before it (constant-memory streaming)."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def text_of(element: etree._Element | None) -> str | None:
    """The full text content of ``element``, or None if the element is absent."""
    if element is None:
        return None
    return "".join(element.itertext())
