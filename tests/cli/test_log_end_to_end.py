"""Issue 16 "Done when": a published tree, cosigned by two witness processes, served on 127.0.0.1.

One world for the module: a registry issued and published with ``pith publish
--witness`` to two ``pith witness serve`` processes (real subprocesses on free
ports) and one witness that is down, the tree served by a real HTTP server.
``pith verify URL --require-log --witness … --witness-threshold 2`` and ``pith
log audit URL`` accept it; tampering with a tile, an entry or the checkpoint,
or serving a second history, is detected and named. Each test puts back what
it changed, so the tests run in any order.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from issuer import cjson
from issuer.fetch import MAX_BUNDLE_BYTES
from issuer.publish import CHECKPOINT_FILE, WITNESSES_FILE
from issuer.tlog import Checkpoint, EntryBundle, Note, Tile, VerifierKey, verify_cosignature
from tests import factory
from tests.cli._run import PASSPHRASE, http_server, pith

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def witness_process(home: Path, name: str, state: Path, log_key: str) -> Iterator[str]:
    """``pith witness serve`` as its own process on a free port of 127.0.0.1; its URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PITH_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "issuer", "--home", str(home), "witness", "serve",
         "--name", name, "--state", str(state), "--log", log_key, "--listen", "127.0.0.1:0"],
        env={**env, "PITH_KEY_PASSPHRASE": PASSPHRASE}, cwd=ROOT,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # the first line says where it listens
        assert " listening on http://127.0.0.1:" in line, line + proc.stderr.read()
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        if proc.stderr is not None:
            proc.stderr.close()


