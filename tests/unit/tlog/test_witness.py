"""The tlog witness: add-checkpoint parsing, the spec's statuses, state, and the HTTP server.

The log here is real: leaves appended with :class:`issuer.tlog.Appender`, its
tiles kept as a publisher would, consistency proofs read back from those
tiles, and checkpoints signed as C2SP notes. The scenario table is in
``test_witness_scenarios.py``; these are the parts around it.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from issuer import cjson
from issuer.errors import FormatError, StoreError, VerificationError, WitnessConflictError
from issuer.keys import SeedSigner, Signer
from issuer.reasons import Reason
from issuer.tlog import (
    COSIGNATURE_ED25519,
    ED25519,
    EMPTY_ROOT,
    MAX_PROOF_LINES,
    MAX_REQUEST_SIZE,
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    Appender,
    Checkpoint,
    CheckpointPolicy,
    EntryBundle,
    Note,
    NoteSigner,
    Tile,
    TileReader,
    VerifierKey,
    Witness,
    WitnessServer,
    WitnessState,
    _witness_server,
    consistency_proof,
    parse_log_keys,
    respond,
    sign_note,
    submit,
    verify_checkpoint,
    verify_cosignature,
)
from issuer.tlog._witness import _STATUS
from tests import factory

ORIGIN = "example.com/log"
LOG_SIGNER = factory.signer(1)
WITNESS_SIGNER = factory.signer(2)
OTHER_SIGNER = factory.signer(3)
NOW = 1_780_000_000


class Log:
    """A log grown with the appender; proofs come from its published tiles.

    ``fork`` gives a second history that shares this one's first ``size``
    leaves (a log showing another view to someone).
    """

    def __init__(self, origin: str = ORIGIN, signer: Signer = LOG_SIGNER) -> None:
        self.key = NoteSigner(origin, ED25519, signer)
        self.tiles: dict[tuple[int, int], bytes] = {}
        self.appender = Appender(self._sink)
        self.roots = {0: EMPTY_ROOT}
        self.salt = b""

    def _sink(self, item: Tile | EntryBundle, data: bytes) -> None:
        if isinstance(item, Tile):
            self.tiles[item.level, item.index] = data

    def grow(self, n: int) -> Log:
        """Append ``n`` leaves."""
        for _ in range(n):  # one at a time, to know the root of every size
            self.appender.append_entries([self.salt + self.size.to_bytes(8, "big")])
            self.roots[self.size] = self.appender.root()
        return self

    def fork(self, size: int) -> Log:
        """Another log with this one's key and first ``size`` leaves, then its own."""
        other = Log(self.key.name, self.key.signer)
        other.grow(size)
        other.salt = b"fork"  # the leaves after ``size`` differ from this log's
        return other

    @property
    def size(self) -> int:
        return self.appender.size

    def _fetch(self, tile: Tile) -> bytes:
        current = self.tiles.get((tile.level, tile.index))
        if current is None:  # the partial tile of the current size
            current = next(
                d
                for t, d in self.appender.partial_tiles()
                if isinstance(t, Tile) and (t.level, t.index) == (tile.level, tile.index)
            )
        return current[: 32 * tile.width]

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        """A consistency proof from ``old`` to ``new`` (default: now), from the tiles."""
        new = self.size if new is None else new
        if old in {0, new}:
            return []
        return consistency_proof(TileReader(new, self._fetch), old, new)

    def checkpoint(self, size: int | None = None, *, signer: NoteSigner | None = None) -> Note:
        """The signed checkpoint at ``size`` (default: now)."""
        size = self.size if size is None else size
        text = Checkpoint(self.key.name, size, self.roots[size]).text()
        return sign_note(text, [signer or self.key])

    def request(self, old: int, size: int | None = None, proof: list[bytes] | None = None) -> bytes:
        """An add-checkpoint body from ``old`` to ``size``, with the right proof by default."""
        note = self.checkpoint(size)
        size = self.size if size is None else size
        hashes = self.proof(old, size) if proof is None else proof
        cp = Checkpoint.from_text(note.text)
        return AddCheckpoint(old, tuple(hashes), note, cp).to_bytes()


def cosigner(signer: SeedSigner = WITNESS_SIGNER, name: str = "witness.example/w1") -> NoteSigner:
    return NoteSigner(name, COSIGNATURE_ED25519, signer)


