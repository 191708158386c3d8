"""Publishing through the library: resuming, base-URL changes, stale files, refused records, pages.

The CLI tests (tests/cli/test_publish.py) cover the command and a real kill;
these pin each behaviour with a crash at an exact record.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from issuer import _pages, cjson, registry
from issuer.errors import EXIT_REFUSED, FormatError
from issuer.keys.keyset import KeySet
from issuer.publish import PublishSummary, publish
from issuer.registry import RecordRefusal
from issuer.store import Store, open_store
from issuer.verify import verify_bundle
from tests import factory
from tests.registry_sql import execute, issue, record_row_id

A = "https://a.example"
B = "https://b.example"


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way catches it."""


@pytest.fixture
def store(tmp_path: Path, registry_url: str) -> Iterator[Store]:
    with open_store(registry_url) as opened:
        issue(opened, tmp_path, range(1, 51))
        yield opened


def _publish(store: Store, out: Path, base: str = A, **kw: Any) -> PublishSummary:
    return publish(store, out, factory.signer(), base_url=base, now=factory.T0, batch=10, **kw)


def _crash_at(n: int) -> Any:
    def on_record(summary: PublishSummary) -> None:
        if summary.records == n:
            raise Crash

    return on_record


def _bases(out: Path) -> set[str]:
    """The base URL every published bundle (and its .well-known copy) links to."""
    found = set()
    for path in [*(out / "pith").glob("*/bundle.json"), *(out / ".well-known").rglob("*.json")]:
        bundle = json.loads(path.read_bytes())
        found.add(bundle["mirror_hints"][0]["base_url"])
        assert bundle["links"]["bundle"].startswith(bundle["mirror_hints"][0]["base_url"])
    return found


