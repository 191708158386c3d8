"""The JSON-lines metadata snapshot (``arxiv-metadata-oai-snapshot.json``) → SourceMetadata.

One JSON object per line, read line by line in constant memory. A line that
is not a usable record is refused with its line number and the rest goes on.
The snapshot carries raw text, every version's date and the license key
(``null`` for older papers). The look-alike arxiv-public-datasets layout has
no license key and dateless version labels: it is recognised and refused.

Each line is parsed strictly, so that no two parsers can read it differently:

- a line longer than :data:`MAX_LINE_BYTES` is refused without being held in
  memory (it is skipped in chunks), and the run goes on;
- a duplicate object key, an integer outside ±(2^53−1), a number too large
  for a float, ``NaN``/``Infinity``, or nesting too deep refuse the line;
- a UTF-8 byte-order mark at the very start of the file is skipped (the
  caller, :func:`issuer.sources.read_stream`, does that); anywhere else it
  makes the line invalid JSON. JSON lines are UTF-8: other encodings are
  refused as a whole.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import IO, Any, NoReturn

from issuer._frozen import assemble
from issuer.cjson import duplicate_key
from issuer.identifiers import ARXIV_ID_RE, MAX_VERSION, shown
from issuer.sources._model import (
    Item,
    Refusal,
    RefuseRecordError,
    SourceMetadata,
    checked,
    parse_arxiv_date,
    parse_version_label,
)

FORMAT = "snapshot"

#: The longest line read. Real snapshot lines are a few KiB; the longest
#: (collaborations with thousands of authors) are well under 1 MiB.
MAX_LINE_BYTES = 8 << 20
_SKIP_CHUNK = 1 << 20

_PUBLIC_DATASETS = (
    "this is the arxiv-public-datasets layout (versions without dates, no license key), "
    "not the arXiv metadata snapshot; it cannot say the license or the v1 submission time"
)
_MAX_INT_DIGITS = len(str(MAX_VERSION))


class _LineRefusedError(Exception):
    """Internal: the line is not strict JSON in the snapshot's domain."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        key = duplicate_key(pairs) or ""  # a shorter dict means some key came twice
        raise _LineRefusedError(f"duplicate key {key[:40]!r}")
    return result


def _integer(text: str) -> int:
    digits = text.lstrip("-")
    # Length first: int() of more than 4,300 digits raises a raw ValueError, and is slow.
    if len(digits) <= _MAX_INT_DIGITS:
        value = int(text)
        if abs(value) <= MAX_VERSION:
            return value
    raise _LineRefusedError(f"integer {shown(text, 30)} is outside +/-(2^53-1)")


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _LineRefusedError(f"number {shown(text, 30)} is too large")
    return value


def _constant(name: str) -> NoReturn:
    raise _LineRefusedError(f"{name} is not JSON")


_decoder = json.JSONDecoder(
    object_pairs_hook=_no_duplicates,
    parse_int=_integer,
    parse_float=_number,
    parse_constant=_constant,
)


# JSONDecoder.scan_once, the scanner itself (set in its __init__, unknown to typeshed).
_scan_once: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]
_JSON_SPACE = " \t\n\r"  # what JSONDecoder.decode skips around the value


