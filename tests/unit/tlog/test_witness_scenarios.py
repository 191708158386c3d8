"""The witness as a table of scenarios, each against a witness served on 127.0.0.1.

In the manner of the key rotation table: each row is a story told to one
witness (a log grows, forks, rolls back; the witness restarts from its state
file), and the answer to the story's last request: 200 with a cosignature
that verifies under the policy, or the spec's status and the refusal's reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from issuer.errors import VerificationError
from issuer.reasons import Reason
from issuer.tlog import (
    ED25519,
    AddCheckpoint,
    CheckpointPolicy,
    NoteSigner,
    Witness,
    WitnessResponse,
    WitnessServer,
    submit,
    verify_checkpoint,
)
from tests.unit.tlog.test_witness import OTHER_SIGNER, Log, make_witness


class World:
    """One log, and one witness served over HTTP that can be restarted from its state file."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.log = Log().grow(10)
        self.witness: Witness
        self._server: WitnessServer | None = None
        self._thread: threading.Thread | None = None
        self.start()

    def start(self) -> None:
        self.witness = make_witness(self.state, self.log)
        self._server = WitnessServer(("127.0.0.1", 0), self.witness)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None

    def restart(self) -> None:
        """A new process: nothing kept but the state file."""
        self.stop()
        self.start()

    def send(self, body: bytes) -> WitnessResponse:
        assert self._server is not None
        return submit(self._server.url, body)

    def accepted(self, body: bytes) -> None:
        """Send ``body``, which must be cosigned (the story's setup)."""
        answer = self.send(body)
        assert answer.status == 200, answer.body


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "witness-state.json")
    try:
        yield w
    finally:
        w.stop()


Story = Callable[[World], bytes]
"""Sets the scene, then returns the request whose answer the row expects."""


def first(w: World) -> bytes:
    return w.log.request(0)


def growth(w: World) -> bytes:
    w.accepted(w.log.request(0))
    w.log.grow(300)
    return w.log.request(10)


def same_again(w: World) -> bytes:
    w.accepted(w.log.request(0))
    return w.log.request(10)


def stale_old_size(w: World) -> bytes:
    w.accepted(w.log.request(0))
    w.log.grow(5)
    w.accepted(w.log.request(10))
    w.log.grow(5)
    return w.log.request(10)


def bad_proof(w: World) -> bytes:
    w.accepted(w.log.request(0))
    w.log.grow(90)
    proof = w.log.proof(10)
    proof[-1] = bytes(32)
    return w.log.request(10, proof=proof)


def no_proof(w: World) -> bytes:
    w.accepted(w.log.request(0))
    w.log.grow(90)
    return w.log.request(10, proof=[])


def split_view_same_size(w: World) -> bytes:
    w.accepted(w.log.request(0))
    other = w.log.fork(5).grow(5)  # size 10 again, another root, signed by the log key
    return other.request(10, proof=[])


def split_view_larger(w: World) -> bytes:
    w.accepted(w.log.request(0))
    other = w.log.fork(5).grow(20)  # its own proof, from its own size-10 root
    return other.request(10)


def rollback_claiming_the_witness_size(w: World) -> bytes:
    w.log.grow(10)
    w.accepted(w.log.request(0))
    body = w.log.request(0, size=10)
    return b"old 20" + body[len(b"old 0") :]


def rollback_claiming_its_own_size(w: World) -> bytes:
    w.log.grow(10)
    w.accepted(w.log.request(0))
    return w.log.request(5, size=10)


def unknown_key(w: World) -> bytes:
    impostor = NoteSigner(w.log.key.name, ED25519, OTHER_SIGNER)
    return b"old 0\n\n" + w.log.checkpoint(signer=impostor).to_bytes()


def forged_log_signature(w: World) -> bytes:
    data = bytearray(w.log.checkpoint().to_bytes())
    data[-10] ^= 1  # a base64 character of the log's own signature
    return b"old 0\n\n" + bytes(data)


def other_origin(w: World) -> bytes:
    return Log("other.example/log").grow(3).request(0)


