"""Static publishing: the registry as a tree of files any web server can serve (spec §9).

For every record: ``pith/CODE/bundle.json``, ``pith/CODE/state.json``,
``.well-known/pith/CODE/bundle.json`` and a small resolver page
``pith/CODE/index.html``; at the top, ``pith-signing-key.json``. Nothing
in the tree needs the server to be trusted: bundles verify against the
reader's own keys.

Incremental: a record whose merged state is what its published
``state.json`` already says is left alone, so a second run rewrites only
what changed. Every file is replaced atomically (a reader sees the old file
or the new, never half of one); ``state.json`` is written last of a record's
files, so a crash before it makes the next run write the record again. The
tree's settings (base URL, signing key, layout version) are kept in
``.pith-publish.json``, written last of all after one sync: when they change,
every record is written again.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from issuer import cjson
from issuer._fs import atomic_write
from issuer.bundles import build_bundle, links_for
from issuer.errors import Error
from issuer.keys import Signer
from issuer.keys.keyset import KeySet
from issuer.merge import merge
from issuer.registry import trusted_keys
from issuer.store import IssuedRecord, SqliteStore

LAYOUT_VERSION = 1
SETTINGS_FILE = ".pith-publish.json"
KEYS_FILE = "pith-signing-key.json"


class PublishError(Error):
    """The static tree cannot be written (disk full, permissions)."""


@dataclass
class PublishSummary:
    """What a run wrote."""

    records: int = 0
    written: int = 0
    unchanged: int = 0
    files: int = 0
    bytes: int = 0

    def to_dict(self) -> dict[str, int]:
        """The ``--json`` summary."""
        return {
            "records": self.records,
            "written": self.written,
            "unchanged": self.unchanged,
            "files_written": self.files,
            "bytes_written": self.bytes,
        }


def record_dir(outdir: Path, code: str) -> Path:
    """``OUTDIR/pith/CODE``."""
    return outdir / "pith" / code


def publish(
    store: SqliteStore,
    outdir: Path,
    signer: Signer,
    *,
    base_url: str,
    now: datetime,
    force: bool = False,
    on_record: Callable[[PublishSummary], None] | None = None,
    extra: KeySet | None = None,
) -> PublishSummary:
    """Write (or bring up to date) the static tree of every record under ``outdir``.

    ``extra``: the operator's key set; its keys, rotations and revocations go
    into ``pith-signing-key.json`` beside every key the registry signed with.

    Raises:
        PublishError: the tree cannot be written; files already replaced are
            complete, and the next run finishes the job.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    settings = {
        "base_url": base_url.rstrip("/"),
        "key_id": signer.key_id,
        "layout_version": LAYOUT_VERSION,
    }
    rewrite_all = force or _read_json(outdir / SETTINGS_FILE) != settings
    store.add_key(signer.public_key)
    keys = trusted_keys(store, extra)
    summary = PublishSummary()
    for issued in store.records():
        summary.records += 1
        number = issued.pith_number
        events = store.events(number)
        aliases = issued.aliases
        state = merge(number, events, aliases, keys)
        where = record_dir(outdir, issued.number.code)
        if not rewrite_all and _is_current(where, outdir, issued, state["state_sha256"]):
            summary.unchanged += 1
        else:
            bundle = build_bundle(
                issued.record,
                aliases,
                events,
                keys,
                signer,
                built_at=now,
                base_url=base_url,
                state=state,
            )
            _write_record(outdir, issued, bundle, summary)
            summary.written += 1
        if on_record is not None:
            on_record(summary)
    # The registry's own keys and statements, not everything this verifier trusts.
    own = KeySet(store.keys_used())
    document = (own.merged(extra) if extra is not None else own).to_document()
    keys_data = cjson.dumps(document) + b"\n"
    if _read_bytes(outdir / KEYS_FILE) != keys_data:
        _write(outdir / KEYS_FILE, keys_data, summary)
    os.sync()  # everything above is on disk before the settings say the tree is complete
    atomic_write(outdir / SETTINGS_FILE, cjson.dumps(settings) + b"\n")
    return summary