def loads_line(line: bytes) -> Any:
    """Decode one snapshot line strictly (see the module docstring).

    A line whose value starts at its first character and is followed by
    nothing but JSON whitespace is scanned by the decoder's scanner directly,
    as ``JSONDecoder.decode`` would scan it, without its two Python layers and
    two whitespace matches; any other line, and any line the scanner refuses,
    is decoded by ``JSONDecoder.decode``, which words the refusal.

    Raises:
        RefuseRecordError: with the reason the line is refused.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RefuseRecordError(f"invalid JSON: not UTF-8 at byte {e.start}") from e
    try:
        value, end = _scan_once(text, 0)
    except (StopIteration, ValueError, _LineRefusedError, RecursionError):
        pass  # decoded again below, for the refusal's words
    else:
        if end == len(text) or not text[end:].strip(_JSON_SPACE):
            return value
    return _decode(text)


def _decode(text: str) -> Any:
    try:
        return _decoder.decode(text)
    except _LineRefusedError as e:
        raise RefuseRecordError(f"invalid JSON: {e}") from e
    except json.JSONDecodeError as e:
        raise RefuseRecordError(f"invalid JSON: {e.msg} at column {e.colno}") from e
    except RecursionError as e:
        raise RefuseRecordError("invalid JSON: nested too deeply") from e


def _lines(stream: IO[bytes]) -> Iterator[bytes | None]:
    """Each line of ``stream``; ``None`` for a line over :data:`MAX_LINE_BYTES` (skipped)."""
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
            yield line
            continue
        del line  # free it before skipping the rest of the line
        while True:
            rest = stream.readline(_SKIP_CHUNK)
            if not rest or rest.endswith(b"\n"):
                break
        yield None


def read(stream: IO[bytes], name: str, first_line: int = 1) -> Iterator[Item]:
    """Yield one item per non-blank line of ``stream``."""
    for lineno, line in enumerate(_lines(stream), first_line):
        location = f"{name}:{lineno}"
        if line is None:
            yield Refusal(
                location,
                f"line longer than {MAX_LINE_BYTES >> 20} MiB: not a snapshot record, skipped",
            )
            continue
        if line.isspace():  # a blank line (``line`` is never empty)
            continue
        try:
            obj = loads_line(line)
        except RefuseRecordError as e:
            yield Refusal(location, str(e))
            continue
        yield parse(obj, location)


def parse(obj: Any, location: str) -> SourceMetadata | Refusal:
    """Turn one decoded snapshot line into metadata or a refusal."""
    if not isinstance(obj, dict):
        return Refusal(location, "snapshot line is not a JSON object")
    arxiv_id = obj.get("id")
    if not isinstance(arxiv_id, str) or not ARXIV_ID_RE.fullmatch(arxiv_id):
        return Refusal(location, f'no valid arXiv "id" (got {shown(arxiv_id)})')
    try:
        return _parse(obj, arxiv_id, location)
    except RefuseRecordError as e:
        return Refusal(location, str(e), arxiv_id)


def _string(obj: dict[str, Any], field: str, *, nullable: bool = False) -> str | None:
    value = obj.get(field)
    if isinstance(value, str) or (nullable and value is None):
        return value
    what = "a string or null" if nullable else "a string"
    raise RefuseRecordError(f'"{field}" is missing or not {what}')


def _dates(versions: list[Any]) -> dict[int, str]:
    """Each version's date text, by version number."""
    dates: dict[int, str] = {}
    try:
        for entry in versions:
            if not isinstance(entry, dict) or not isinstance(entry.get("created"), str):
                raise RefuseRecordError(
                    f'"versions" entry is not {{"version", "created"}}: {shown(entry, 100)}'
                )
            number = parse_version_label(str(entry.get("version")), '"versions"')
            if number in dates:
                raise RefuseRecordError(f'"versions" lists v{number} twice')
            dates[number] = entry["created"]
    except RefuseRecordError:
        # Dateless labels (strings) are the other layout, whichever entry failed first;
        # only a failed entry can be one, so every line that reads is spared the search.
        if any(isinstance(v, str) for v in versions):
            raise RefuseRecordError(_PUBLIC_DATASETS) from None
        raise
    return dates


def _parse(obj: dict[str, Any], arxiv_id: str, location: str) -> SourceMetadata:
    versions = obj.get("versions")
    if not isinstance(versions, list) or not versions:
        raise RefuseRecordError('"versions" is missing or empty')
    if "license" not in obj:
        raise RefuseRecordError(_PUBLIC_DATASETS)
    dates = _dates(versions)
    if 1 not in dates:
        raise RefuseRecordError('"versions" lists no v1, so the submission time is unknown')
    submitted = parse_arxiv_date(dates[1], '"versions" v1')
    # Each field a string (or null where allowed), in this order; _string words a refusal.
    title = obj.get("title")
    if type(title) is not str:
        title = _string(obj, "title")
    abstract = obj.get("abstract")
    if type(abstract) is not str:
        abstract = _string(obj, "abstract")
    cats = obj.get("categories")
    if type(cats) is not str:
        cats = _string(obj, "categories")
    lic = obj.get("license")
    if lic is not None and type(lic) is not str:
        lic = _string(obj, "license", nullable=True)
    doi = obj.get("doi")
    if doi is not None and type(doi) is not str:
        doi = _string(obj, "doi", nullable=True)
    categories = tuple((cats or "").split())
    lic = (lic or "").strip()
    if not categories:
        raise RefuseRecordError('"categories" is empty')
    assert title is not None and abstract is not None  # noqa: S101 - _string checked
    return checked(
        assemble(  # SourceMetadata(...) without its field-by-field __init__
            SourceMetadata,
            {
                "arxiv_id": arxiv_id,
                "version": max(dates),
                "title": title,
                "abstract": abstract,
                "categories": categories,
                "license": lic or None,
                "submitted_at": submitted,
                "dois": tuple((doi or "").split()),
                "source_format": FORMAT,
                "location": location,
            },
        )
    )
