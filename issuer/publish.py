"""Static publishing: the registry as a tree of files any web server can serve (spec §9).

For every record: ``pith/CODE/bundle.json``, ``pith/CODE/state.json``,
``.well-known/pith/CODE/bundle.json`` and a page ``pith/CODE/index.html``; at
the top, ``pith-signing-key.json`` and ``index.html``, which lists the records
by year (``years/YYYY/…``, paginated). Nothing in the tree needs the server to
be trusted: bundles verify against the reader's own keys.

Resumable and incremental. The tree carries an id (in ``.pith-publish.json``,
written first); the registry keeps, per tree and record, the state and
settings (base URL, signing key, layout, trusted keys) the record's files
were last written with, recorded after the files are in place. A run writes
only the records that are new, changed (an event added, a signature
re-issued), published under other settings, or missing a file; so a killed
run resumes where it stopped, a base-URL change reaches every bundle even
across kills, and a run with nothing to do reads no record. Every file is
replaced atomically (a reader sees the old file or the new, never half of
one), and temporary files a killed run left behind are removed. One run at
a time per tree (a lock file). Whoever else can write OUTDIR cannot send the
run's writes elsewhere: a link at a directory below it, or at the lock file,
is refused; a link or FIFO in place of a file is replaced, never read.
Directories are made 0755 and files 0644, whatever the umask.

A record the registry holds but that no longer passes (issued by an older
release under a looser grammar) is refused, reported and skipped; the other
records are published.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Any

import orjson

from issuer import _pages, cjson
from issuer._fs import atomic_write, read_at_most
from issuer._pages import (
    KEYS_FILE,
    Listed,
    pages_in,
    paper_from_state,
    resolver_page,
    root_page,
    year_page,
    year_page_name,
)
from issuer._time import format_seconds
from issuer.bundles import build_bundle_bytes, require_supported
from issuer.errors import (
    Error,
    FormatError,
    NetworkError,
    UnreadableInputError,
    UsageError,
    VerificationError,
)
from issuer.fetch import (
    MAX_BUNDLE_BYTES,
    TIMEOUT_SECONDS,
    fetch,
    http_url,
    is_url,
    new_client,
    shown_url,
)
from issuer.keys import Signer, verifier_keys
from issuer.keys.keyset import KeySet
from issuer.merge import CheckedRecord, merge_explained
from issuer.record import CanonicalRecord
from issuer.registry import RecordRefusal, trusted_keys
from issuer.store import PublishedRecord, PublishRow, PublishSource, Store, StoredCheckpoint
from issuer.tlog import (
    CachedNodes,
    Checkpoint,
    CosignerKey,
    NodeReader,
    Note,
    Tile,
    TileReader,
    VerifierKey,
    WitnessKeys,
    ask_witness,
    consistency_proof,
    entry_bundles,
    inclusion_proofs,
    make_checkpoint,
    note_key,
    origin_of,
    tiles,
    write_tiles,
)

logger = logging.getLogger(__name__)

#: Bumped when the files of a record change shape: every record is written again.
LAYOUT_VERSION = 3  # 3: bundles carry inclusion proofs (issue 16)
SETTINGS_FILE = ".pith-publish.json"
CHECKPOINT_FILE = "checkpoint"  # c2sp.org/tlog-tiles: the log's current checkpoint
LOCK_FILE = ".pith-publish.lock"
#: Per witness URL: the origin and size it cosigned last, and the key it answered with.
WITNESSES_FILE = ".pith-witnesses.json"
#: Records whose files are recorded as published in one registry transaction.
BATCH = 1000
_RECORD_FILES = frozenset({"bundle.json", "index.html", "state.json"})
_WELL_KNOWN_FILES = frozenset({"bundle.json"})
# What issuer._fs.atomic_write names its temporary files: .NAME.PID.tmp
_TMP_RE = re.compile(r"\..+\.[0-9]+\.tmp")


class PublishError(Error):
    """The static tree cannot be written (disk full, permissions, another run holds it)."""


@dataclass
class PublishSummary:
    """What a run wrote, left alone and refused."""

    records: int = 0
    written: int = 0
    unchanged: int = 0
    files: int = 0
    bytes: int = 0
    stale_removed: int = 0
    log_size: int = 0  # leaves in the published checkpoint
    log_files: int = 0  # tiles, entry bundles and the checkpoint written
    refusals: list[RecordRefusal] = field(default_factory=list)
    cosigned_by: list[str] = field(default_factory=list)  # witness URLs that cosigned
    witness_failures: list[tuple[str, str]] = field(default_factory=list)  # (witness URL, why)

    @property
    def refused(self) -> int:
        """Records the registry holds that no longer pass, so were not published."""
        return len(self.refusals)

    @property
    def exit_code(self) -> int:
        """0 when every record is published, 1 when any was refused."""
        return 1 if self.refusals else 0

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` summary."""
        return {
            "records": self.records,
            "written": self.written,
            "unchanged": self.unchanged,
            "refused": self.refused,
            "refusals": [r.to_dict() for r in self.refusals],
            "files_written": self.files,
            "bytes_written": self.bytes,
            "stale_tmp_removed": self.stale_removed,
            "log_size": self.log_size,
            "log_files_written": self.log_files,
            "witnesses_cosigned": len(self.cosigned_by),
            "witness_warnings": len(self.witness_failures),
            "witnesses": [{"url": u, "cosigned": True, "why": None} for u in self.cosigned_by]
            + [{"url": u, "cosigned": False, "why": why} for u, why in self.witness_failures],
        }


