"""Text canonicalization and the canonical record (spec §2–3).

The canonical record is what a Pith number is derived from: a few facts
about one arXiv version, with the title and abstract reduced to hashes of
their canonical text. The registry hashes arXiv's *raw* text (TeX kept), so
the record can only be built from a source that carries it; which sources do
is decided in :mod:`issuer.sources`, not here.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import orjson

from issuer import cjson
from issuer._frozen import assemble
from issuer._time import format_seconds, parse_seconds
from issuer.errors import FormatError
from issuer.identifiers import (
    ARXIV_ID_RE,
    check_arxiv_id,
    check_category,
    check_license,
    check_submitted_at,
    check_version,
)

if TYPE_CHECKING:
    from issuer.sources import SourceMetadata

__all__ = [
    "ARXIV_ID_RE",  # re-exported for older imports: the grammar lives in identifiers.py
    "SCHEMA_VERSION",
    "SOURCE_KIND_ARXIV",
    "CanonicalRecord",
    "canon_text",
    "text_sha256",
]

SCHEMA_VERSION = "1.0"
SOURCE_KIND_ARXIV = "arxiv"

_HEX64_RE = re.compile(r"[0-9a-f]{64}")

# The canonical JSON of a record whose fields were checked against the source
# grammar, written without the validation walk of ``cjson.dumps``. Every key is
# a literal ASCII string, and each object's keys are written in sorted order
# (tests/unit/test_record_bytes.py proves both from the template itself, and
# pins the bytes against ``cjson.dumps(to_dict())`` over generated records).
# The values are ASCII by the grammar (ids, categories, times, hex digests and
# the version integer) except the license, which is written by orjson: it
# escapes as JCS does, and a value is never a key, so its order cannot matter.
_TEMPLATE = (
    '{"metadata":{"abstract_canon_sha256":"%s","cross_cats_sorted":[%s],"license":%s,'
    '"primary_cat":"%s","submitted_at":"%s","title_canon_sha256":"%s"},'
    '"schema_version":"%s","source":{"id":"%s","kind":"%s","version":%d}}'
)
# Where the checked constructors leave the template's bytes (see _checked_json).
_CHECKED = "_checked_json"


def canon_text(text: str) -> str:
    """Canonical form of a title or abstract: NFC, lower case, whitespace runs → one space, trimmed.

    TeX markup is kept as it is: the registry hashes arXiv's raw text. Text
    of Latin-1 characters only (most of arXiv's: ASCII, with the odd accented
    letter) is its own NFC form (no character below U+0300 decomposes or
    composes under NFC), and its lower case is Latin-1 too, one character for
    one: it is canonicalized as bytes by :func:`_latin1_canon` rather than
    character by character (``tests/unit/test_canon_text.py`` pins every way
    equal to the full one).
    """
    if text.isascii():
        return _latin1_canon(text.encode("ascii")).decode("ascii")
    try:
        latin = text.encode("latin-1")
    except UnicodeEncodeError:
        return " ".join(unicodedata.normalize("NFC", text).lower().split())
    return _latin1_canon(latin).decode("latin-1")


# Each Latin-1 character as a byte: a space for every character ``str.split()`` splits
# on (``str.isspace``: ASCII's six, the separators U+001C-U+001F, U+0085 and U+00A0),
# else its ``str.lower`` (one Latin-1 character for each).
_LATIN1_CANON = bytes(
    0x20 if chr(code).isspace() else ord(chr(code).lower()) for code in range(256)
)


def _latin1_canon(latin: bytes) -> bytes:
    """:func:`canon_text` of Latin-1 text given as its Latin-1 bytes, as Latin-1 bytes.

    Lowered and every whitespace character made a space by one table; then
    ``" ".join(text.split())`` is runs of spaces made one space and the ends
    trimmed, done by ``bytes.replace`` (a C scan a pass; a run of ``n`` spaces
    takes ``log2(n)`` passes) rather than by a list of words.
    """
    data = latin.translate(_LATIN1_CANON).strip(b" ")
    while b"  " in data:  # trimmed first: arXiv's abstracts start with two spaces
        data = data.replace(b"  ", b" ")
    return data


def canon_text_utf8(text: str) -> bytes:
    """``canon_text(text).encode("utf-8")``: the bytes ``text_sha256`` hashes.

    ASCII text's canonical bytes come straight from :func:`_latin1_canon`,
    without a ``str`` in between.

    Raises:
        UnicodeEncodeError: if ``text`` holds a lone surrogate (not valid Unicode).
    """
    if text.isascii():
        return _latin1_canon(text.encode("ascii"))
    return canon_text(text).encode("utf-8")


def text_sha256(text: str) -> str:
    """``hex(SHA-256(UTF-8(canon_text(text))))``: ``title_canon_sha256`` and its twin.

    That is ``sha256(canon_text_utf8(text))``, with its ASCII case spelt out here.
    """
    if text.isascii():
        return hashlib.sha256(_latin1_canon(text.encode("ascii"))).hexdigest()
    return hashlib.sha256(canon_text(text).encode("utf-8")).hexdigest()


def _quoted_list(values: tuple[str, ...]) -> str:
    """The items of a JSON array of ``values``, which need no escaping (categories)."""
    return '"' + '","'.join(values) + '"' if values else ""


@dataclass(frozen=True)
class CanonicalRecord:
    """One arXiv version, as the registry hashes it.

    Attributes:
        source_id: the arXiv id without version (``1811.06992``, ``math/9201201``).
        version: the arXiv version this record denotes (1, 2, …).
        license: the license URL exactly as arXiv gives it, or None where arXiv has none.
        primary_cat: the primary category.
        cross_cats_sorted: the other categories, sorted, unique, without the primary.
        submitted_at: submission time of v1, wire format (seconds, ``Z``).
        title_canon_sha256: hash of the canonical title text.
        abstract_canon_sha256: hash of the canonical abstract text.
    """

    source_id: str
    version: int
    license: str | None
    primary_cat: str
    cross_cats_sorted: tuple[str, ...]
    submitted_at: str
    title_canon_sha256: str
    abstract_canon_sha256: str
    source_kind: str = SOURCE_KIND_ARXIV

    @classmethod
    def from_source(cls, meta: SourceMetadata) -> CanonicalRecord:
        """Build the record for the version ``meta`` describes.

        The fields are checked with the same grammar :meth:`from_dict` (and so
        the verifier) applies, so a record that would not verify is never built.
        A ``meta`` that a reader checked with that grammar already
        (:attr:`SourceMetadata.is_checked`) is not checked twice.

        Raises:
            FormatError: if a field is outside the source grammar.
        """
        categories = meta.categories if meta.is_checked else meta.check_grammar()
        primary = categories[0]
        cross = tuple(sorted(set(categories[1:]) - {primary}))
        return assemble(  # cls(...) without its field-by-field __init__
            cls,
            {
                "source_id": meta.arxiv_id,
                "version": meta.version,
                "license": meta.license,
                "primary_cat": primary,
                "cross_cats_sorted": cross,
                "submitted_at": format_seconds(meta.submitted_at),
                "title_canon_sha256": text_sha256(meta.title),
                "abstract_canon_sha256": text_sha256(meta.abstract),
                "source_kind": SOURCE_KIND_ARXIV,
            },
        )._checked()

    def to_dict(self) -> dict[str, Any]:
        """The record as the JSON object that is hashed."""
        return {
            "schema_version": SCHEMA_VERSION,
            "source": {"kind": self.source_kind, "id": self.source_id, "version": self.version},
            "metadata": {
                "license": self.license,
                "primary_cat": self.primary_cat,
                "cross_cats_sorted": list(self.cross_cats_sorted),
                "submitted_at": self.submitted_at,
                "title_canon_sha256": self.title_canon_sha256,
                "abstract_canon_sha256": self.abstract_canon_sha256,
            },
        }

    @classmethod
    def from_dict(cls, data: Any) -> CanonicalRecord:
        """Read a record that is to be verified; refuse any deviation from the format.

        Unknown fields are refused rather than carried: a canonical record is
        fully specified, and an extra field would change its hash silently.

        Raises:
            FormatError: if ``data`` is not exactly a canonical record.
        """
        where = "canonical_record"
        obj = _obj(data, where, {"schema_version", "source", "metadata"})
        if obj["schema_version"] != SCHEMA_VERSION:
            raise FormatError(f"{where}.schema_version: unsupported {obj['schema_version']!r}")
        src = _obj(obj["source"], f"{where}.source", {"kind", "id", "version"})
        meta = _obj(
            obj["metadata"],
            f"{where}.metadata",
            {
                "license",
                "primary_cat",
                "cross_cats_sorted",
                "submitted_at",
                "title_canon_sha256",
                "abstract_canon_sha256",
            },
        )
        if src["kind"] != SOURCE_KIND_ARXIV:
            raise FormatError(f"{where}.source.kind: unsupported {src['kind']!r}")
        # One grammar (identifiers.py) for the fields: the readers refuse with it too.
        check_arxiv_id(src["id"], f"{where}.source.id")
        version = check_version(src["version"], f"{where}.source.version")
        lic = check_license(meta["license"], f"{where}.metadata.license")
        primary = check_category(meta["primary_cat"], f"{where}.metadata.primary_cat")
        cross = meta["cross_cats_sorted"]
        if not isinstance(cross, list):
            raise FormatError(f"{where}.metadata.cross_cats_sorted: not a list")
        for cat in cross:
            check_category(cat, f"{where}.metadata.cross_cats_sorted")
        if cross != sorted(set(cross)) or primary in cross:
            raise FormatError(
                f"{where}.metadata.cross_cats_sorted: must be sorted unique categories "
                "without the primary one"
            )
        check_submitted_at(meta["submitted_at"], f"{where}.metadata.submitted_at")
        for field in ("title_canon_sha256", "abstract_canon_sha256"):
            value = meta[field]
            if not isinstance(value, str) or not _HEX64_RE.fullmatch(value):
                raise FormatError(f"{where}.metadata.{field}: not a lowercase SHA-256 hex")
        return cls(
            source_id=src["id"],
            version=version,
            license=lic,
            primary_cat=primary,
            cross_cats_sorted=tuple(cross),
            submitted_at=meta["submitted_at"],
            title_canon_sha256=meta["title_canon_sha256"],
            abstract_canon_sha256=meta["abstract_canon_sha256"],
        )._checked()

    def _checked(self) -> CanonicalRecord:
        """This record, marked as built from checked fields: its bytes come from the template.

        Only :meth:`from_source` and :meth:`from_dict` call it, after checking every
        field with the source grammar. A record built any other way (directly, or by
        ``dataclasses.replace``) is serialized by ``cjson.dumps``, which validates.
        """
        license_json = (
            "null" if self.license is None else orjson.dumps(self.license).decode("utf-8")
        )
        data = (
            _TEMPLATE
            % (
                self.abstract_canon_sha256,
                _quoted_list(self.cross_cats_sorted),
                license_json,
                self.primary_cat,
                self.submitted_at,
                self.title_canon_sha256,
                SCHEMA_VERSION,
                self.source_id,
                self.source_kind,
                self.version,
            )
        ).encode("utf-8")
        digest = hashlib.sha256(data).digest()
        # The cached properties below, filled in at once: every record built here is
        # hashed, and a cached_property's first access is slow (it takes a lock).
        self.__dict__.update(
            {
                _CHECKED: data,
                "canonical_json": data,
                "canonical_digest": digest,
                "canonical_sha256": digest.hex(),
            }
        )
        return self

    @property
    def is_checked(self) -> bool:
        """Whether every field was checked by :meth:`from_source` or :meth:`from_dict`."""
        return _CHECKED in self.__dict__

    @cached_property
    def canonical_json(self) -> bytes:
        """``cjson.dumps(to_dict())``: the bytes that are hashed, made once.

        Raises:
            CanonicalJSONError: for a record not built by a checked constructor
                whose fields are outside the canonical JSON domain.
        """
        checked: bytes | None = self.__dict__.get(_CHECKED)
        return checked if checked is not None else cjson.dumps(self.to_dict())

    @cached_property
    def canonical_digest(self) -> bytes:
        """The 32 raw bytes of ``sha256(canonical_record)``."""
        return hashlib.sha256(self.canonical_json).digest()

    @cached_property
    def canonical_sha256(self) -> str:
        """``sha256(canonical_record)``: the digest the Pith number and receipt are built on."""
        return self.canonical_digest.hex()

    @property
    def submitted(self) -> datetime:
        """``submitted_at`` as a datetime."""
        return parse_seconds(self.submitted_at)

    @property
    def versioned_id(self) -> str:
        """The arXiv id with its version, e.g. ``1811.06992v2``."""
        return f"{self.source_id}v{self.version}"

    def source_dict(self) -> dict[str, Any]:
        """The ``source`` object, as bundles and snapshots carry it."""
        return {"kind": self.source_kind, "id": self.source_id, "version": self.version}


def _obj(data: Any, where: str, fields: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise FormatError(f"{where}: expected an object")
    keys = set(data)
    if keys != fields:
        missing = sorted(fields - keys)
        extra = sorted(keys - fields)
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        raise FormatError(f"{where}: {'; '.join(parts)}")
    return data
