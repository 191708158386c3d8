"""Signing workers start without the operator's secrets in their environment (#12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from issuer._workers import is_secret_variable, signing_pool, worker_signer
from issuer.keys import SeedSigner

SECRETS = {
    "PITH_KEY_PASSPHRASE": "old key passphrase",
    "PITH_NEW_KEY_PASSPHRASE": "new key passphrase",
    "PITH_PKCS11_PIN": "4321",
    "PITH_KEY_PASSPHRASE_FILE": "/run/secrets/pith",
}


def _child() -> tuple[dict[str, str], bytes, str]:
    """In a worker: its os.environ, its initial environment block, its signer's key id."""
    return dict(os.environ), Path("/proc/self/environ").read_bytes(), worker_signer().key_id


def test_workers_do_not_inherit_passphrases_or_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PITH_WORKER_CANARY", "kept")
    before = dict(os.environ)
    with signing_pool(SeedSigner("w", bytes(32)), 2) as pool:
        results = [pool.submit(_child).result() for _ in range(4)]
    assert dict(os.environ) == before, "the parent's environment must not change"
    for environ, block, key_id in results:
        assert key_id == "w"
        assert environ["PITH_WORKER_CANARY"] == "kept"  # the rest of the environment is passed
        assert not set(SECRETS) & set(environ)
        for value in SECRETS.values():  # not even in the block the process started with
            assert value.encode() not in block


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("PITH_KEY_PASSPHRASE", True),
        ("PITH_NEW_KEY_PASSPHRASE", True),
        ("PITH_PKCS11_PIN", True),
        ("PITH_REGISTRY_PASSWORD", True),
        ("PITH_REGISTRY", True),  # postgresql://user:password@… from the environment
        ("PGPASSWORD", True),
        ("PGPASSFILE", True),
        ("pgpassword", True),
        ("PGHOST", False),
        ("PITH_HOME", False),
        ("PITH_PKCS11_MODULE", False),
        ("PITH_SHIPPING", False),
        ("GNUPG_PASSPHRASE", False),
    ],
)
def test_which_variables_are_secrets(name: str, secret: bool) -> None:
    assert is_secret_variable(name) is secret


_TRACKER = """
import json, os
from multiprocessing import resource_tracker
from issuer._workers import signing_pool
from issuer.keys import SeedSigner
with signing_pool(SeedSigner("w", bytes(32)), 1) as pool:
    pool.submit(os.getpid).result()
    pid = resource_tracker._resource_tracker._pid
    print(json.dumps(open(f"/proc/{pid}/environ", "rb").read().decode("utf-8", "replace")))
"""


def test_the_resource_tracker_starts_without_passphrases_or_pins() -> None:
    """multiprocessing's resource tracker, started for the pool, lives as long as pith does.

    A fresh interpreter: a tracker that an earlier test started is not the one a run starts.
    """
    root = Path(__file__).resolve().parents[3]
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(root), **SECRETS}
    done = subprocess.run(
        [sys.executable, "-c", _TRACKER],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    block = json.loads(done.stdout.splitlines()[-1])
    assert "PYTHONPATH=" in block  # the rest of the environment is passed
    for name, value in SECRETS.items():
        assert f"{name}=" not in block
        assert value not in block