def record_dir(outdir: Path, code: str) -> Path:
    """``OUTDIR/pith/CODE``."""
    return outdir / "pith" / code


def publish(
    store: Store,
    outdir: Path,
    signer: Signer,
    *,
    base_url: str,
    now: datetime,
    force: bool = False,
    on_record: Callable[[PublishSummary], None] | None = None,
    on_refused: Callable[[RecordRefusal], None] | None = None,
    extra: KeySet | None = None,
    batch: int = BATCH,
    witnesses: Sequence[str] = (),
    witness_timeout: float = TIMEOUT_SECONDS,
    on_witness: Callable[[str, str], None] | None = None,
) -> PublishSummary:
    """Write (or bring up to date) the static tree of every record under ``outdir``.

    ``extra``: the operator's key set; its keys, rotations and revocations go
    into ``pith-signing-key.json`` beside every key the registry signed with.
    ``on_refused(refusal)`` is called for each record that no longer passes;
    it is skipped, counted in the summary, and the run goes on.
    ``batch``: records between two commits of what is published (a killed
    run writes at most this many again).

    Raises:
        PublishError: the tree cannot be written, or another run is writing it;
            files already replaced are complete, and the next run finishes the job.
    """
    base_url = base_url.rstrip("/")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _cannot_write(outdir, e) from e
    with _locked(outdir):
        store.add_key(signer.public_key)
        keys = trusted_keys(store, extra)
        settings = {"base_url": base_url, "key_id": signer.key_id, "layout_version": LAYOUT_VERSION}
        # Everything a record's files depend on besides its own rows.
        settings_sha256 = cjson.sha256_hex({**settings, "keys": keys.to_document()})
        tree_id = _open_tree(store, outdir, settings)
        run = _Run(store, outdir, signer, keys, base_url, now, settings_sha256, tree_id)
        summary = run.summary
        run.summary.stale_removed += _sweep(outdir)
        # The log first: a checkpoint of every leaf, and its tiles, so that each bundle
        # written below carries proofs in it; the checkpoint file itself is written last.
        checkpoint = run.write_log(origin_of(base_url), rewrite=force)
        if witnesses:
            checkpoint = run.witness(checkpoint, witnesses, witness_timeout, on_witness)
        after = 0
        while rows := store.publish_rows(tree_id, after, batch):
            todo: list[PublishRow] = []
            for row in rows:
                code = row.number.code
                there = _complete(run.record_dir(code), _RECORD_FILES, run)
                there &= _complete(run.well_known_dir(code), _WELL_KNOWN_FILES, run)
                current = row.state_sha256 is not None and row.settings_sha256 == settings_sha256
                if force or not there or not current:
                    todo.append(row)
            # A published row always tells the truth about the files: unmark before rewriting.
            store.unmark_published(tree_id, [r.row_id for r in todo if r.state_sha256])
            # What the records to write are built from, read for the batch at once.
            sources = store.publish_sources(todo) if todo else {}
            for row in rows:
                summary.records += 1
                if (source := sources.get(row.row_id)) is None:
                    summary.unchanged += 1
                elif (error := run.write_record(source)) is not None:
                    summary.refusals.append(RecordRefusal.of(str(row.number), error))
                    if on_refused is not None:
                        on_refused(summary.refusals[-1])
                if on_record is not None:
                    on_record(summary)
            run.flush()
            after = rows[-1].row_id
        # The registry's own keys and statements, not everything this verifier trusts.
        own = KeySet(store.keys_used())
        published = own.merged(extra) if extra is not None else own
        document = with_log_keys(published.to_document(), published, origin_of(base_url))
        run.write_if_changed(outdir / KEYS_FILE, cjson.dumps(document) + b"\n")
        _write_indexes(store, tree_id, outdir, run)
        os.sync()  # a finished run is on disk as a whole, tiles and bundles before the checkpoint
        run.write_log_file(outdir / CHECKPOINT_FILE, checkpoint.note)
        os.sync()
        store.mark_checkpoint_published(tree_id, checkpoint.id)
        summary.log_size = checkpoint.tree_size
    return summary


