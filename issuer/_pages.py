"""The HTML pages of a published tree: one per record, and an index of records by year.

Pages are for people; the signed bundles beside them are the evidence. They
are small, dependency-free, and readable on a phone (420 px) as on a
desktop. Everything taken from a record or an event (titles and author
lists come from graph snapshots, which anyone with a trusted key can sign)
is HTML-escaped here, in one place.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from issuer.bundles import links_for

#: Records per index page.
PAGE_SIZE = 500
KEYS_FILE = "pith-signing-key.json"

_STYLE = """\
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;line-height:1.45;max-width:60rem;margin:1.5rem auto;
padding:0 1rem;overflow-wrap:anywhere}
h1{font-size:1.5rem}h1 code{font-size:1.1rem}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.2rem .6rem;vertical-align:top}
code,pre{overflow-wrap:anywhere;word-break:break-all}
pre{white-space:pre-wrap;background:#f4f4f4;padding:.6rem}
nav a{margin-right:.6rem}
ol.records li{margin:.3rem 0}
@media (max-width:40rem){table,tbody,tr,th,td{display:block}th{padding-bottom:0}
tr{border-bottom:1px solid #ddd;padding:.3rem 0}.events tr:first-child{display:none}}
"""


@dataclass(frozen=True)
class Paper:
    """What a page says about the paper itself, beyond the record's hashes."""

    title: str | None
    authors: str | None


def paper_from_state(state: dict[str, Any], issued_title: str | None = None) -> Paper:
    """Title and authors from the newest valid graph snapshot, else the title as issued."""
    title: str | None = None
    authors: str | None = None
    for entry in reversed(_get(state.get("current"), "graph_snapshots") or []):
        paper = _get(_get(_get(entry, "payload"), "graph_snapshot"), "paper")
        candidate = _get(paper, "title")
        if isinstance(candidate, str) and candidate.strip():
            title = candidate
            names = _get(paper, "authors_text")
            if isinstance(names, str) and names.strip():
                authors = names
            elif isinstance(names := _get(paper, "authors"), list):
                authors = ", ".join(n for n in names if isinstance(n, str)) or None
            break
    return Paper(title if title is not None else issued_title, authors)


_SPECIAL = re.compile(r"[&<>\"']")


def _escape(text: str) -> str:
    """``html.escape(text)``; most values (hashes, ids, times) have nothing to escape."""
    return html.escape(text) if _SPECIAL.search(text) else text


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def _head(title: str, extra: str = "") -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>{extra}
<style>{_STYLE}</style>
</head>
<body>
"""


def resolver_page(bundle: dict[str, Any], paper: Paper) -> str:
    """The page of one record: paper, record, aliases, events and how to verify it."""
    e = _escape
    number = bundle["pith_number"]
    record = bundle["canonical_record"]
    base = bundle["mirror_hints"][0]["base_url"]
    links = links_for(base, number.rsplit(":", 1)[1])
    state = bundle["state"]
    source = record["source"]
    metadata = record["metadata"]
    versioned = f"{source['id']}v{source['version']}"
    rows = [
        ("Pith number", number),
        ("Short form", bundle["short_pith_number"]),
        ("arXiv", versioned),
        ("Submitted", metadata["submitted_at"]),
        ("Primary category", metadata["primary_cat"]),
        ("Other categories", " ".join(metadata["cross_cats_sorted"]) or "none"),
        ("License", metadata["license"] or "none given"),
        ("canonical_sha256", bundle["canonical_sha256"]),
        ("Title hash", metadata["title_canon_sha256"]),
        ("Abstract hash", metadata["abstract_canon_sha256"]),
        ("state_sha256", state["state_sha256"]),
        ("Built", bundle["built_at"]),
    ]
    record_rows = "\n".join(
        f"<tr><th>{e(k)}</th><td><code>{e(str(v))}</code></td></tr>" for k, v in rows
    )
    alias_rows = "\n".join(
        f"<tr><th>{e(a['alias_kind'])}</th><td><code>{e(a['alias_value'])}</code></td></tr>"
        for a in bundle["source_aliases"]
    )
    event_rows = "\n".join(
        f"<tr><td>{e(ev['created_at'])}</td><td>{e(ev['event_type'])}</td>"
        f"<td>{e(ev['target'])}</td><td><code>{e(ev['event_id'])}</code></td>"
        f"<td>{e(ev['signature']['key_id'])}</td></tr>"
        for ev in bundle["events"]
    )
    title = (
        f"<p class=title><strong>{e(paper.title)}</strong></p>"
        if paper.title is not None
        else "<p class=title><em>Title not recorded in this registry.</em></p>"
    )
    authors = f"\n<p class=authors>{e(paper.authors)}</p>" if paper.authors else ""
    abs_url = f"https://arxiv.org/abs/{versioned}"
    alternate = '\n<link rel="alternate" type="application/json" href="bundle.json">'
    return (
        _head(f"{number} · {paper.title}" if paper.title else number, alternate)
        + f"""<nav><a href="../../index.html">All records</a></nav>
<h1><code>{e(number)}</code></h1>
{title}{authors}
<p>arXiv: <a href="{e(abs_url)}">{e(versioned)}</a></p>
<p>A permanent, content-derived identifier for this arXiv version.
Signed evidence: <a href="bundle.json">bundle.json</a> ·
state: <a href="state.json">state.json</a> ·
registry keys: <a href="../../{KEYS_FILE}">{KEYS_FILE}</a>.</p>
<h2>Record</h2>
<table>
{record_rows}
</table>
<h2>Aliases</h2>
<table>
{alias_rows}
</table>
<h2>Events ({e(str(state["valid_event_count"]))} valid,
{e(str(state["invalid_event_count"]))} invalid,
{e(str(state["equivocation_count"]))} equivocations)</h2>
<table class=events>
<tr><th>created</th><th>type</th><th>target</th><th>event id</th><th>key</th></tr>
{event_rows}
</table>
<h2>How to verify</h2>
<p>Do not trust this page or this server: check the signed bundle against keys you
already trust, offline if you like. Fetch the registry's key document once, and compare
its fingerprints with ones you got from the registry another way:</p>
<pre>curl -fsSLO {e(base)}/{KEYS_FILE}
pith verify {e(links["bundle"])} --keys {KEYS_FILE}</pre>
</body>
</html>
"""
    )


@dataclass(frozen=True)
class Listed:
    """One record on an index page."""

    pith_number: str
    code: str
    versioned_id: str
    title: str | None


def year_page_name(page: int) -> str:
    """``index.html`` for the first page of a year, ``page-N.html`` after it."""
    return "index.html" if page == 1 else f"page-{page}.html"


def pages_in(count: int) -> int:
    """How many index pages ``count`` records fill."""
    return max(1, -(-count // PAGE_SIZE))


def root_page(years: dict[int, int]) -> str:
    """The site's front page: every year with its record count."""
    total = sum(years.values())
    items = "\n".join(
        f'<li><a href="years/{y}/index.html">{y}</a>: {n:,} record{"s" if n != 1 else ""}</li>'
        for y, n in sorted(years.items(), reverse=True)
    )
    return (
        _head("Pith records")
        + f"""<h1>Pith records</h1>
<p>{total:,} record{"s" if total != 1 else ""}, by year of first submission.
Each record's page links its signed bundle; the registry's public keys are in
<a href="{KEYS_FILE}">{KEYS_FILE}</a>.</p>
<ul>
{items}
</ul>
</body>
</html>
"""
    )


def year_page(year: int, page: int, pages: int, records: Iterable[Listed]) -> str:
    """One page of a year's records, with links to the other pages."""
    e = html.escape
    items = "\n".join(
        f'<li><a href="../../pith/{e(r.code)}/index.html"><code>{e(r.pith_number)}</code></a>'
        f" · arXiv {e(r.versioned_id)}"
        + (f"<br>{e(r.title)}" if r.title is not None else "")
        + "</li>"
        for r in records
    )
    shown = sorted({1, pages, *range(max(1, page - 5), min(pages, page + 5) + 1)})
    links = " ".join(
        f"<strong>{n}</strong>" if n == page else f'<a href="{year_page_name(n)}">{n}</a>'
        for n in shown
    )
    nav = f"<nav>Page {page} of {pages}: {links}</nav>" if pages > 1 else ""
    return (
        _head(f"Pith records of {year}" + (f", page {page}" if page > 1 else ""))
        + f"""<nav><a href="../../index.html">All years</a></nav>
<h1>Records of {year}</h1>
{nav}
<ol class=records start="{(page - 1) * PAGE_SIZE + 1}">
{items}
</ol>
{nav}
</body>
</html>
"""
    )
