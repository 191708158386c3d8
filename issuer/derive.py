"""From arXiv metadata to canonical record, Pith number and aliases, file after file.

This is ``pith derive`` as a library: it reads each input with
:mod:`issuer.sources`, derives what can be derived, and reports everything
else as it goes, so one bad record or file never stops the run. Nothing is
signed or stored here; issuance builds on :func:`derive`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from issuer import cjson
from issuer._frozen import assemble
from issuer._time import Clock
from issuer.errors import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    FormatError,
    SourceError,
    UnreadableInputError,
)
from issuer.identifiers import PithNumber, source_aliases
from issuer.record import CanonicalRecord
from issuer.sources import Notice, Refusal, SourceMetadata, read


@dataclass(frozen=True)
class Derivation:
    """Everything derived from one source record."""

    source: SourceMetadata
    record: CanonicalRecord
    number: PithNumber
    aliases: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """The ``pith derive`` output object."""
        return {
            "pith_number": str(self.number),
            "short_pith_number": self.number.short,
            "canonical_sha256": self.record.canonical_sha256,
            "canonical_record": self.record.to_dict(),
            "source_aliases": self.aliases,
        }

    def to_json(self) -> bytes:
        """``cjson.dumps(to_dict())``, the ``pith derive`` output line, without a validation walk.

        What :func:`derive` built is in the canonical domain by construction: the
        record's bytes are made once from its checked fields, the digest is hex,
        and a Pith number's year is an integer and its code base32. The keys are
        literal and written in sorted order (``canonical_record`` sorts first), so
        the line is the record's bytes spliced into :data:`_LINE_TEMPLATE`, with
        the aliases written by :func:`cjson.dumps_parsed`. A record that was not
        built by a checked constructor, or a number that is not a year and a
        base32 code, goes through :func:`cjson.dumps`.

        Raises:
            CanonicalJSONError: only for a record built outside the checked
                constructors whose fields are outside the canonical domain.
        """
        record = self.record
        number = self.number
        code = number.code
        if not (
            record.is_checked
            and type(number.year) is int
            and type(code) is str
            and code.isascii()
            and code.isalnum()
        ):
            return cjson.dumps(self.to_dict())
        middle = _LINE_TEMPLATE % (record.canonical_sha256, number.year, code, code[:8])
        return b"".join(
            (
                b'{"canonical_record":',
                record.canonical_json,
                middle.encode("ascii"),
                cjson.dumps_parsed(self.aliases),
                b"}",
            )
        )


# The output line after the record and before the aliases (tests/unit/test_derive_fast.py
# pins the keys' order and the whole line against cjson.dumps(to_dict())); the values are
# ASCII without characters to escape (see Derivation.to_json).
_LINE_TEMPLATE = (
    ',"canonical_sha256":"%s","pith_number":"pith:%04d:%s","short_pith_number":"pith:%s",'
    '"source_aliases":'
)


def derive(meta: SourceMetadata, created_at: datetime) -> Derivation:
    """Derive the canonical record, Pith number and aliases of one source record.

    Raises:
        FormatError: if ``meta`` is outside the source grammar (the readers refuse
            such records before they get here).
    """
    record = CanonicalRecord.from_source(meta)
    number = PithNumber.for_record(record)
    return assemble(  # Derivation(...) without its field-by-field __init__
        Derivation,
        {
            "source": meta,
            "record": record,
            "number": number,
            "aliases": source_aliases(record, number, created_at),
        },
    )


@dataclass
class DeriveSummary:
    """Counts for a run; decides the exit code."""

    derived: int = 0
    refused: int = 0
    notices: int = 0
    files: int = 0
    failed_files: list[str] = field(default_factory=list)
    unreadable: bool = False

    @property
    def exit_code(self) -> int:
        """2 if an input could not be read, 1 if anything was refused, else 0."""
        if self.unreadable:
            return EXIT_USAGE
        if self.refused or self.failed_files:
            return EXIT_REFUSED
        return EXIT_OK


Outcome = Derivation | Refusal | Notice | SourceError


def derive_files(
    paths: Iterable[str], clock: Clock, summary: DeriveSummary | None = None
) -> Iterator[Outcome]:
    """Derive every record of every input, yielding each outcome in input order.

    A file that cannot be read or is refused as a whole is yielded as its
    :class:`SourceError` (after any records read before the problem) and the
    run goes on with the next file.
    """
    summary = summary if summary is not None else DeriveSummary()
    created_at = clock()
    for path in paths:
        summary.files += 1
        try:
            for item in read(path):
                if isinstance(item, SourceMetadata):
                    try:
                        derived = derive(item, created_at)
                    except FormatError as e:
                        summary.refused += 1
                        yield Refusal(item.location, e.message, item.arxiv_id)
                    else:
                        summary.derived += 1
                        yield derived
                elif isinstance(item, Refusal):
                    summary.refused += item.count
                    yield item
                else:
                    summary.notices += 1
                    yield item
        except SourceError as e:
            summary.failed_files.append(path)
            summary.unreadable |= isinstance(e, UnreadableInputError)
            yield e