@dataclass
class _Run:
    """One publishing run: writes a record's files, and records them as published in batches."""

    store: Store
    outdir: Path
    signer: Signer
    keys: KeySet
    base_url: str
    now: datetime
    settings_sha256: str
    tree_id: str
    summary: PublishSummary = field(default_factory=PublishSummary)
    pending: list[PublishedRecord] = field(default_factory=list)
    touched_years: set[int] = field(default_factory=set)
    checkpoint: StoredCheckpoint | None = None
    nodes: NodeReader | None = None
    made_dirs: set[str] = field(default_factory=set)  # created (or found) in this run

    def __post_init__(self) -> None:
        # Paths as strings: four files a record, and pathlib's parsing costs more than a write.
        self.root = os.fspath(self.outdir)

    def record_dir(self, code: str) -> str:
        """``OUTDIR/pith/CODE``, as a string (:func:`record_dir`)."""
        return f"{self.root}/pith/{code}"

    def well_known_dir(self, code: str) -> str:
        """``OUTDIR/.well-known/pith/CODE``, as a string."""
        return f"{self.root}/.well-known/pith/{code}"

    def write_log(self, origin: str, *, rewrite: bool = False) -> StoredCheckpoint:
        """Sign a checkpoint of the whole log and write its new tiles; the checkpoint file waits.

        Only tiles new since the checkpoint this tree last published are
        written (none are rewritten), unless that checkpoint's file or one of
        its tiles is gone; ``rewrite`` (``--force``) computes every tile again
        and replaces each that differs. Bundles' proofs are read from the
        tiles: one missing would stop every run, one altered would be copied.
        """
        at = format_seconds(self.now)
        checkpoint = make_checkpoint(self.store, self.signer, origin, at)
        published = self.store.published_checkpoint(self.tree_id)
        previous = None if published is None else self.store.checkpoint(published)
        served = _read_bytes(self.outdir / CHECKPOINT_FILE)
        if previous is not None and (
            rewrite
            or _cosigned_copy(served, previous.note) is None
            or not _tiles_there(self.outdir, previous.tree_size)
        ):
            previous = None  # the tree is not what the registry recorded: write every tile
        kept = _cosigned_copy(served, checkpoint.note)
        if kept is not None:  # the same checkpoint again: keep the cosignatures it has
            checkpoint = replace(checkpoint, note=kept)
        write_tiles(
            self.store,
            previous,
            checkpoint,
            lambda path, data: self.write_log_file(self.outdir / path, data),
        )
        self.checkpoint = checkpoint
        self.nodes = CachedNodes(TileReader(checkpoint.tree_size, self._tile))
        return checkpoint

    def witness(
        self,
        checkpoint: StoredCheckpoint,
        urls: Sequence[str],
        timeout: float,
        on_witness: Callable[[str, str], None] | None,
    ) -> StoredCheckpoint:
        """Ask each witness to cosign ``checkpoint``: it, with every cosignature returned."""
        note = Note.parse(checkpoint.note)
        cp = Checkpoint.from_text(note.text)
        sizes = _witness_sizes(self.outdir)
        keys = WitnessKeys(
            {url: CosignerKey.parse(v["key"]) for url, v in sizes.items() if "key" in v}
        )
        nodes = self.nodes

        def proof(old: int) -> list[bytes]:
            if old in {0, cp.size} or nodes is None:
                return []
            return consistency_proof(nodes, old, cp.size)

        client = new_client(timeout)
        try:
            for url in dict.fromkeys(urls):  # each witness once
                known = sizes.get(shown_url(url), {})  # the file is published: no password
                old = known.get("size", 0) if known.get("origin") == cp.origin else 0
                try:
                    lines = ask_witness(
                        client, url, note, checkpoint=cp, old=old, proof=proof, timeout=timeout
                    )
                    note = keys.add(shown_url(url), note, lines)
                except NetworkError as e:
                    self.summary.witness_failures.append((shown_url(url), e.message))
                    if on_witness is not None:
                        on_witness(shown_url(url), e.message)
                    continue
                key = str(keys.held[shown_url(url)])
                sizes[shown_url(url)] = {"origin": cp.origin, "size": cp.size, "key": key}
                self.summary.cosigned_by.append(shown_url(url))
        finally:
            client.close()
        document = {"version": 1, "witnesses": sizes}
        self.write_log_file(self.outdir / WITNESSES_FILE, cjson.dumps(document) + b"\n")
        self.checkpoint = replace(checkpoint, note=note.to_bytes())
        return self.checkpoint

    def _tile(self, tile: Tile) -> bytes:
        try:
            return (self.outdir / tile.path).read_bytes()
        except OSError as e:
            raise _cannot_write(self.outdir / tile.path, e) from e

    def proofs(self, leaves: list[tuple[int, bytes]]) -> list[dict[str, Any]]:
        """The inclusion proofs of a record's leaves in the checkpoint of this run."""
        if self.checkpoint is None or self.nodes is None:
            return []
        return inclusion_proofs(leaves, self.checkpoint, self.nodes)

    def write_record(
        self, source: PublishSource | FormatError
    ) -> FormatError | VerificationError | None:
        """Build, sign and write one record's files; the error if the record is refused."""
        if isinstance(source, FormatError):  # the store could not read it as a record
            return source
        issued, events, row_id = source.issued, source.events, source.row_id
        pith_number = str(issued.number)
        try:
            aliases = issued.aliases  # recomputed on every access: once here
            # The registry's events come from cjson.loads: not walked again. The store has
            # parsed the record and derived its number already; the merge compares the
            # record_created record with it instead of parsing and deriving it again (it
            # still verifies the receipt and every signature).
            state = merge_explained(
                pith_number,
                events,
                aliases,
                self.keys,
                parsed=True,
                checked=_checked(issued.record, pith_number),
            )[0]
            require_supported(pith_number, state)
            built = build_bundle_bytes(
                issued.record,
                aliases,
                events,
                self.keys,
                self.signer,
                built_at=self.now,
                base_url=self.base_url,
                timestamp_proofs=self.proofs(source.leaves),
                state=state,
            )
        except (FormatError, VerificationError) as e:
            return e
        paper = paper_from_state(state, issued.title)
        code = issued.number.code
        where = self.record_dir(code)
        data = built.data + b"\n"
        self.write(f"{where}/bundle.json", data)
        self.write(f"{self.well_known_dir(code)}/bundle.json", data)
        self.write(f"{where}/index.html", resolver_page(built.bundle, paper).encode())
        self.write(f"{where}/state.json", built.state_data + b"\n")
        self.summary.written += 1
        self.touched_years.add(issued.number.year)
        self.pending.append(
            PublishedRecord(
                row_id,
                state["state_sha256"],
                self.base_url,
                self.settings_sha256,
                paper.title,
                events_mark=source.events_mark,
            )
        )
        return None

    def flush(self) -> None:
        """Record the batch as published, once its files are on disk."""
        if self.pending:
            os.sync()  # the rows below must never claim files a power cut lost
            self.store.mark_published(self.tree_id, self.pending)
            self.pending = []

    def tree_dir(self, directory: str, *, make: bool = True) -> bool:
        """Whether ``directory`` (under OUTDIR) is a real directory; made (0755) if missing.

        Each directory is checked, or made, once per run: three of a record's
        four files share one. OUTDIR itself may be a link (the operator named
        it); a link below it would send the run's writes elsewhere.

        Raises:
            PublishError: ``directory`` or one between it and OUTDIR is a
                symbolic link or not a directory, or cannot be made.
        """
        if directory in self.made_dirs or directory == self.root:
            return True
        if not self.tree_dir(os.path.dirname(directory), make=make):
            return False
        try:
            mode = os.lstat(directory).st_mode
        except FileNotFoundError:
            if not make:
                return False
            try:
                Path(directory).mkdir(0o755)
                # Exact, as the files are: the umask may have narrowed or widened it.
                os.chmod(directory, 0o755)  # noqa: S103 - a served tree, read by the web server
            except OSError as e:
                raise _cannot_write(Path(directory), e) from e
            mode = stat.S_IFDIR
        except OSError as e:
            raise _cannot_write(Path(directory), e) from e
        if not stat.S_ISDIR(mode):
            raise _not_in_tree(directory, mode)
        self.made_dirs.add(directory)
        return True

    def write(self, path: str | Path, data: bytes) -> None:
        self.tree_dir(os.path.dirname(path))
        try:
            atomic_write(path, data, durable=False, parent_exists=True)
        except OSError as e:
            raise _cannot_write(Path(path), e) from e
        self.summary.files += 1
        self.summary.bytes += len(data)

    def write_log_file(self, path: Path, data: bytes) -> None:
        """Write a tile, entry bundle or the checkpoint (counted apart from the records' files)."""
        self.tree_dir(os.path.dirname(path))
        if _read_bytes(path) != data:
            try:
                atomic_write(path, data, durable=False, parent_exists=True)
            except OSError as e:
                raise _cannot_write(path, e) from e
            self.summary.log_files += 1

    def write_if_changed(self, path: Path, data: bytes) -> None:
        self.tree_dir(os.path.dirname(path))
        if _read_bytes(path) != data:
            self.write(path, data)


