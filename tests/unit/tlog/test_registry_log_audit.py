"""``audit``: a published log checked from its tiles, entries and bundles (issue 16 §6)."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from issuer import cjson
from issuer.errors import NetworkError, UnreadableInputError
from issuer.pipeline import Issuer
from issuer.publish import CHECKPOINT_FILE, open_tree, publish
from issuer.store import open_store
from issuer.tlog import (
    ED25519,
    Appender,
    AuditReport,
    EntryBundle,
    NoteSigner,
    Tile,
    audit,
    load_seen,
    note_key,
    save_seen,
    sign_note,
    verify_consistency,
)
from issuer.tlog._checkpoint import Checkpoint
from issuer.tlog._note import Note
from tests import factory

BASE = "https://registry.example/pith"
KEY = factory.signer()
LOG_KEY = note_key("registry.example/pith", KEY.public_key.raw)


def _tree(tmp_path: Path, name: str, numbers: range, *, then: range | None = None) -> Path:
    """A registry issued from ``numbers`` and published to ``tmp_path/name`` (then grown)."""
    out = tmp_path / name
    with open_store(tmp_path / f"{name}.sqlite3") as store:
        for k, batch in enumerate([numbers, *([then] if then else [])]):
            data = factory.snapshot(tmp_path / f"{name}{k}.json", batch)
            Issuer(store, KEY, lambda: factory.T0, workers=1).run([str(data)])
            publish(store, out, KEY, base_url=BASE, now=factory.T0 + timedelta(days=k + 1))
    return out


def _audit(out: Path, seen: bytes | None = None) -> tuple[list[str], AuditReport]:
    fetch, listed = open_tree(str(out))
    report = audit(fetch, [LOG_KEY], seen=seen, listed=listed)
    return [step for step, _ in report.problems], report


def test_a_published_tree_audits_clean_and_stays_consistent_as_it_grows(
    tmp_path: Path, registry_url: str
) -> None:
    out = tmp_path / "site"
    with open_store(registry_url) as store:
        data = factory.snapshot(tmp_path / "a.json", range(1, 140))
        Issuer(store, KEY, lambda: factory.T0, workers=1).run([str(data)])
        publish(store, out, KEY, base_url=BASE, now=factory.T0)
        problems, report = _audit(out)
        assert problems == [] and report.ok
        first = (out / CHECKPOINT_FILE).read_bytes()
        data = factory.snapshot(tmp_path / "b.json", range(140, 300))
        Issuer(store, KEY, lambda: factory.T0, workers=1).run([str(data)])
        publish(store, out, KEY, base_url=BASE, now=factory.T0 + timedelta(days=1))
    problems, report = _audit(out, seen=first)
    assert problems == [] and report.split_view is None
    assert (report.tree_size, report.records, report.bundles_checked) == (598, 299, 299)


TAMPER: dict[str, tuple[Callable[[Path], object], str]] = {
    "a tile changed": (
        lambda out: (out / Tile(0, 0, 6).path).write_bytes(b"\x00" * 32 * 6),
        "tiles",
    ),
    "a dropped leaf": (
        lambda out: (out / EntryBundle(0, 6).path).write_bytes(
            (out / EntryBundle(0, 6).path).read_bytes()[:-200]
        ),
        "tiles",
    ),
    "an entry bundle missing": (lambda out: (out / EntryBundle(0, 6).path).unlink(), "tiles"),
    "the checkpoint re-signed by another key": (
        lambda out: (out / CHECKPOINT_FILE).write_bytes(b"x\n1\n" + b"A" * 43 + b"=\n\n- x y\n"),
        "checkpoint",
    ),
    "a bundle unpublished": (
        lambda out: next((out / "pith").glob("*/bundle.json")).unlink(),
        "published",
    ),
}


@pytest.mark.parametrize("name", list(TAMPER), ids=list(TAMPER))
def test_tampering_is_detected_and_named(tmp_path: Path, name: str) -> None:
    out = _tree(tmp_path, "site", range(1, 4))
    tamper, step = TAMPER[name]
    tamper(out)
    problems, _ = _audit(out)
    assert step in problems, problems


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _a_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _a_loop(path: Path) -> None:
    path.unlink()
    path.symlink_to(path.name)  # a symbolic link to itself: ELOOP


def _oversized(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(cjson.MAX_DOCUMENT_BYTES + 1)  # sparse: nothing is written


@contextlib.contextmanager
def _unblocked_if_fifo(path: Path) -> Iterator[None]:
    """Within the block, a reader waiting to open the FIFO ``path`` is let go after 2 minutes.

    A reader that opened it without waiting for a writer (the audit) never needs this;
    one that waited fails the test rather than hang it.
    """
    done = threading.Event()
    rescued: list[bool] = []

    def rescue() -> None:
        if not done.wait(120):
            rescued.append(True)
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    rescuer = threading.Thread(target=rescue, daemon=True)
    if stat.S_ISFIFO(path.lstat().st_mode):
        rescuer.start()
    try:
        yield
    finally:
        done.set()
        if rescuer.is_alive():
            rescuer.join()
    assert not rescued, f"opening {path} waited for a writer"


# name: (the file spoilt, how, the problem the audit reports)
UNREADABLE: dict[str, tuple[str, Callable[[Path], None], tuple[str, str]]] = {
    "the checkpoint is a FIFO": (
        CHECKPOINT_FILE,
        _fifo,
        ("checkpoint", "checkpoint could not be read: {file}: not a regular file"),
    ),
    "a tile is a directory": (
        Tile(0, 0, 6).path,
        _a_directory,
        ("tiles", "tile/0/000.p/6 could not be read: {file}: a directory, not a file"),
    ),
    "an entry bundle is a link to itself": (
        EntryBundle(0, 6).path,
        _a_loop,
        (
            "tiles",
            "tile/entries/000.p/6 could not be read: {file}: Too many levels of symbolic links",
        ),
    ),
    "a bundle is over the size limit": (
        "pith/{code}/bundle.json",
        _oversized,
        (
            "published",
            "pith/{code}/bundle.json could not be read: {file}: more than 16,777,216 bytes, "
            "the most a document may hold",
        ),
    ),
}


@pytest.mark.parametrize("name", list(UNREADABLE), ids=list(UNREADABLE))
def test_a_file_of_the_tree_that_cannot_be_read_is_named_so_not_missing(
    tmp_path: Path, name: str
) -> None:
    out = _tree(tmp_path, "site", range(1, 4))
    code = sorted(p.name for p in (out / "pith").iterdir())[0]
    where, spoil, (step, message) = UNREADABLE[name]
    file = out / where.format(code=code)
    spoil(file)
    with _unblocked_if_fifo(file):
        _, report = _audit(out)
    assert not report.ok
    assert (step, message.format(code=code, file=file)) in report.problems, report.problems
    absent = ("is missing", "the tree has no checkpoint", ": no bundle")
    assert not any(m.endswith(absent) for _, m in report.problems), report.problems


def test_a_file_under_a_file_of_the_tree_is_missing(tmp_path: Path) -> None:
    """``tile/entries/000.p`` a file: no ``000.p/6`` in it (ENOTDIR), as a server says 404."""
    out = _tree(tmp_path, "site", range(1, 4))
    bundle = out / EntryBundle(0, 6).path
    shutil.rmtree(bundle.parent)
    bundle.parent.write_bytes(b"")
    _, report = _audit(out)
    assert report.problems == [("tiles", "tile/entries/000.p/6 is missing")]


def test_a_tree_is_read_with_one_checkpoint(tmp_path: Path) -> None:
    """Keys chosen by the checkpoint read first are those of the checkpoint audited."""
    out = _tree(tmp_path, "site", range(1, 4))
    checkpoint = out / CHECKPOINT_FILE
    fetch, _ = open_tree(str(out))
    first = fetch(CHECKPOINT_FILE)
    checkpoint.write_bytes(b"another checkpoint\n")
    assert first is not None and fetch(CHECKPOINT_FILE) == first
    _a_directory(checkpoint)
    unreadable, _ = open_tree(str(out))
    with pytest.raises(UnreadableInputError, match="a directory, not a file"):
        unreadable(CHECKPOINT_FILE)
    checkpoint.rmdir()
    checkpoint.write_bytes(first)
    with pytest.raises(UnreadableInputError, match="a directory, not a file"):
        unreadable(CHECKPOINT_FILE)


class _Failing:
    """A tree read over a network that fails for the paths in ``failing``."""

    def __init__(self, served: dict[str, bytes], failing: set[str]) -> None:
        self.served, self.failing = served, failing

    def __call__(self, path: str) -> bytes | None:
        if path in self.failing:
            raise NetworkError(f"https://registry.example/{path}: HTTP 503")
        return self.served.get(path)


def _served(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in out.rglob("*")
        if p.is_file() and (p.name == CHECKPOINT_FILE or "tile" in p.parts or "pith" in p.parts)
    }


# name: (the path that fails, the problem the audit reports, and whether it reads on)
FAILING: dict[str, tuple[str, tuple[str, str]]] = {
    "the checkpoint": (
        CHECKPOINT_FILE,
        (
            "checkpoint",
            "checkpoint could not be read: https://registry.example/checkpoint: HTTP 503",
        ),
    ),
    "a tile": (
        Tile(0, 0, 6).path,
        (
            "tiles",
            "tile/0/000.p/6 could not be read: https://registry.example/tile/0/000.p/6: HTTP 503",
        ),
    ),
    "an entry bundle": (
        EntryBundle(0, 6).path,
        (
            "tiles",
            "tile/entries/000.p/6 could not be read: "
            "https://registry.example/tile/entries/000.p/6: HTTP 503",
        ),
    ),
    "a bundle": (
        "pith/{code}/bundle.json",
        (
            "published",
            "pith/{code}/bundle.json could not be read: "
            "https://registry.example/pith/{code}/bundle.json: HTTP 503",
        ),
    ),
}


@pytest.mark.parametrize("name", list(FAILING), ids=list(FAILING))
def test_a_path_that_fails_to_read_is_a_problem_of_its_step_not_an_absence(
    tmp_path: Path, name: str
) -> None:
    out = _tree(tmp_path, "site", range(1, 4))
    served = _served(out)
    code = sorted(p.name for p in (out / "pith").iterdir())[0]
    path, (step, message) = FAILING[name]
    report = audit(_Failing(served, {path.format(code=code)}), [LOG_KEY])
    assert report.to_dict()["ok"] is False
    assert report.problems[0] == (step, message.format(code=code)), report.problems
    # Absent, the same paths keep their messages.
    del served[path.format(code=code)]
    absent = audit(served.get, [LOG_KEY]).problems[0][1]
    assert "could not be read" not in absent
    assert absent.endswith(
        ("no checkpoint", "is missing", "is not the tile its entries give", ": no bundle")
    ), absent


def test_a_second_history_at_the_same_size_is_a_split_view(tmp_path: Path) -> None:
    honest = _tree(tmp_path, "honest", range(1, 4))
    seen = (honest / CHECKPOINT_FILE).read_bytes()
    other = _tree(tmp_path, "other", range(10, 13))  # same size, same key, same origin
    problems, report = _audit(other, seen=seen)
    assert problems == []
    split = report.split_view
    assert split is not None and "do not give the root" in split.why
    proof = split.to_dict()
    assert (proof["seen_checkpoint"].encode(), proof["served_checkpoint"].encode()) == (
        seen,
        (other / CHECKPOINT_FILE).read_bytes(),
    )
    # Portable: both are valid checkpoints by the log key, same size, different roots.
    a, b = (Checkpoint.from_text(Note.parse(n.encode()).text) for n in proof.values() if "\n" in n)
    assert a.size == b.size and a.root_hash != b.root_hash


def test_a_rollback_and_a_forked_larger_tree_are_split_views(tmp_path: Path) -> None:
    big = _tree(tmp_path, "big", range(1, 6))
    small = _tree(tmp_path, "small", range(1, 3))
    _, report = _audit(small, seen=(big / CHECKPOINT_FILE).read_bytes())
    assert report.split_view is not None and "went back" in report.split_view.why
    forked = _tree(tmp_path, "forked", range(1, 2), then=range(20, 25))
    _, report = _audit(forked, seen=(small / CHECKPOINT_FILE).read_bytes())
    split = report.split_view
    assert split is not None
    old = Checkpoint.from_text(Note.parse(split.seen).text)
    new = Checkpoint.from_text(Note.parse(split.served).text)
    assert old.size < new.size
    with pytest.raises(Exception, match="consistency"):
        verify_consistency(old.size, new.size, [], old.root_hash, new.root_hash)


def test_seen_checkpoints_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "home" / "seen-checkpoints.json"
    assert load_seen(path) == {}
    save_seen(path, "a.example", b"one\n")
    save_seen(path, "b.example", b"two\n")
    assert load_seen(path) == {"a.example": b"one\n", "b.example": b"two\n"}


def test_a_signed_log_with_a_malformed_leaf_is_reported_not_raised() -> None:
    """The log key signed a tree whose one leaf is no log entry: a problem, not a FormatError."""
    served: dict[str, bytes] = {}
    appender = Appender(lambda item, data: served.__setitem__(item.path, data))
    appender.append_entries([b'{"not":"a log entry"}'])
    for item, data in appender.partial_tiles():
        served[item.path] = data
    signer = NoteSigner(LOG_KEY.name, ED25519, KEY)
    root = base64.b64encode(appender.root()).decode()
    served["checkpoint"] = sign_note(f"{LOG_KEY.name}\n1\n{root}\n", [signer]).to_bytes()
    report = audit(served.get, [LOG_KEY])
    assert report.problems == [
        ("tiles", "leaf 0: not a log entry of a known kind (record, event)"),
        ("published", "1 leaves of the log are in no bundle"),
    ]
    assert report.to_dict()["ok"] is False


_ZERO_SEEN = textwrap.dedent(
    """
    import resource, sys
    sys.path.insert(0, {root!r})
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    from pathlib import Path
    from issuer.errors import StoreError
    from issuer.tlog import load_seen
    try:
        load_seen(Path({path!r}))
    except StoreError as e:
        print(e.message)
    """
)


def test_a_seen_checkpoints_file_without_end_is_refused_within_a_memory_limit(
    tmp_path: Path,
) -> None:
    """Under a 512 MiB address-space limit: read no further than the largest document."""
    path = tmp_path / "seen-checkpoints.json"
    path.symlink_to("/dev/zero")
    root = str(Path(__file__).resolve().parents[3])
    script = _ZERO_SEEN.format(root=root, limit=512 << 20, path=str(path))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"{path} is not a seen-checkpoints file"


def test_saving_a_seen_checkpoint_keeps_what_another_auditor_saved_meanwhile(
    tmp_path: Path,
) -> None:
    """Two auditors sharing a home: the one saving waits for the other's update, then keeps it."""
    path = tmp_path / "seen-checkpoints.json"
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the other auditor read the file (none yet) under it
        saving = threading.Thread(target=save_seen, args=(path, "b.example", b"two\n"))
        saving.start()
        saving.join(0.5)
        # ... and writes what it read with its own checkpoint added, still under the lock.
        path.write_bytes(cjson.dumps({"logs": {"a.example": "one\n"}, "version": 1}) + b"\n")
    finally:
        os.close(fd)
    saving.join()
    assert load_seen(path) == {"a.example": b"one\n", "b.example": b"two\n"}