def closed_port_url() -> str:
    """The URL of a port of 127.0.0.1 nothing listens on (a witness that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def witness_key(home: Path, name: str, pem: Path) -> str:
    """Make a witness home whose key is a file key; its cosignature verifier key."""
    made = pith(home, "--home", str(home), "keys", "generate", name.replace("/", "-"),
                "--signer", f"file:{pem}")  # fmt: skip
    assert made.exit_code == 0, made.stderr
    vkey = pith(home, "--home", str(home), "witness", "vkey", "--name", name)
    assert vkey.exit_code == 0, vkey.stderr
    return str(vkey.stdout.strip())


@dataclass
class World:
    home: Path
    site: Path
    www: Path  # the directory served: a symlink to ``site`` (or to another tree)
    url: str
    keys: str
    witness_keys: list[str]
    witness_urls: list[str]

    def serve(self, tree: Path) -> None:
        """Serve ``tree`` at the same URL from now on."""
        self.www.unlink()
        self.www.symlink_to(tree)

    def codes(self) -> list[str]:
        return sorted(p.name for p in (self.site / "pith").iterdir())

    def verify(self, code: str, *extra: str) -> Any:
        witnesses = [a for k in self.witness_keys for a in ("--witness", k)]
        return pith(
            self.home, "verify", f"{self.url}/pith/{code}/bundle.json", "--keys", self.keys,
            "--require-log", *witnesses, "--witness-threshold", "2", *extra,
        )  # fmt: skip

    def audit(self) -> Any:
        return pith(self.home, "log", "audit", self.url, "--keys", self.keys)

    def publish(self, registry: Path, out: Path, *witnesses: str) -> dict[str, Any]:
        args = [a for w in witnesses for a in ("--witness", w)]
        made = pith(self.home, "publish", str(out), "--base-url", self.url, "--json",
                    "--registry", str(registry), "--witness-timeout", "20", *args)  # fmt: skip
        assert made.exit_code == 0, made.stderr
        summary: dict[str, Any] = json.loads(made.stdout)
        return {**summary, "stderr": made.stderr}


def _issue(home: Path, registry: Path, data: Path) -> None:
    issued = pith(home, "issue", str(data), "--registry", str(registry), "--workers", "1")
    assert issued.exit_code == 0, issued.stderr


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("e2e")
    home = tmp / "home"
    made = pith(home, "keys", "generate", "dev-1", "--signer", f"file:{tmp / 'k.p8'}")
    assert made.exit_code == 0, made.stderr
    registry = home / "registry.sqlite3"
    _issue(home, registry, factory.snapshot(tmp / "in.json", range(1, 4)))
    site, www = tmp / "site", tmp / "www"
    site.mkdir()
    www.symlink_to(site)
    names = ["witness.example/w1", "witness.example/w2"]
    vkeys = [witness_key(tmp / f"w{n}", name, tmp / f"w{n}.pem") for n, name in enumerate(names)]
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(http_server(www))
        origin = url.removeprefix("http://")
        exported = pith(home, "keys", "export", "--log-origin", origin)
        [log_key] = json.loads(exported.stdout)["log_keys"]
        witness_urls = [
            stack.enter_context(
                witness_process(tmp / f"w{n}", name, tmp / f"w{n}-state.json", log_key)
            )
            for n, name in enumerate(names)
        ]
        w = World(home, site, www, url, str(site / "pith-signing-key.json"), vkeys, witness_urls)
        down = closed_port_url()
        first = w.publish(registry, site, *witness_urls, down)
        assert (first["log_size"], first["witnesses_cosigned"]) == (6, 2)
        # The witness that is down is named, counted, and publishing went on.
        assert first["witness_warnings"] == 1
        assert f"warning: witness {down}: " in first["stderr"]
        # The log grows; the witnesses' sizes are forgotten: each answers 409 with the size it
        # cosigned, and the retry from that size, with a proof from the registry's log, passes.
        # The file is as an earlier release wrote it (no key), or with a key that is no key:
        # either is read, and each witness URL's key is recorded anew.
        _issue(home, registry, factory.snapshot(tmp / "more.json", range(4, 6)))
        forgotten = {"origin": origin, "size": 0}
        (site / WITNESSES_FILE).write_bytes(
            cjson.dumps(
                {
                    "version": 1,
                    "witnesses": {
                        witness_urls[0]: forgotten,
                        witness_urls[1]: {**forgotten, "key": "not a key"},
                    },
                }
            )
        )
        second = w.publish(registry, site, *witness_urls)
        assert (second["log_size"], second["witnesses_cosigned"]) == (10, 2), second["stderr"]
        assert second["witness_warnings"] == 0
        recorded = json.loads((site / WITNESSES_FILE).read_bytes())["witnesses"]
        assert {u: recorded[u]["key"] for u in witness_urls} == {
            u: "+".join(vkey.split("+")[:2]) for u, vkey in zip(witness_urls, vkeys, strict=True)
        }
        yield w


def test_done_when_verify_require_log_with_two_witnesses_and_audit_consistent(
    world: World,
) -> None:
    note = Note.parse((world.site / CHECKPOINT_FILE).read_bytes())
    assert Checkpoint.from_text(note.text).size == 10
    assert len(note.signatures) == 3  # the log's, and one cosignature per witness
    for code in world.codes():
        ok = world.verify(code, "--json")
        assert ok.exit_code == 0, ok.stderr
        assert ok.stderr.startswith("OK: ")
    audited = world.audit()
    assert audited.exit_code == 0, audited.stderr
    assert "consistent with the checkpoint seen last" in audited.stderr
    assert "at size 10, 5 records, 5 bundles checked" in audited.stderr


def test_publishing_again_without_witnesses_keeps_the_cosignatures(world: World) -> None:
    before = (world.site / CHECKPOINT_FILE).read_bytes()
    again = world.publish(world.home / "registry.sqlite3", world.site)
    assert (again["log_files_written"], again["witnesses"]) == (0, [])
    assert (world.site / CHECKPOINT_FILE).read_bytes() == before


def _flip_tile(site: Path) -> None:
    tile = site / Tile(0, 0, 10).path
    tile.write_bytes(bytes(32) + tile.read_bytes()[32:])


def _flip_entry(site: Path) -> None:
    bundle = site / EntryBundle(0, 10).path
    data = bundle.read_bytes()
    at = data.index(b'"canonical_sha256":"') + len(b'"canonical_sha256":"')
    flipped = b"0" if data[at : at + 1] != b"0" else b"1"
    bundle.write_bytes(data[:at] + flipped + data[at + 1 :])


def _flip_checkpoint(site: Path) -> None:
    path = site / CHECKPOINT_FILE
    lines = path.read_bytes().split(b"\n")
    lines[1] = b"11"  # the tree size the log signed, changed
    path.write_bytes(b"\n".join(lines))


# name: (tamper, the FAIL line audit prints)
TAMPER: dict[str, tuple[Callable[[Path], None], str]] = {
    "a tile": (_flip_tile, "tiles: tile/0/000.p/10 is not the tile its entries give"),
    "an entry": (
        _flip_entry,
        "entries: tile/entries/000.p/10: leaf 0 is not the leaf the hash tiles hold",
    ),
    "the checkpoint": (_flip_checkpoint, "checkpoint: checkpoint: "),
}


@pytest.mark.parametrize("name", list(TAMPER), ids=list(TAMPER))
def test_tampering_is_detected_and_named_by_audit(world: World, name: str, tmp_path: Path) -> None:
    tamper, named = TAMPER[name]
    saved = tmp_path / "saved"
    shutil.copytree(world.site, saved, symlinks=True)
    try:
        tamper(world.site)
        audited = world.audit()
        assert audited.exit_code == 1
        assert f"FAIL: {world.url}: {named}" in audited.stderr, audited.stderr
        # The bundles carry their own proofs and cosigned checkpoint: still valid.
        assert world.verify(world.codes()[0]).exit_code == 0
    finally:
        shutil.rmtree(world.site)
        shutil.copytree(saved, world.site, symlinks=True)
    assert world.audit().exit_code == 0


def test_a_second_history_is_refused_by_the_witnesses_named_by_audit_and_verify(
    world: World, tmp_path: Path
) -> None:
    assert world.audit().exit_code == 0  # this auditor has seen the honest checkpoint
    # Another registry under the same key and base URL: five other records, size 10 again.
    other = tmp_path / "other.sqlite3"
    _issue(world.home, other, factory.snapshot(tmp_path / "o.json", range(11, 16)))
    fork = tmp_path / "fork"
    forked = world.publish(other, fork, *world.witness_urls)
    assert (forked["log_size"], forked["witnesses_cosigned"]) == (10, 0)
    assert forked["witness_warnings"] == 2
    for url in world.witness_urls:
        assert f"warning: witness {url}: refused: HTTP 409: " in forked["stderr"]
    assert "(a split view)" in forked["stderr"]
    world.serve(fork)
    try:
        split = world.audit()
        assert split.exit_code == 1
        assert f"FAIL: {world.url}: split_view: " in split.stderr
        proof = json.loads(split.stdout)
        assert proof["served_checkpoint"] == (fork / CHECKPOINT_FILE).read_text()
        code = sorted(p.name for p in (fork / "pith").iterdir())[0]
        refused = world.verify(code, "--json")
        assert refused.exit_code == 1
        assert json.loads(refused.stdout)["reason"] == "witness_threshold_not_met"
    finally:
        world.serve(world.site)
    assert world.audit().exit_code == 0


class _BadWitness(http.server.BaseHTTPRequestHandler):
    """Answers every add-checkpoint with the body of its server's ``answer``."""

    server: Any

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body: bytes = self.server.answer
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