def _tiles_there(outdir: Path, size: int) -> bool:
    """Whether every tile and entry bundle of the log at ``size`` is a file in the tree."""
    root = os.fspath(outdir)
    paths = [t.path for t in tiles(size)] + [b.path for b in entry_bundles(size)]
    for path in paths:
        try:
            if not stat.S_ISREG(os.lstat(f"{root}/{path}").st_mode):
                return False
        except OSError:
            return False
    return True


def _cosigned_copy(served: bytes | None, stored: bytes) -> bytes | None:
    """``served`` if it is the ``stored`` checkpoint with every one of its signatures, else None.

    Other signatures (witness cosignatures) may have been added to what is published.
    """
    if served is None:
        return None
    if served == stored:
        return served
    try:
        have, want = Note.parse(served), Note.parse(stored)
    except FormatError:
        return None
    if have.text != want.text or not set(want.signatures) <= set(have.signatures):
        return None
    return served


def _witness_sizes(outdir: Path) -> dict[str, dict[str, Any]]:
    """The entries of ``WITNESSES_FILE``; ``key`` only where one is recorded and well-formed."""
    doc = _read_json(outdir / WITNESSES_FILE)
    found = doc.get("witnesses") if isinstance(doc, dict) else None
    if not isinstance(found, dict):
        return {}
    return {
        url: {"origin": v["origin"], "size": v["size"]} | _witness_key(v.get("key"))
        for url, v in found.items()
        if isinstance(v, dict)
        and isinstance(v.get("origin"), str)
        and isinstance(v.get("size"), int)
        and v["size"] >= 0
        and _no_password(url)  # an older run kept the URL as given: it is dropped
    }