def restarted_then_growth(w: World) -> bytes:
    w.accepted(w.log.request(0))
    w.restart()
    w.log.grow(50)
    return w.log.request(10)


def restarted_then_rollback(w: World) -> bytes:
    w.log.grow(40)
    w.accepted(w.log.request(0))
    w.restart()
    return w.log.request(0, size=20)  # "first contact" again, with a smaller tree


def restarted_then_split_view(w: World) -> bytes:
    w.accepted(w.log.request(0))
    w.restart()
    return w.log.fork(5).grow(5).request(10, proof=[])


@dataclass
class Scenario:
    name: str
    story: Story
    status: int = 200
    reason: Reason | None = None  # None: cosigned; else why not
    body: bytes | None = None  # the exact answer body, where the spec fixes it


SCENARIOS = [
    Scenario("first checkpoint (old 0) is trusted on first use", first),
    Scenario("growth with a consistency proof is cosigned", growth),
    Scenario("the cosigned checkpoint again is cosigned again", same_again),
    Scenario(
        "a stale old size: 409 with the size cosigned last",
        stale_old_size,
        409,
        Reason.OLD_SIZE_MISMATCH,
        b"15\n",
    ),
    Scenario("a consistency proof with a wrong hash", bad_proof, 422, Reason.BAD_CONSISTENCY_PROOF),
    Scenario("growth without a proof", no_proof, 422, Reason.BAD_CONSISTENCY_PROOF),
    Scenario(
        "split view: the cosigned size with another root",
        split_view_same_size,
        409,
        Reason.SPLIT_VIEW,
    ),
    Scenario(
        "split view: a larger tree of another history",
        split_view_larger,
        422,
        Reason.BAD_CONSISTENCY_PROOF,
    ),
    Scenario(
        "rollback to a smaller tree, from the size cosigned last",
        rollback_claiming_the_witness_size,
        400,
        Reason.LOG_ROLLBACK,
    ),
    Scenario(
        "rollback to a smaller tree, from a size of its own",
        rollback_claiming_its_own_size,
        409,
        Reason.OLD_SIZE_MISMATCH,
        b"20\n",
    ),
    Scenario("a checkpoint signed by an unknown key", unknown_key, 403, Reason.NO_LOG_SIGNATURE),
    Scenario(
        "a checkpoint whose log signature is forged",
        forged_log_signature,
        403,
        Reason.BAD_NOTE_SIGNATURE,
    ),
    Scenario("a checkpoint of a log not witnessed", other_origin, 404, Reason.UNKNOWN_LOG),
    Scenario("a witness restarted from its saved state accepts growth", restarted_then_growth),
    Scenario(
        "a witness restarted from its saved state refuses a rollback",
        restarted_then_rollback,
        409,
        Reason.OLD_SIZE_MISMATCH,
        b"50\n",
    ),
    Scenario(
        "a witness restarted from its saved state refuses a split view",
        restarted_then_split_view,
        409,
        Reason.SPLIT_VIEW,
    ),
]


def _remembered(state: Path) -> bytes | None:
    return state.read_bytes() if state.exists() else None


@pytest.mark.parametrize("case", SCENARIOS, ids=lambda c: c.name)
def test_scenario(case: Scenario, world: World) -> None:
    body = case.story(world)
    before = _remembered(world.state)
    answer = world.send(body)
    assert answer.status == case.status, answer.body
    if case.body is not None:
        assert answer.body == case.body
    if case.reason is not None:
        assert _remembered(world.state) == before, "a refusal changes nothing remembered"
        with pytest.raises(VerificationError) as caught:  # the library's reason for it
            world.witness.add_checkpoint(body)
        assert caught.value.reason == case.reason
        return
    assert case.status == 200
    request = AddCheckpoint.parse(body)
    policy = CheckpointPolicy(world.log.key.verifier_key, (world.witness.verifier_key,), 1)
    result = verify_checkpoint(request.note.to_bytes() + answer.body, policy)
    assert world.witness.latest(world.log.key.name) == result.checkpoint == request.checkpoint
