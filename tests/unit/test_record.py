"""Canonical record, Pith number and aliases against the real bundle (spec §2–4)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from issuer import cjson
from issuer._time import parse_seconds
from issuer.errors import FormatError
from issuer.identifiers import PithNumber, source_aliases
from issuer.record import CanonicalRecord, canon_text, text_sha256
from issuer.sources import SourceMetadata


def test_real_record_reproduces_every_identifier(real_bundle: dict[str, Any]) -> None:
    record = CanonicalRecord.from_dict(real_bundle["canonical_record"])
    assert record.canonical_sha256 == real_bundle["canonical_sha256"]
    assert record.to_dict() == real_bundle["canonical_record"]
    number = PithNumber.for_record(record)
    assert str(number) == real_bundle["pith_number"]
    assert number.short == real_bundle["short_pith_number"]
    published = real_bundle["source_aliases"]
    ours = source_aliases(
        record,
        number,
        parse_seconds(published[0]["created_at"]),
        parse_seconds(published[-1]["created_at"]),
    )
    assert ours == published
    assert record.source_dict() == real_bundle["source"]


def test_record_from_source_metadata_matches_the_bundle(real_bundle: dict[str, Any]) -> None:
    """Build the record the way issuance does, from (title, abstract) hashes' inputs."""
    meta = real_bundle["canonical_record"]["metadata"]
    paper = real_bundle["events"][1]["payload"]["graph_snapshot"]["paper"]
    assert text_sha256(paper["title"]) == meta["title_canon_sha256"]
    source = SourceMetadata(
        arxiv_id="1811.06992",
        version=2,
        title=paper["title"],
        abstract="unused",
        categories=("cs.LG", "stat.ML", "cs.DC", "cs.LG"),
        license=paper["license"],
        submitted_at=datetime(2018, 11, 16, 19, 1, 40, tzinfo=UTC),
        dois=(),
        source_format="test",
        location="test",
    )
    record = CanonicalRecord.from_source(source)
    assert record.cross_cats_sorted == ("cs.DC", "stat.ML")
    assert record.title_canon_sha256 == meta["title_canon_sha256"]
    assert record.submitted_at == meta["submitted_at"]


@pytest.mark.parametrize(
    ("raw", "canon"),
    [
        ("  Image  Classification\n at\tScale ", "image classification at scale"),
        ("A\u030a", "\u00e5"),  # NFC composes before lowercasing
        ('H\\"older $\\theta$', 'h\\"older $\\theta$'),  # TeX kept as is
        ("x\u00a0y\u2003z", "x y z"),  # Unicode whitespace collapses too
        ("0", "0"),
        ("", ""),
    ],
)
def test_canon_text(raw: str, canon: str) -> None:
    assert canon_text(raw) == canon


def _mutated(real_bundle: dict[str, Any], path: list[str], value: Any) -> Any:
    data = copy.deepcopy(real_bundle["canonical_record"])
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["schema_version"], "2.0", "unsupported"),
        (["source", "kind"], "biorxiv", "unsupported"),
        (["source", "id"], "1811.069", "not an arXiv id"),
        (["source", "version"], "2", "positive integer"),
        (["source", "version"], 0, "positive integer"),
        (["source", "version"], True, "positive integer"),
        (["metadata", "license"], 5, "string or null"),
        (["metadata", "primary_cat"], "CS LG", "not a category"),
        (["metadata", "cross_cats_sorted"], ["stat.ML", "cs.DC"], "sorted"),
        (["metadata", "cross_cats_sorted"], ["cs.DC", "cs.LG"], "without the primary"),
        (["metadata", "submitted_at"], "2018-11-16 19:01:40", "UTC time"),
        (["metadata", "submitted_at"], "0999-11-16T19:01:40Z", "year 999 is not between"),
        (["source", "version"], 2**53, r"above 2\^53-1"),
        (["metadata", "cross_cats_sorted"], ["cs.DC", "stat ML"], "not a category"),
        (["metadata", "license"], "", "string or null"),
        (["metadata", "title_canon_sha256"], "ABC", "SHA-256"),
        (["metadata", "extra"], 1, "unexpected extra"),
        (["metadata", "license"], KeyError, "missing license"),
    ],
)
def test_from_dict_refuses_deviations(
    real_bundle: dict[str, Any], path: list[str], value: Any, message: str
) -> None:
    with pytest.raises(FormatError, match=message):
        CanonicalRecord.from_dict(_mutated(real_bundle, path, value))


def test_null_license_and_old_style_id_are_valid(real_bundle: dict[str, Any]) -> None:
    data = _mutated(real_bundle, ["metadata", "license"], None)
    data["source"]["id"] = "math/9201201"
    record = CanonicalRecord.from_dict(data)
    assert record.license is None
    assert cjson.loads(cjson.dumps(record.to_dict()))["metadata"]["license"] is None
    aliases = {
        a["alias_kind"]: a["alias_value"]
        for a in source_aliases(
            record, PithNumber.for_record(record), datetime(2026, 1, 1, tzinfo=UTC)
        )
    }
    assert aliases["arxiv_version"] == "math/9201201v2"
    assert aliases["doi"] == "10.48550/arxiv.math/9201201"