def _witness_key(key: object) -> dict[str, str]:
    """``{"key": key}`` if it is a cosigner key; ``{}`` if absent (an earlier release) or not."""
    if not isinstance(key, str):
        return {}
    try:
        CosignerKey.parse(key)
    except FormatError:
        return {}
    return {"key": key}


def _no_password(url: str) -> bool:
    try:
        return shown_url(url) == url
    except ValueError:
        return False


def _not_in_tree(path: str, mode: int) -> PublishError:
    """A directory of the tree (or its lock file) that is a link, or not what it should be."""
    what = "a symbolic link" if stat.S_ISLNK(mode) else "not a directory"
    return PublishError(
        f"cannot write {path}: {what}",
        hint="pith publish writes only inside OUTDIR, never through a link; "
        "remove it and run pith publish again",
    )


def _cannot_write(path: Path, e: OSError) -> PublishError:
    return PublishError(
        f"cannot write {path}: {e.strerror or e}",
        hint="every file already written is whole; fix the cause and run pith publish again",
    )


@contextlib.contextmanager
def _locked(outdir: Path) -> Iterator[None]:
    """Hold the tree's lock file for the run: a second run at once is refused, not interleaved."""
    try:
        # O_NOFOLLOW: a link planted in its place would make the run create its target.
        fd = os.open(
            outdir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644
        )
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _not_in_tree(os.fspath(outdir / LOCK_FILE), stat.S_IFLNK) from e
        raise _cannot_write(outdir / LOCK_FILE, e) from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise PublishError(
                f"another pith publish is writing {outdir}",
                hint="wait for it to finish, then run pith publish again",
            ) from e
        yield
    finally:
        os.close(fd)  # releases the lock