# name: (the witness's 200 answer, the warning it gets)
BAD_ANSWERS = {
    "an answer over the size limit": (b"x" * 100_000, "answer over the 16384-byte limit"),
    "not a signature line": (b"hello\n", "not a cosignature"),
    "a log signature, not a cosignature": (
        "\u2014 w.example " + "A" * 92 + "\n",
        "not a cosignature (type 0x04) line",
    ),
    # Well-shaped lines, but the checkpoint (a log signature and two cosignatures) with them
    # would have more signatures than a note may: no reader would take it.
    "more cosignatures than a note may carry": (
        "".join(f"\u2014 w{n}.example " + "A" * 102 + "==\n" for n in range(98)),
        "98 cosignature lines would make the checkpoint unreadable: a signed note has at most",
    ),
}


@pytest.mark.parametrize("name", list(BAD_ANSWERS), ids=list(BAD_ANSWERS))
def test_a_witness_answering_nonsense_is_a_warning_and_adds_nothing(
    world: World, name: str
) -> None:
    answer, warning = BAD_ANSWERS[name]
    before = (world.site / CHECKPOINT_FILE).read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BadWitness)
    server.answer = answer.encode() if isinstance(answer, str) else answer  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        made = world.publish(world.home / "registry.sqlite3", world.site, url)
    finally:
        server.shutdown()
        server.server_close()
    assert (made["witnesses_cosigned"], made["witness_warnings"]) == (0, 1)
    assert f"warning: witness {url}: {warning}" in made["stderr"], made["stderr"]
    assert (world.site / CHECKPOINT_FILE).read_bytes() == before


