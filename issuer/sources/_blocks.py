"""The JSON-lines snapshot as raw blocks of lines: read in one process, parsed in another.

Issuance reads a snapshot here as blocks of whole raw lines and hands each
block to a worker process, which parses it with the snapshot reader itself
(:func:`issuer.sources._snapshot.read`, told the block's first line number),
so every refusal names the same ``FILE:LINE`` as a read of the whole file. A
line over :data:`~issuer.sources._snapshot.MAX_LINE_BYTES` is never held: the
block ends before it, its refusal is yielded in its place, and the next block
starts after it. A block also ends before a line that would take it over
:data:`MAX_BLOCK_BYTES`, so a run of long lines never makes a block of gigabytes.

:meth:`LineBlock.id_hints` pulls the arXiv ids out of a block with a pattern,
without parsing it, so the reading process can ask the registry which of them
are issued already. It is a hint only: an id it misses (an escaped character,
an odd layout) or one it finds where there is none changes nothing but how
early that record is found to be issued.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from issuer.identifiers import ARXIV_ID_RE
from issuer.sources import _snapshot
from issuer.sources._model import Item, Refusal

#: The most bytes a block holds, unless its one line is longer (up to the snapshot's
#: ``MAX_LINE_BYTES``). Real blocks of a thousand lines are a few MiB; lines of several
#: MiB each end a block sooner, so memory stays bounded by blocks in flight, not lines.
MAX_BLOCK_BYTES = 8 << 20

# A snapshot line's "id" value, where it holds no escape: the hint of its arXiv id.
_ID_HINT = re.compile(rb'"id"\s*:\s*"([^"\\]{1,64})"')


@dataclass(frozen=True, slots=True)
class LineBlock:
    """Consecutive raw lines of one snapshot input, each with its line break.

    Attributes:
        name: the input's name, as locations give it.
        first_line: the line number of the block's first line (1 for a file's first).
        data: the lines, each ending in a line break (the input's last one may not).
        lines: how many lines ``data`` holds.
    """

    name: str
    first_line: int
    data: bytes
    lines: int

    def items(self) -> Iterator[Item]:
        """The block's records and refusals, read as :func:`issuer.sources.read` reads them."""
        return _snapshot.read(io.BytesIO(self.data), self.name, self.first_line)

    def id_hints(self) -> set[str]:
        """The arXiv ids the block's lines seem to name (see the module docstring).

        Only what is an arXiv id is a hint: the registry is never asked about other
        text (a NUL byte in a broken line, which PostgreSQL cannot take as text).
        """
        hints = {m.decode("utf-8", "replace") for m in _ID_HINT.findall(self.data)}
        return {hint for hint in hints if ARXIV_ID_RE.fullmatch(hint)}


def long_line(location: str) -> Refusal:
    """The refusal of a line over the snapshot's limit, as the snapshot reader words it."""
    return Refusal(
        location,
        f"line longer than {_snapshot.MAX_LINE_BYTES >> 20} MiB: not a snapshot record, skipped",
    )


def blocks(stream: IO[bytes], name: str, size: int) -> Iterator[LineBlock | Refusal]:
    """The lines of ``stream`` in blocks of up to ``size``; an over-long line as its refusal.

    A block is yielded as soon as it holds ``size`` lines, without reading
    further (a pipe fed a block at a time has it issued without waiting), or
    before a line that would take it over :data:`MAX_BLOCK_BYTES`.
    """
    if size < 1:
        raise ValueError("a block holds at least one line")
    held: list[bytes] = []
    held_bytes = 0
    first = 1
    for lineno, line in enumerate(_snapshot._lines(stream), 1):
        if line is None:
            if held:
                yield LineBlock(name, first, b"".join(held), len(held))
                held, held_bytes = [], 0
            yield long_line(f"{name}:{lineno}")
            first = lineno + 1
            continue
        if held and held_bytes + len(line) > MAX_BLOCK_BYTES:
            yield LineBlock(name, first, b"".join(held), len(held))
            held, held_bytes = [], 0
            first = lineno
        held.append(line)
        held_bytes += len(line)
        if len(held) >= size:
            yield LineBlock(name, first, b"".join(held), len(held))
            held, held_bytes = [], 0
            first = lineno + 1
    if held:
        yield LineBlock(name, first, b"".join(held), len(held))