def _open_tree(store: Store, outdir: Path, settings: dict[str, Any]) -> str:
    """The tree's id (made on first publish), with the settings of this run written first."""
    previous = _read_json(outdir / SETTINGS_FILE)
    tree_id = previous.get("tree_id") if isinstance(previous, dict) else None
    if not isinstance(tree_id, str) or not re.fullmatch(r"[0-9a-f]{32}", tree_id):
        tree_id = secrets.token_hex(16)
    store.publish_tree(tree_id, str(outdir.resolve()))
    try:
        atomic_write(outdir / SETTINGS_FILE, cjson.dumps({**settings, "tree_id": tree_id}) + b"\n")
    except OSError as e:
        raise _cannot_write(outdir / SETTINGS_FILE, e) from e
    return tree_id


def _checked(record: CanonicalRecord, pith_number: str) -> CheckedRecord:
    """What the store established of a record it returned: its bytes parse as it, and derive it.

    No receipt is listed: the merge verifies the ``record_created`` receipt itself.
    """
    return CheckedRecord(record.canonical_json, record, pith_number, ())


def _complete(directory: str, names: frozenset[str], run: _Run) -> bool:
    """Whether ``directory`` holds every one of ``names``; removes stale temporary files there.

    Only one run writes a tree at a time (the lock), so any temporary file is
    left over from a run that was killed.
    """
    if not run.tree_dir(directory, make=False):  # a link there is refused, not listed
        return False
    try:
        entries = os.listdir(directory)
    except OSError:
        return False
    complete = names.issubset(entries)
    if len(entries) != len(names) or not complete:
        for name in entries:
            if _TMP_RE.fullmatch(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{directory}/{name}")
                run.summary.stale_removed += 1
    return complete


def _sweep(outdir: Path) -> int:
    """Remove stale temporary files outside the record directories (top level, index pages)."""
    removed = 0
    years = outdir / "years"
    dirs = [outdir]
    if _real_dir(years):  # never through a link: its files are not the tree's
        dirs += [p for p in years.iterdir() if _real_dir(p)]
    for directory in dirs:
        for name in os.listdir(directory):
            if _TMP_RE.fullmatch(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(directory / name)
                removed += 1
    return removed


def _write_indexes(store: Store, tree_id: str, outdir: Path, run: _Run) -> None:
    """The front page, and the pages of every year that changed or lost a page."""
    years = store.published_years(tree_id)
    run.write_if_changed(outdir / "index.html", root_page(years).encode())
    stale = {
        year
        for year, count in years.items()
        if year in run.touched_years
        or not all(
            (outdir / "years" / str(year) / year_page_name(n)).is_file()
            for n in range(1, pages_in(count) + 1)
        )
    }
    if not stale:
        return
    for year, listed in groupby(store.published_listing(tree_id), key=lambda r: r.number.year):
        if year not in stale:
            continue
        pages = pages_in(years[year])
        batch: list[Listed] = []
        page = 1
        for r in listed:
            batch.append(
                Listed(str(r.number), r.number.code, f"{r.source_id}v{r.version}", r.title)
            )
            if len(batch) == _pages.PAGE_SIZE:
                _write_year_page(outdir, year, batch, page=page, pages=pages, run=run)
                batch, page = [], page + 1
        if batch or page == 1:
            _write_year_page(outdir, year, batch, page=page, pages=pages, run=run)


def _write_year_page(
    outdir: Path, year: int, listed: list[Listed], *, page: int, pages: int, run: _Run
) -> None:
    path = outdir / "years" / str(year) / year_page_name(page)
    run.write_if_changed(path, year_page(year, page, pages, listed).encode())


def with_log_keys(document: dict[str, Any], keys: KeySet, origin: str) -> dict[str, Any]:
    """The key document with ``log_keys``: each key as the log's note verifier key.

    ``NAME+KEYID+BASE64`` (C2SP signed-note), named by the log's origin, for
    witnesses and tiles clients; key readers ignore the field.

    Raises:
        UsageError: an origin that cannot name a note key.
    """
    try:
        return {**document, "log_keys": [str(note_key(origin, k.raw)) for k in keys]}
    except ValueError as e:
        raise UsageError(str(e), hint="the origin is HOST/PATH, e.g. pith.science/log") from e


def log_origin(store: Store, origin: str | None = None) -> str:
    """The log's origin: ``origin`` if given, else host and path of the published base URL.

    Raises:
        UsageError: no origin given and the registry's trees do not name exactly one.
    """
    if origin is not None:
        try:
            return note_key(origin, b"\x00" * 32, check=False).name
        except ValueError as e:
            raise UsageError(str(e)) from e
    urls = {published_base_url(Path(outdir)) for _, outdir in store.publish_trees()} - {None}
    if len(urls) != 1:
        raise UsageError(
            "cannot tell the log's origin: "
            + ("no tree is published" if not urls else f"trees use {len(urls)} base URLs"),
            hint="give it: --origin HOST/PATH (the host and path of the publish --base-url)",
        )
    return origin_of(str(urls.pop()))


def published_base_url(outdir: Path) -> str | None:
    """The base URL a tree was last published for, if ``outdir`` is a published tree."""
    settings = _read_json(outdir / SETTINGS_FILE)
    url = settings.get("base_url") if isinstance(settings, dict) else None
    return url if isinstance(url, str) else None


def _real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _read_bytes(path: Path) -> bytes | None:
    """The file at ``path``; None if absent, unreadable, a link or not a regular file.

    Whatever is not a file this run wrote is replaced, never read: a FIFO
    planted there would block the run, a link would be read for the file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        try:
            return f.read() if stat.S_ISREG(os.fstat(fd).st_mode) else None
        except OSError:
            return None


def _read_json(path: Path) -> Any:
    data = _read_bytes(path)
    try:
        return None if data is None else orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


_Fetch = Callable[[str], bytes | None]  # issuer.tlog's audit reads a tree through one

_ABSENT = frozenset({404, 410})  # what a server answers for a path it does not have


def open_tree(where: str) -> tuple[_Fetch, list[str] | None]:
    """Read a published tree: ``fetch(path)``, and its record codes if listable.

    ``where`` is a base URL (fetched over HTTP; not listable) or a directory.
    ``fetch(path)`` returns None when the path is absent (HTTP 404 or 410; no
    such file), and raises when it is there but cannot be read, so that an
    audit never reports a failing server or file as a missing one. It reads
    at most :data:`~issuer.fetch.MAX_BUNDLE_BYTES` a path, within the fetch
    deadline over HTTP. The checkpoint is read once: a caller choosing keys
    by it audits that same checkpoint.

    Raises:
        UsageError: a directory that does not exist, or a malformed URL.
        NetworkError: (from ``fetch``) any other HTTP answer or network failure.
        UnreadableInputError: (from ``fetch``) a file that cannot be read, is
            not a regular file, or is over the size limit.
    """
    if is_url(where):
        http_url(where)  # a malformed URL is the caller's mistake, not an unreadable tree
        client = new_client()
        base = where.rstrip("/")

        def fetch_url(path: str) -> bytes | None:
            try:
                return fetch(f"{base}/{path}", client=client).data
            except NetworkError as e:
                if e.status not in _ABSENT:
                    raise
                logger.debug("%s/%s: %s", shown_url(base), path, e.message)
                return None

        return _checkpoint_once(fetch_url), None
    root = Path(where)
    if not root.is_dir():
        raise UsageError(f"not a published tree: {where}", hint="give its directory or base URL")

    def fetch_file(path: str) -> bytes | None:
        return _read_tree_file(root / path)

    listed = sorted(p.name for p in (root / "pith").iterdir()) if (root / "pith").is_dir() else []
    return _checkpoint_once(fetch_file), listed


def served_checkpoint(fetch: _Fetch) -> bytes | None:
    """The tree's checkpoint, or None when it is absent or cannot be read (an audit says which)."""
    try:
        return fetch(CHECKPOINT_FILE)
    except Error:
        return None


def _checkpoint_once(fetch: _Fetch) -> _Fetch:
    """``fetch``, reading the checkpoint at most once: later reads get what the first got."""
    first: list[bytes | Error | None] = []

    def once(path: str) -> bytes | None:
        if path != CHECKPOINT_FILE:
            return fetch(path)
        if not first:
            try:
                first.append(fetch(path))
            except Error as e:
                first.append(e)
        got = first[0]
        if isinstance(got, Error):
            raise got
        return got

    return once


def _read_tree_file(path: Path) -> bytes | None:
    """A file of a published tree: None if there is none; at most the largest document.

    Raises:
        UnreadableInputError: it is there but cannot be read, is not a regular
            file (a FIFO would block the reader), or is over the size limit.
    """
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat refuses it below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None  # as a server answers 404: no such file, or a file where a directory is
    except OSError as e:
        raise UnreadableInputError(f"{path}: {e.strerror or e}") from e
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = "a directory, not a file" if stat.S_ISDIR(mode) else "not a regular file"
        raise UnreadableInputError(f"{path}: {what}")
    with os.fdopen(fd, "rb") as f:
        try:
            return read_at_most(f, MAX_BUNDLE_BYTES)
        except OSError as e:
            raise UnreadableInputError(f"{path}: {e.strerror or e}") from e
        except FormatError as e:  # over the limit
            raise UnreadableInputError(f"{path}: {e.message}") from e


def log_verifier_keys(
    given: Sequence[str], key_paths: Sequence[Path], checkpoint: bytes | None
) -> list[VerifierKey]:
    """The log keys an auditor trusts: ``given`` vkeys, else its trusted keys under the origin.

    Raises:
        UsageError: a malformed vkey.
    """
    try:
        if given:
            return [VerifierKey.parse(v) for v in given]
        origin = Checkpoint.from_text(Note.parse(checkpoint or b"").text).origin
    except FormatError as e:
        if given:
            raise UsageError(f"--log-key: {e.message}") from e
        return []  # the audit reports the unreadable checkpoint
    try:
        return [note_key(origin, k.raw) for k in verifier_keys(list(key_paths))]
    except ValueError:
        return []