def test_a_witness_url_password_stays_out_of_the_published_tree(
    world: World, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(world.site, copy, symlinks=True)
    with_password = world.witness_urls[0].replace("http://", "http://user:s3cret@")
    # As an earlier version kept it: under the URL as given.
    sizes = json.loads((copy / WITNESSES_FILE).read_bytes())
    sizes["witnesses"][with_password] = {"origin": "o", "size": 1}
    (copy / WITNESSES_FILE).write_text(json.dumps(sizes))
    made = world.publish(world.home / "registry.sqlite3", copy, with_password)
    assert made["witnesses_cosigned"] == 1, made["stderr"]
    assert [w["url"] for w in made["witnesses"]] == [
        world.witness_urls[0].replace("http://", "http://***@")
    ]
    for path in copy.rglob("*"):
        assert not path.is_file() or b"s3cret" not in path.read_bytes(), path


def _forged_line(vkey: str) -> bytes:
    """A well-shaped cosignature line under ``vkey``'s name and key id, its signature zeros."""
    name, key_id, _ = vkey.split("+", 2)
    forged = base64.b64encode(bytes.fromhex(key_id) + bytes(72)).decode()
    return f"\u2014 {name} {forged}\n".encode()


@pytest.mark.parametrize("first", ["the impostor", "the witness"])
def test_a_witness_answering_under_another_witness_key_displaces_nothing(
    world: World, tmp_path: Path, first: str
) -> None:
    """Whichever answers first, w1's genuine cosignature stays, and the impostor is a warning."""
    copy = tmp_path / "copy"
    shutil.copytree(world.site, copy, symlinks=True)
    w1 = world.witness_urls[0]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BadWitness)
    server.answer = _forged_line(world.witness_keys[0])  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        impostor = f"http://127.0.0.1:{server.server_address[1]}"
        order = [impostor, w1] if first == "the impostor" else [w1, impostor]
        made = world.publish(world.home / "registry.sqlite3", copy, *order)
    finally:
        server.shutdown()
        server.server_close()
    assert (made["witnesses_cosigned"], made["witness_warnings"]) == (1, 1), made["stderr"]
    w1_key = "+".join(world.witness_keys[0].split("+")[:2])
    warning = f"warning: witness {impostor}: a cosignature under {w1_key}, the key of witness {w1}"
    assert warning in made["stderr"], made["stderr"]
    note = Note.parse((copy / CHECKPOINT_FILE).read_bytes())
    for vkey in world.witness_keys:  # one cosignature by each witness, and each verifies
        key = VerifierKey.parse(vkey)
        [line] = [s for s in note.signatures if s.is_by(key)]
        verify_cosignature(line, note.text, key)
    recorded = json.loads((copy / WITNESSES_FILE).read_bytes())["witnesses"]
    assert impostor not in recorded
    assert recorded[w1]["key"] == w1_key