def test_a_first_publish_killed_midway_resumes_where_it_stopped(
    store: Store, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    with pytest.raises(Crash):
        _publish(store, out, on_record=_crash_at(35))
    # Records 1-30 were committed as published (three batches of 10); 31-35 were
    # written but not yet recorded, so they are written again: at most one batch.
    again = _publish(store, out)
    assert (again.records, again.written, again.unchanged) == (50, 20, 30)
    third = _publish(store, out)
    assert (third.written, third.unchanged, third.files) == (0, 50, 0)
    keys = KeySet([factory.signer().public_key])
    for path in (out / "pith").glob("*/bundle.json"):
        verify_bundle(json.loads(path.read_bytes()), keys)


def test_a_base_url_change_reaches_every_bundle_even_across_a_kill(
    store: Store, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    _publish(store, out, A)
    with pytest.raises(Crash):
        _publish(store, out, B, on_record=_crash_at(25))
    assert _bases(out) == {A, B}  # half moved
    back = _publish(store, out, A)  # the operator goes back to the old URL
    assert back.written >= 20  # every record the killed run moved to B, at least
    assert _bases(out) == {A}
    with pytest.raises(Crash):
        _publish(store, out, B, on_record=_crash_at(25))
    moved = _publish(store, out, B)
    assert moved.written + moved.unchanged == 50
    assert _bases(out) == {B}
    assert json.loads((out / ".pith-publish.json").read_bytes())["base_url"] == B


def test_a_run_with_nothing_to_do_reads_no_record(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    _publish(store, out)

    def no_reads(*_: Any) -> Any:
        raise AssertionError("an unchanged record was read")

    monkeypatch.setattr(store, "record", no_reads)
    monkeypatch.setattr(store, "events", no_reads)
    monkeypatch.setattr(store, "publish_sources", no_reads)
    again = _publish(store, out)
    assert (again.written, again.unchanged, again.files) == (0, 50, 0)


def test_an_event_or_a_reissued_signature_republishes_that_record_only(
    store: Store, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    _publish(store, out)
    [number] = store.current_arxiv("2401.00007")
    registry.add_event(
        store, number, "author_attestation", {"n": 1}, factory.signer(), now=factory.T0
    )
    assert _publish(store, out).written == 1
    [other] = store.current_arxiv("2401.00009")
    row_id = record_row_id(store, other)
    [signed] = [s for s in store.signed_batch(0, 50) if s.row_id == row_id]
    store.write_signatures([(signed.row_id, "test-registry-1", signed.receipt)], [])
    assert _publish(store, out).written == 1


def test_an_event_added_while_its_record_is_published_is_published_by_the_next_run(
    store: Store, tmp_path: Path
) -> None:
    [number] = store.current_arxiv("2401.00012")

    def add_event_meanwhile(summary: PublishSummary) -> None:
        if summary.records == 12:  # its files are written; the batch is not recorded yet
            registry.add_event(
                store, number, "author_attestation", {"n": 1}, factory.signer(), now=factory.T0
            )

    out = tmp_path / "site"
    _publish(store, out, on_record=add_event_meanwhile)
    again = _publish(store, out)
    assert (again.written, again.unchanged) == (1, 49)
    code = number.rsplit(":", 1)[1]
    assert len(json.loads((out / "pith" / code / "bundle.json").read_bytes())["events"]) == 2


def test_stale_tmp_files_of_a_killed_run_are_removed(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "site"
    _publish(store, out)
    code = next((out / "pith").iterdir()).name
    stale = [
        out / "pith" / code / ".bundle.json.99999.tmp",
        out / ".well-known" / "pith" / code / ".bundle.json.99999.tmp",
        out / ".index.html.4242.tmp",
        out / "years" / "2024" / ".index.html.4242.tmp",
    ]
    for path in stale:
        path.write_bytes(b"half a file")
    keep = out / "pith" / code / "notes.tmp"  # not ours: left alone
    keep.write_bytes(b"")
    again = _publish(store, out)
    assert again.stale_removed == 4
    assert not any(p.exists() for p in stale)
    assert keep.exists()
    assert again.written == 0


def test_a_record_that_no_longer_passes_is_refused_and_the_others_are_published(
    store: Store, tmp_path: Path
) -> None:
    [bad] = store.current_arxiv("2401.00003")
    record = store.record(bad)
    assert record is not None
    broken = record.record.to_dict()
    broken["metadata"]["primary_cat"] = "Not A Category!"  # what an older release let through
    execute(
        store,
        "UPDATE records SET record_json=? WHERE code=?",  # kept whole, as a migration does
        (cjson.dumps(broken), record.number.code),
    )

    refused: list[RecordRefusal] = []
    out = tmp_path / "site"
    summary = _publish(store, out, on_refused=refused.append)
    assert (summary.records, summary.written, summary.refused) == (50, 49, 1)
    assert summary.exit_code == 1
    [refusal] = refused
    assert refusal.pith_number == bad and "primary_cat" in refusal.reason
    assert not refusal.reason.startswith(bad)  # a refused: line names the record once
    assert summary.to_dict()["refusals"] == [
        {"pith_number": bad, "reason": refusal.reason, "hint": refusal.hint}
    ]
    assert not (out / "pith" / record.number.code).exists()
    assert len(list((out / "pith").iterdir())) == 49
    assert _publish(store, out).refused == 1  # reported again, never marked published

    # resolve, show and bundle of every other record still work; the broken one is named.
    [good] = store.current_arxiv("2401.00004")
    assert registry.resolve(store, "2401.00004").unique == good
    assert registry.show(store, good)["pith_number"] == good
    registry.bundle(store, good, factory.signer(), factory.T0, A)
    with pytest.raises(FormatError, match=re.escape(bad)) as caught:
        registry.show(store, bad)
    assert caught.value.exit_code == EXIT_REFUSED
    found = registry.candidate_records(store, [good, bad])
    assert [r.pith_number for r in found.records] == [good]
    assert found.refusals == [refusal]


def _graph_snapshot(title: str, authors: str) -> dict[str, Any]:
    return {
        "graph_snapshot": {"paper": {"title": title, "authors_text": authors}},
        "verdict_id": None,
    }


def test_pages_show_title_authors_and_arxiv_link_and_escape_everything(
    store: Store, tmp_path: Path
) -> None:
    [number] = store.current_arxiv("2401.00005")
    evil = "<script>alert('t')</script> & \"quotes\""
    authors = "A. <img src=x onerror=alert(1)>, B. Author"
    registry.add_event(
        store,
        number,
        "graph_snapshot",
        _graph_snapshot(evil, authors),
        factory.signer(),
        now=factory.T0,
    )
    out = tmp_path / "site"
    _publish(store, out)
    code = number.rsplit(":", 1)[1]
    page = (out / "pith" / code / "index.html").read_text()
    assert "<script>" not in page and "<img" not in page
    assert html.escape(evil) in page and html.escape(authors) in page
    assert 'href="https://arxiv.org/abs/2401.00005v1"' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    year_page = (out / "years" / "2024" / "index.html").read_text()
    assert html.escape(evil) in year_page and "<script>" not in year_page


def test_the_front_page_lists_records_by_year_in_pages(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_pages, "PAGE_SIZE", 20)
    out = tmp_path / "site"
    _publish(store, out)
    front = (out / "index.html").read_text()
    assert 'href="years/2024/index.html"' in front and "50 records" in front
    pages = [out / "years" / "2024" / n for n in ("index.html", "page-2.html", "page-3.html")]
    listed = [
        re.findall(r'href="../../pith/([A-Z2-7]{26})/index.html"', p.read_text()) for p in pages
    ]
    assert [len(x) for x in listed] == [20, 20, 10]
    assert sorted(c for x in listed for c in x) == sorted(p.name for p in (out / "pith").iterdir())
    assert not (out / "years" / "2024" / "page-4.html").exists()
    assert 'href="page-2.html"' in pages[0].read_text()
    # A lost index page is written again by a run with nothing else to do.
    pages[1].unlink()
    again = _publish(store, out)
    assert again.written == 0 and pages[1].is_file()