def make_witness(state: Path, *logs: Log, signer: SeedSigner = WITNESS_SIGNER) -> Witness:
    configured = {log.key.name: [log.key.verifier_key] for log in logs or (Log(),)}
    return Witness(cosigner(signer), configured, WitnessState(state), clock=lambda: NOW)


@pytest.fixture
def log() -> Log:
    return Log().grow(10)


@pytest.fixture
def witness(tmp_path: Path, log: Log) -> Witness:
    return make_witness(tmp_path / "state.json", log)


@contextlib.contextmanager
def serving(server: WitnessServer) -> Iterator[WitnessServer]:
    """``server`` answering in a thread until the block ends."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def served(witness: Witness) -> Iterator[WitnessServer]:
    """The witness on 127.0.0.1, a free port, in a thread; stopped after the test."""
    with serving(WitnessServer(("127.0.0.1", 0), witness)) as server:
        yield server


# --- the log helper is a real log -------------------------------------------------------


def test_the_logs_proofs_from_tiles_verify() -> None:
    from issuer.tlog import verify_consistency

    log = Log().grow(700)
    for old in (1, 255, 256, 300, 512):
        verify_consistency(old, 700, log.proof(old), log.roots[old], log.roots[700])


# --- request parsing ---------------------------------------------------------------------


def test_a_request_round_trips(log: Log) -> None:
    log.grow(5)
    body = log.request(10)
    parsed = AddCheckpoint.parse(body)
    assert (parsed.old_size, parsed.checkpoint.size) == (10, 15)
    assert list(parsed.proof) == log.proof(10)
    assert parsed.to_bytes() == body


def _body(head: bytes, log: Log) -> bytes:
    return head + log.checkpoint().to_bytes()


MALFORMED = {
    "no old line": b"\n",
    "old with a leading zero": b"old 01\n\n",
    "old with a sign": b"old +1\n\n",
    "old without a space": b"old\t1\n\n",
    "old above 2^63-1": b"old 9223372036854775808\n\n",
    "a proof line that is not base64": b"old 1\nnot base64!\n\n",
    "a proof line of 31 bytes": b"old 1\n" + b"A" * 40 + b"=\n\n",
    "a proof line in url-safe base64": b"old 1\n" + b"_" * 43 + b"=\n\n",
    "a proof line with a carriage return": b"old 1\n" + b"A" * 43 + b"=\r\n\n",
    "64 proof lines": b"old 1\n" + (b"A" * 43 + b"=\n") * (MAX_PROOF_LINES + 1) + b"\n",
}


@pytest.mark.parametrize("head", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_requests_are_400(witness: Witness, log: Log, head: bytes) -> None:
    with pytest.raises(FormatError):
        AddCheckpoint.parse(_body(head, log))
    answer = respond(witness, _body(head, log))
    assert (answer.status, answer.reason) == (400, Reason.MALFORMED)


def test_63_proof_lines_are_allowed(log: Log) -> None:
    head = b"old 1\n" + (b"A" * 43 + b"=\n") * MAX_PROOF_LINES + b"\n"
    assert len(AddCheckpoint.parse(_body(head, log)).proof) == MAX_PROOF_LINES


@pytest.mark.parametrize(
    "body",
    [b"", b"old 0\n", b"old 0\n\n", b"old 0\n\nexample.com/log\n1\n", b"old 0\nno blank line"],
    ids=["empty", "no empty line", "no checkpoint", "an unsigned checkpoint", "no newline"],
)
def test_truncated_requests_are_400(witness: Witness, body: bytes) -> None:
    assert respond(witness, body).status == 400


def test_an_oversized_request_is_refused_before_parsing(witness: Witness, log: Log) -> None:
    body = log.request(0)
    padded = body + b"x" * (MAX_REQUEST_SIZE + 1 - len(body))
    with pytest.raises(FormatError, match="at most"):
        AddCheckpoint.parse(padded)


def test_a_checkpoint_body_that_is_not_a_checkpoint_is_400(witness: Witness) -> None:
    note = sign_note("example.com/log\nnot a size\n", [Log().key])
    assert respond(witness, b"old 0\n\n" + note.to_bytes()).status == 400


# --- the checks and their statuses -------------------------------------------------------


def test_first_checkpoint_then_growth_are_cosigned(witness: Witness, log: Log) -> None:
    first = respond(witness, log.request(0))
    assert first.status == 200, first.body
    log.grow(300)
    second = respond(witness, log.request(10))
    assert second.status == 200, second.body
    latest = witness.latest(ORIGIN)
    assert latest is not None
    assert (latest.size, latest.root_hash) == (310, log.roots[310])


def test_the_answer_is_a_cosignature_line_that_verifies(witness: Witness, log: Log) -> None:
    answer = respond(witness, log.request(0))
    assert answer.status == 200
    assert answer.body.startswith("— witness.example/w1 ".encode())
    assert answer.body.endswith(b"\n")
    assert answer.body.count(b"\n") == 1
    cosigned = Note.parse(log.checkpoint().to_bytes() + answer.body)
    signature = cosigned.signatures[-1]
    stamp = verify_cosignature(signature, cosigned.text, witness.verifier_key)
    assert stamp == NOW


def test_a_stale_old_size_is_409_with_the_known_size(witness: Witness, log: Log) -> None:
    assert respond(witness, log.request(0)).status == 200
    log.grow(5)
    with pytest.raises(WitnessConflictError) as caught:
        witness.add_checkpoint(log.request(0))
    assert caught.value.known_size == 10
    assert caught.value.reason == Reason.OLD_SIZE_MISMATCH
    answer = respond(witness, log.request(3))
    assert (answer.status, answer.content_type, answer.body) == (409, SIZE_CONTENT_TYPE, b"10\n")


def test_the_409_comes_before_the_proof_is_looked_at(witness: Witness, log: Log) -> None:
    """A client that knows nothing sends old 0 to learn the size (the spec allows it)."""
    assert respond(witness, log.request(0)).status == 200
    log.grow(1)
    answer = respond(witness, log.request(0, proof=[bytes(32)]))
    assert (answer.status, answer.body) == (409, b"10\n")


def test_a_bad_proof_is_422_and_changes_nothing(witness: Witness, log: Log) -> None:
    assert respond(witness, log.request(0)).status == 200
    log.grow(20)
    proof = log.proof(10)
    proof[0] = bytes(32)
    answer = respond(witness, log.request(10, proof=proof))
    assert (answer.status, answer.reason) == (422, Reason.BAD_CONSISTENCY_PROOF)
    latest = witness.latest(ORIGIN)
    assert latest is not None and latest.size == 10
    assert respond(witness, log.request(10)).status == 200


def test_a_proof_when_the_old_size_is_zero_is_422(witness: Witness, log: Log) -> None:
    answer = respond(witness, log.request(0, proof=[bytes(32)]))
    assert (answer.status, answer.reason) == (422, Reason.BAD_CONSISTENCY_PROOF)


def test_a_checkpoint_signed_by_an_unknown_key_is_403(witness: Witness, log: Log) -> None:
    impostor = NoteSigner(ORIGIN, ED25519, OTHER_SIGNER)
    note = log.checkpoint(signer=impostor)
    with pytest.raises(VerificationError) as caught:
        witness.add_checkpoint(b"old 0\n\n" + note.to_bytes())
    assert (caught.value.reason, caught.value.step) == (Reason.NO_LOG_SIGNATURE, "log_signature")
    assert respond(witness, b"old 0\n\n" + note.to_bytes()).status == 403


def test_an_unknown_origin_is_404(witness: Witness) -> None:
    other = Log("other.example/log").grow(3)
    answer = respond(witness, other.request(0))
    assert (answer.status, answer.reason) == (404, Reason.UNKNOWN_LOG)


def test_every_refusal_has_the_spec_status() -> None:
    assert _STATUS == {
        Reason.UNKNOWN_LOG: 404,
        Reason.NO_LOG_SIGNATURE: 403,
        Reason.BAD_NOTE_SIGNATURE: 403,
        Reason.LOG_ROLLBACK: 400,
        Reason.OLD_SIZE_MISMATCH: 409,
        Reason.SPLIT_VIEW: 409,
        Reason.BAD_CONSISTENCY_PROOF: 422,
    }


# --- state -------------------------------------------------------------------------------


def test_the_state_file_is_canonical_json_holding_the_log_signed_checkpoint(
    witness: Witness, log: Log
) -> None:
    assert respond(witness, log.request(0)).status == 200
    data = witness.state.path.read_bytes()
    document = cjson.loads(data)
    assert cjson.dumps(document) == data
    assert document["version"] == 1
    assert document["logs"][ORIGIN]["checkpoint"] == log.checkpoint().to_bytes().decode()
    assert witness.state.path.stat().st_mode & 0o077 == 0


def test_only_the_log_signatures_are_kept(witness: Witness, log: Log) -> None:
    extra = NoteSigner("someone.else", ED25519, OTHER_SIGNER)
    note = sign_note(log.checkpoint().text, [log.key, extra])
    assert respond(witness, b"old 0\n\n" + note.to_bytes()).status == 200
    kept = witness.state.read()[ORIGIN].note
    assert [s.name for s in kept.signatures] == [ORIGIN]


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b'{"logs":{},"version":2}', b'{"logs":{"x":{"checkpoint":"junk"}},"version":1}'],
    ids=["empty", "not json", "another version", "a bad checkpoint"],
)
def test_a_corrupt_state_is_refused_not_reset(witness: Witness, log: Log, content: bytes) -> None:
    witness.state.path.write_bytes(content)
    with pytest.raises(StoreError, match="corrupt"):
        witness.add_checkpoint(log.request(0))
    answer = respond(witness, log.request(0))
    assert (answer.status, answer.body) == (500, b"internal error\n")
    assert witness.state.path.read_bytes() == content


def test_a_checkpoint_filed_under_another_origin_is_corrupt(
    witness: Witness, log: Log, tmp_path: Path
) -> None:
    assert respond(witness, log.request(0)).status == 200
    document = cjson.loads(witness.state.path.read_bytes())
    document["logs"] = {"other.example/log": document["logs"][ORIGIN]}
    witness.state.path.write_bytes(cjson.dumps(document))
    with pytest.raises(StoreError):
        witness.state.read()


def test_a_refusal_writes_nothing(witness: Witness, log: Log) -> None:
    assert respond(witness, log.request(0)).status == 200
    before = witness.state.path.read_bytes()
    log.grow(1)
    assert respond(witness, log.request(0)).status == 409
    assert witness.state.path.read_bytes() == before


def test_concurrent_first_checkpoints_cosign_exactly_one(tmp_path: Path) -> None:
    """The check and the update are atomic: of 8 racing old-0 requests, one wins.

    Two ``Witness`` objects share the file, as ``serve`` and ``cosign`` would:
    their thread locks differ, so the file lock is what serialises them.
    """
    log = Log()
    bodies = []
    for _ in range(8):
        log.grow(1)
        bodies.append(log.request(0))
    state = tmp_path / "state.json"
    witnesses = [make_witness(state, log), make_witness(state, log)]
    start = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def send(i: int) -> None:
        start.wait()
        statuses.append(respond(witnesses[i % 2], bodies[i]).status)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 7


# --- configuration -----------------------------------------------------------------------


def test_log_keys_are_read_from_origin_equals_vkey() -> None:
    key = Log().key.verifier_key
    rotated = NoteSigner(ORIGIN, ED25519, OTHER_SIGNER).verifier_key
    logs = parse_log_keys([f"{ORIGIN}={key}", str(rotated), f"mirror.example={key}"])
    assert logs == {ORIGIN: (key, rotated), "mirror.example": (key,)}


@pytest.mark.parametrize(
    "spec",
    ["nonsense", f"{ORIGIN}=nonsense", str(cosigner().verifier_key)],
    ids=["not a key", "a bad key", "a witness key"],
)
def test_bad_log_specs_are_refused(spec: str) -> None:
    with pytest.raises(FormatError):
        parse_log_keys([spec])


def test_a_witness_needs_a_cosignature_key_and_log_keys(tmp_path: Path) -> None:
    state = WitnessState(tmp_path / "s")
    log_key = Log().key
    with pytest.raises(ValueError, match="0x04"):
        Witness(log_key, {ORIGIN: [log_key.verifier_key]}, state)
    with pytest.raises(ValueError, match="Ed25519 note keys"):
        Witness(cosigner(), {ORIGIN: []}, state)


def test_a_rotated_log_key_is_accepted_when_configured(tmp_path: Path) -> None:
    old, new = Log(), Log(signer=OTHER_SIGNER)
    witness = Witness(
        cosigner(),
        {ORIGIN: [old.key.verifier_key, new.key.verifier_key]},
        WitnessState(tmp_path / "s"),
    )
    new.grow(4)
    assert respond(witness, new.request(0)).status == 200


# --- over HTTP, and the policy's N of M -------------------------------------------------


def test_the_server_cosigns_over_http(served: WitnessServer, log: Log) -> None:
    answer = submit(served.url, log.request(0))
    assert answer.status == 200
    assert answer.content_type.startswith("text/plain")
    log.grow(3)
    stale = submit(served.url, log.request(0))
    assert (stale.status, stale.content_type, stale.body) == (409, SIZE_CONTENT_TYPE, b"10\n")


def _raw(server: WitnessServer, method: str, path: str, headers: dict[str, str]) -> int:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port))
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


def test_the_server_refuses_what_it_should_not_read(served: WitnessServer) -> None:
    assert _raw(served, "POST", "/add-checkpoint", {}) == 411
    too_big = {"Content-Length": str(MAX_REQUEST_SIZE + 1)}
    assert _raw(served, "POST", "/add-checkpoint", too_big) == 413
    assert _raw(served, "POST", "/add-checkpoint", {"Content-Length": "-1"}) == 400
    assert _raw(served, "POST", "/add-checkpoint", {"Content-Length": "\u00b2"}) == 400
    assert _raw(served, "POST", "/elsewhere", {"Content-Length": "0"}) == 404
    assert _raw(served, "GET", "/add-checkpoint", {}) == 405


def test_a_connection_is_kept_alive_across_requests(served: WitnessServer, log: Log) -> None:
    host, port = served.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port))
    try:
        statuses = []
        for body in (log.request(0), log.request(10)):
            conn.request("POST", "/add-checkpoint", body=body)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        conn.close()
    assert statuses == [200, 200]


def test_two_served_witnesses_meet_a_threshold_of_two(tmp_path: Path, log: Log) -> None:
    w1 = make_witness(tmp_path / "w1.json", log)
    w2 = Witness(
        cosigner(OTHER_SIGNER, "witness.example/w2"),
        {ORIGIN: [log.key.verifier_key]},
        WitnessState(tmp_path / "w2.json"),
        clock=lambda: NOW,
    )
    servers = [WitnessServer(("127.0.0.1", 0), w) for w in (w1, w2)]
    threads = [threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True) for s in servers]
    for t in threads:
        t.start()
    try:
        lines = [submit(s.url, log.request(0)) for s in servers]
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()
        for t in threads:
            t.join()
    assert [a.status for a in lines] == [200, 200]
    keys = (w1.verifier_key, w2.verifier_key)
    signed = log.checkpoint().to_bytes()
    both = signed + lines[0].body + lines[1].body
    result = verify_checkpoint(both, CheckpointPolicy(log.key.verifier_key, keys, 2))
    assert {c.key for c in result.cosignatures} == set(keys)
    with pytest.raises(VerificationError) as caught:
        verify_checkpoint(signed + lines[0].body, CheckpointPolicy(log.key.verifier_key, keys, 2))
    assert caught.value.reason == Reason.WITNESS_THRESHOLD


def test_the_witness_vkey_is_a_cosignature_key() -> None:
    vkey = str(cosigner().verifier_key)
    parsed = VerifierKey.parse(vkey)
    assert parsed.sig_type == COSIGNATURE_ED25519
    assert vkey.startswith("witness.example/w1+")


def test_a_pkcs11_witness_key_cosigns(tmp_path: Path, softhsm: str, log: Log) -> None:
    """Cosignatures sign the whole cosigned message (not a 32-byte digest) on a token too."""
    uri = f"pkcs11:token=pith;object=hsm-witness?module-path={softhsm}"
    with Signer.generate_at(uri, "hsm-witness", lambda _: "1234") as made:
        on_token = Signer.from_uri(uri, made.public_key, lambda _: "1234")
        witness = Witness(
            NoteSigner("witness.example/hsm", COSIGNATURE_ED25519, on_token),
            {ORIGIN: [log.key.verifier_key]},
            WitnessState(tmp_path / "state.json"),
        )
        try:
            answer = respond(witness, log.request(0))
        finally:
            on_token.close()
    assert answer.status == 200, answer.body
    policy = CheckpointPolicy(log.key.verifier_key, (witness.verifier_key,), 1)
    verify_checkpoint(log.checkpoint().to_bytes() + answer.body, policy)


def test_a_size_zero_checkpoint_needs_the_empty_root(witness: Witness) -> None:
    empty = Log()
    assert respond(witness, empty.request(0)).status == 200
    wrong = sign_note(Checkpoint(ORIGIN, 0, bytes(32)).text(), [empty.key])
    answer = respond(witness, b"old 0\n\n" + wrong.to_bytes())
    assert (answer.status, answer.reason) == (409, Reason.SPLIT_VIEW)


def test_a_state_that_would_outgrow_its_reader_is_not_written(
    witness: Witness, log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    from issuer.tlog import _witness_state

    assert respond(witness, log.request(0)).status == 200
    before = witness.state.path.read_bytes()
    monkeypatch.setattr(_witness_state, "MAX_STATE_SIZE", len(before))
    log.grow(1000)  # a longer size line: a larger file
    with pytest.raises(StoreError, match="exceed"):
        witness.add_checkpoint(log.request(10))
    assert witness.state.path.read_bytes() == before


def _dripped(server: WitnessServer, head: bytes, body: bytes) -> bytes:
    """Send ``head`` at once, then ``body`` a byte every 50 ms; what the server answered.

    Each byte comes well within the server's silence timeout; b"" is a dropped connection.
    """
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=10) as conn:
        try:
            conn.sendall(head)
            for i in range(len(body)):
                conn.sendall(body[i : i + 1])
                time.sleep(0.05)
            return conn.recv(4096)
        except OSError:  # reset while sending: dropped too
            return b""


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_request_dripped_past_the_client_timeout_is_dropped(
    served: WitnessServer, monkeypatch: pytest.MonkeyPatch, part: str
) -> None:
    """A client that never stays silent long enough still has to finish its request in time."""
    monkeypatch.setattr(_witness_server._Handler, "timeout", 0.5)
    head = b"POST /add-checkpoint HTTP/1.1\r\n"
    if part == "headers":
        answer = _dripped(served, head, b"X: y\r\n" * 10 + b"Content-Length: 0\r\n\r\n")
    else:
        answer = _dripped(served, head + b"Content-Length: 40\r\n\r\n", b"x" * 40)
    assert answer == b""


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_request_target_that_is_no_url_is_404(served: WitnessServer, method: str) -> None:
    host, port = served.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=10) as conn:
        conn.sendall(f"{method} http://[::1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n".encode())
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 404 ")


def _turned_away(server: WitnessServer) -> bytes:
    """Connect, send nothing, and read until the server closes: what it answered."""
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=30) as conn:
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
    return answer


def test_connections_beyond_the_limit_get_503_and_a_closed_one_frees_its_slot(
    witness: Witness, log: Log
) -> None:
    finished = threading.Semaphore(0)  # released each time a connection's thread is done

    class Observed(WitnessServer):
        def process_request_thread(self, request: Any, client_address: Any) -> None:
            super().process_request_thread(request, client_address)
            finished.release()

    server = Observed(("127.0.0.1", 0), witness, max_connections=3)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    held = [http.client.HTTPConnection(str(host), int(port)) for _ in range(3)]
    try:
        for conn in held:  # once answered, each handler waits for its connection's next request
            conn.request("GET", "/add-checkpoint")
            response = conn.getresponse()
            response.read()
            assert response.status == 405
        for _ in range(2):  # a client turned away, silent, does not hold up the next one
            answer = _turned_away(server)
            head, _, body = answer.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            assert lines[0] == b"HTTP/1.1 503 Service Unavailable", answer
            assert {b"Retry-After: 1", b"Connection: close"} <= set(lines)
            assert body == b"busy: too many connections; try again later\n"
        # The connections being served are still served.
        held[0].request("POST", "/add-checkpoint", body=log.request(0))
        response = held[0].getresponse()
        response.read()
        assert response.status == 200
        held[1].close()
        assert finished.acquire(timeout=60)
        assert submit(server.url, log.request(10)).status == 200
    finally:
        for conn in held:
            conn.close()
        server.shutdown()
        server.server_close()
        thread.join()
