"""PKCS#11 state is per process: SoftHSM tests must not see each other's sessions and logins.

The module keeps its configuration, sessions and login from the first use
on. Two cases broke before: a test that opens the token after the signer
tests (UserAlreadyLoggedIn: their login leaked), and pytest run twice in one
process, as mutmut runs it (the second run's token is not the one the module
reads).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from issuer.errors import KeyAccessError
from issuer.keys import SeedSigner, Signer

ROOT = Path(__file__).resolve().parents[3]
PIN = "1234"
SOFTHSM_TESTS = [
    "tests/unit/keys/test_signers.py::test_pkcs11_signer_round_trip",
    "tests/unit/keys/test_signers.py::test_a_signer_holding_another_key_is_refused",
    "tests/cli/test_keys.py::test_pkcs11_pin_value_is_never_stored",
]
TWICE = """
import sys, pytest
base, tests = sys.argv[1], sys.argv[2:]
codes = [
    pytest.main(["-q", "-p", "no:randomly", "-p", "no:cacheprovider", f"--basetemp={base}-{run}",
                 *tests])
    for run in (1, 2)
]
sys.exit(max(codes))
"""


@pytest.mark.slow
def test_softhsm_tests_pass_after_each_other_and_twice_in_one_process(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", TWICE, str(tmp_path / "run"), *SOFTHSM_TESTS],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert run.stdout.count(f"{len(SOFTHSM_TESTS) + 2} passed") == 2, run.stdout[-3000:]


def test_closing_one_signer_keeps_the_other_logged_in(softhsm: str) -> None:
    uri = f"pkcs11:token=pith;object=shared?module-path={softhsm}"
    made = Signer.generate_at(uri, "shared", lambda _: PIN)
    loaded = Signer.from_uri(uri, made.public_key, lambda _: PIN)
    made.close()  # python-pkcs11 logs out when it closes the session that logged in
    assert len(loaded.sign(bytes(32))) == 64
    loaded.close()


def test_a_signer_refused_for_holding_another_key_releases_the_token(softhsm: str) -> None:
    uri = f"pkcs11:token=pith;object=k?module-path={softhsm}"
    with Signer.generate_at(uri, "k", lambda _: PIN):
        pass
    with pytest.raises(KeyAccessError, match="holds key k"):
        Signer.from_uri(uri, SeedSigner("k", os.urandom(32)).public_key, lambda _: PIN)
    # Every session is closed, so the token is logged out and checks the PIN again.
    with pytest.raises(KeyAccessError, match="cannot open PKCS#11 token"):
        Signer.generate_at(
            f"pkcs11:token=pith;object=k2?module-path={softhsm}", "k2", lambda _: "0"
        )