class _Faulty(http.server.SimpleHTTPRequestHandler):
    """Serves a tree, but answers each path in its server's ``faults`` with that status.

    A status of 200 is an answer declaring a body over the fetch's size limit.
    """

    server: Any

    def do_GET(self) -> None:
        status = self.server.faults.get(self.path.lstrip("/"))
        if status is None:
            super().do_GET()
            return
        self.send_response(status)
        self.send_header("Content-Length", str(MAX_BUNDLE_BYTES + 1 if status == 200 else 0))
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def faulty_server(site: Path, faults: dict[str, int]) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 with ``faults``; its base URL, with a user and password."""
    with http_server(site, _Faulty, faults=faults) as url:
        yield url.replace("http://", "http://operator:s3cret@")


# name: (the path that fails, its status, the step and message the audit reports; {url} is the
# tree's URL as printed, {code} the first record's code)
FAULTS: dict[str, tuple[str, int, str]] = {
    "the checkpoint answers 500": (
        CHECKPOINT_FILE,
        500,
        "checkpoint: checkpoint could not be read: {url}/checkpoint: HTTP 500",
    ),
    "a tile answers 403": (
        Tile(0, 0, 10).path,
        403,
        "tiles: tile/0/000.p/10 could not be read: {url}/tile/0/000.p/10: HTTP 403",
    ),
    "an entry bundle is over the size limit": (
        EntryBundle(0, 10).path,
        200,
        "tiles: tile/entries/000.p/10 could not be read: {url}/tile/entries/000.p/10: "
        "16777217 bytes is over the 16777216-byte limit",
    ),
    "a bundle answers 502": (
        "pith/{code}/bundle.json",
        502,
        "published: pith/{code}/bundle.json could not be read: {url}/pith/{code}/bundle.json: "
        "HTTP 502",
    ),
    # Absent: the audit's messages for what is missing.
    "the checkpoint answers 404": (CHECKPOINT_FILE, 404, "checkpoint: the tree has no checkpoint"),
    "an entry bundle answers 410": (
        EntryBundle(0, 10).path,
        410,
        "tiles: tile/entries/000.p/10 is missing",
    ),
}


@pytest.mark.parametrize("name", list(FAULTS), ids=list(FAULTS))
def test_a_server_failing_is_told_from_a_file_missing_by_audit(world: World, name: str) -> None:
    where, status, line = FAULTS[name]
    code = world.codes()[0]
    with faulty_server(world.site, {where.format(code=code): status}) as url:
        shown = url.replace("operator:s3cret@", "***@")
        expected = line.format(url=shown, code=code)
        step, message = expected.split(": ", 1)
        audited = pith(world.home, "log", "audit", url, "--keys", world.keys, "--json")
    assert audited.exit_code == 1, audited.stderr
    assert f"FAIL: {shown}: {expected}\n" in audited.stderr, audited.stderr
    report = json.loads(audited.stdout)
    assert report["ok"] is False
    assert {"step": step, "message": message} in report["problems"], report["problems"]
    assert "s3cret" not in audited.stdout + audited.stderr


def test_a_tree_whose_server_is_down_could_not_be_read_by_audit(world: World) -> None:
    down = closed_port_url()
    audited = pith(world.home, "log", "audit", down, "--keys", world.keys, "--json")
    assert audited.exit_code == 1, audited.stderr
    [problem] = json.loads(audited.stdout)["problems"]
    assert problem["step"] == "checkpoint"
    assert problem["message"].startswith(f"checkpoint could not be read: {down}/checkpoint: "), (
        problem
    )
    assert f"FAIL: {down}: checkpoint: checkpoint could not be read: " in audited.stderr
