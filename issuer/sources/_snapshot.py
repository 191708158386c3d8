"""The JSON-lines metadata snapshot (``arxiv-metadata-oai-snapshot.json``) → SourceMetadata.

One JSON object per line, read line by line in constant memory. A line that
is not a usable record is refused with its line number and the rest goes on.
The snapshot carries raw text, every version's date and the license key
(``null`` for older papers). The look-alike arxiv-public-datasets layout has
no license key and dateless version labels: it is recognised and refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from issuer.record import ARXIV_ID_RE
from issuer.sources._model import (
    Item,
    Refusal,
    RefuseRecordError,
    SourceMetadata,
    parse_arxiv_date,
    parse_version_label,
)

FORMAT = "snapshot"

_PUBLIC_DATASETS = (
    "this is the arxiv-public-datasets layout (versions without dates, no license key), "
    "not the arXiv metadata snapshot; it cannot say the license or the v1 submission time"
)


def read(lines: Iterable[bytes], name: str, first_line: int = 1) -> Iterator[Item]:
    """Yield one item per non-blank line."""
    for lineno, line in enumerate(lines, first_line):
        if not line.strip():
            continue
        location = f"{name}:{lineno}"
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            yield Refusal(location, f"invalid JSON: {e}")
            continue
        yield parse(obj, location)


def parse(obj: Any, location: str) -> SourceMetadata | Refusal:
    """Turn one decoded snapshot line into metadata or a refusal."""
    if not isinstance(obj, dict):
        return Refusal(location, "snapshot line is not a JSON object")
    arxiv_id = obj.get("id")
    if not isinstance(arxiv_id, str) or not ARXIV_ID_RE.fullmatch(arxiv_id):
        return Refusal(location, f'no valid arXiv "id" (got {arxiv_id!r})')
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


def _parse(obj: dict[str, Any], arxiv_id: str, location: str) -> SourceMetadata:
    versions = obj.get("versions")
    if not isinstance(versions, list) or not versions:
        raise RefuseRecordError('"versions" is missing or empty')
    if "license" not in obj or any(isinstance(v, str) for v in versions):
        raise RefuseRecordError(_PUBLIC_DATASETS)
    dates: dict[int, str] = {}
    for entry in versions:
        if not isinstance(entry, dict) or not isinstance(entry.get("created"), str):
            raise RefuseRecordError(f'"versions" entry is not {{"version", "created"}}: {entry!r}')
        dates[parse_version_label(str(entry.get("version")), '"versions"')] = entry["created"]
    if 1 not in dates:
        raise RefuseRecordError('"versions" lists no v1, so the submission time is unknown')
    submitted = parse_arxiv_date(dates[1], '"versions" v1')
    title = _string(obj, "title")
    abstract = _string(obj, "abstract")
    categories = tuple((_string(obj, "categories") or "").split())
    lic = (_string(obj, "license", nullable=True) or "").strip()
    doi = _string(obj, "doi", nullable=True) or ""
    if not categories:
        raise RefuseRecordError('"categories" is empty')
    assert title is not None and abstract is not None  # noqa: S101 - _string checked
    return SourceMetadata(
        arxiv_id=arxiv_id,
        version=max(dates),
        title=title,
        abstract=abstract,
        categories=categories,
        license=lic or None,
        submitted_at=submitted,
        dois=tuple(doi.split()),
        source_format=FORMAT,
        location=location,
    )