def published_base_url(outdir: Path) -> str | None:
    """The base URL a tree was last published for, if ``outdir`` is a published tree."""
    settings = _read_json(outdir / SETTINGS_FILE)
    url = settings.get("base_url") if isinstance(settings, dict) else None
    return url if isinstance(url, str) else None


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _read_json(path: Path) -> Any:
    data = _read_bytes(path)
    try:
        return None if data is None else orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def _is_current(where: Path, outdir: Path, issued: IssuedRecord, state_sha256: str) -> bool:
    published = _read_json(where / "state.json")
    if not isinstance(published, dict) or published.get("state_sha256") != state_sha256:
        return False
    code = issued.number.code
    return all(
        p.is_file()
        for p in (
            where / "bundle.json",
            where / "index.html",
            outdir / ".well-known" / "pith" / code / "bundle.json",
        )
    )


def _write(path: Path, data: bytes, summary: PublishSummary) -> None:
    try:
        atomic_write(path, data, durable=False)
    except OSError as e:
        raise PublishError(
            f"cannot write {path}: {e.strerror or e}",
            hint="every file already written is whole; fix the cause and run pith publish again",
        ) from e
    summary.files += 1
    summary.bytes += len(data)


def _write_record(
    outdir: Path, issued: IssuedRecord, bundle: dict[str, Any], summary: PublishSummary
) -> None:
    code = issued.number.code
    where = record_dir(outdir, code)
    data = cjson.dumps_parsed(bundle) + b"\n"
    _write(where / "bundle.json", data, summary)
    _write(outdir / ".well-known" / "pith" / code / "bundle.json", data, summary)
    _write(where / "index.html", resolver_page(bundle).encode(), summary)
    # Last: a state.json matching the registry marks the record as published.
    _write(where / "state.json", cjson.dumps_parsed(bundle["state"]) + b"\n", summary)


def resolver_page(bundle: dict[str, Any]) -> str:
    """A small, dependency-free HTML page: the record, its aliases, events and how to verify."""
    e = html.escape
    number = bundle["pith_number"]
    record = bundle["canonical_record"]
    links = links_for(bundle["mirror_hints"][0]["base_url"], number.rsplit(":", 1)[1])
    state = bundle["state"]
    source = record["source"]
    metadata = record["metadata"]
    rows = [
        ("Pith number", number),
        ("Short form", bundle["short_pith_number"]),
        ("arXiv", f"{source['id']}v{source['version']}"),
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
        f"<tr><th>{e(k)}</th><td><code>{e(v)}</code></td></tr>" for k, v in rows
    )
    alias_rows = "\n".join(
        f"<tr><td>{e(a['alias_kind'])}</td><td><code>{e(a['alias_value'])}</code></td></tr>"
        for a in bundle["source_aliases"]
    )
    event_rows = "\n".join(
        f"<tr><td>{e(ev['created_at'])}</td><td>{e(ev['event_type'])}</td>"
        f"<td>{e(ev['target'])}</td><td><code>{e(ev['event_id'])}</code></td>"
        f"<td>{e(ev['signature']['key_id'])}</td></tr>"
        for ev in bundle["events"]
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(number)}</title>
<link rel="alternate" type="application/json" href="bundle.json">
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{text-align:left;padding:.2rem .6rem;vertical-align:top}}
code{{word-break:break-all}}</style>
</head>
<body>
<h1><code>{e(number)}</code></h1>
<p>A permanent, content-derived identifier for arXiv
<code>{e(source["id"])}v{e(str(source["version"]))}</code>.
Signed evidence: <a href="bundle.json">bundle.json</a> ·
state: <a href="state.json">state.json</a>.</p>
<h2>Record</h2>
<table>
{record_rows}
</table>
<h2>Aliases</h2>
<table>
{alias_rows}
</table>
<h2>Events ({state["valid_event_count"]} valid, {state["invalid_event_count"]} invalid,
{state["equivocation_count"]} equivocations)</h2>
<table>
<tr><th>created</th><th>type</th><th>target</th><th>event id</th><th>key</th></tr>
{event_rows}
</table>
<h2>How to verify</h2>
<p>Do not trust this page or this server: check the signed bundle against keys you
already trust, offline.</p>
<pre>pith verify {e(links["bundle"])}
# or, with the file saved locally:
pith verify bundle.json --keys TRUSTED_KEYS</pre>
</body>
</html>
"""
