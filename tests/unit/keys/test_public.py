"""Key records exactly as the registry publishes them (spec §5)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest

from issuer.errors import FormatError, VerificationError
from issuer.keys import PublicKey, SeedSigner
from issuer.keys.keyset import KeySet, load_key_file, shipped_keys_dir
from tests.conftest import ROOT


def test_real_key_record_round_trips_every_field(real_bundle: dict[str, Any]) -> None:
    record = real_bundle["public_keys"][0]
    key = PublicKey.from_dict(record)
    assert key.to_dict() == record
    rebuilt = PublicKey(
        key.key_id,
        bytes.fromhex(record["public_key_hex"]),
        url=record["url"],
        notes=record["notes"],
    )
    assert rebuilt.to_dict() == record  # both fingerprints derived from the raw key alone
    signer = real_bundle["events"][0]["signer"]
    assert key.signer_dict() == signer


def test_shipped_key_set_is_the_registry_key(real_bundle: dict[str, Any]) -> None:
    shipped = KeySet.shipped()
    assert [k.key_id for k in shipped] == ["pith-v1-2026-05"]
    key = shipped.get("pith-v1-2026-05")
    assert key is not None and key.to_dict() == real_bundle["public_keys"][0]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "fingerprint_sha256_hex",
            "8d4b5ee74e4693bcd1df2446408b0d55",
            "fingerprint_sha256_hex does not match",
        ),
        (
            "fingerprint_sha256_b32_first128bits",
            "RVFV5Z2OI2J3ZUO7ERDEBCYNKT",
            "b32_first128bits does not match",
        ),
        ("public_key_hex", "00" * 32, "does not match public_key_b64"),
        ("public_key_b64", "stVStoiQhXFxp4s2pdzPNoqVNBMojDU/fJ2db5S3CbM", "not base64"),
        ("public_key_b64", "AAAA", "3 bytes, expected 32"),
        ("algorithm", "ed448", "unsupported"),
        ("key_id", "Pith V1", "invalid key id"),
        ("rotates_at", "tomorrow", "not a UTC time"),
        ("url", None, "url must be a string"),
    ],
)
def test_inconsistent_key_records_are_refused(
    real_bundle: dict[str, Any], field: str, value: Any, message: str
) -> None:
    record = copy.deepcopy(real_bundle["public_keys"][0])
    record[field] = value
    with pytest.raises(FormatError, match=message):
        PublicKey.from_dict(record)


def test_small_order_and_non_canonical_keys_are_refused() -> None:
    identity = (1).to_bytes(32, "little")
    non_canonical = (2**255 - 19 + 1).to_bytes(32, "little")  # y = p + 1 ≡ 1
    for raw, message in ((identity, "small-order"), (non_canonical, "non-canonical")):
        with pytest.raises(FormatError, match=message):
            PublicKey("bad-key", raw)


def test_keyset_requires_trusted_key_with_matching_fingerprint(real_bundle: dict[str, Any]) -> None:
    keys = KeySet.shipped()
    fp = "8d4b5ee74e4693bcd1df2446408b0d54"
    assert keys.require("pith-v1-2026-05", fp, None).fingerprint == fp
    with pytest.raises(VerificationError) as unknown:
        keys.require("pith-v9", fp, None)
    assert unknown.value.reason == "unknown_key"
    with pytest.raises(VerificationError) as mismatch:
        keys.require("pith-v1-2026-05", "00" * 16, None)
    assert mismatch.value.reason == "fingerprint_mismatch"


def test_keyset_refuses_two_keys_with_one_id() -> None:
    a, b = SeedSigner("same", b"\x01" * 32).public_key, SeedSigner("same", b"\x02" * 32).public_key
    with pytest.raises(FormatError, match="two different keys"):
        KeySet([a, b])


def test_key_files_hold_a_record_a_list_or_a_document(tmp_path: Path) -> None:
    keys = [SeedSigner(f"k{i}", bytes([i]) * 32).public_key for i in (1, 2)]
    (tmp_path / "one.json").write_text(json.dumps(keys[0].to_dict()))
    (tmp_path / "list.json").write_text(json.dumps([k.to_dict() for k in keys]))
    (tmp_path / "doc.json").write_text(json.dumps(KeySet(keys).to_document()))
    assert [k.key_id for k in load_key_file(tmp_path / "one.json").keys] == ["k1"]
    assert [k.key_id for k in load_key_file(tmp_path / "list.json").keys] == ["k1", "k2"]
    assert [k.key_id for k in KeySet.load(tmp_path / "doc.json")] == ["k1", "k2"]
    (tmp_path / "bad.json").write_text('{"key_id": "k1", "key_id": "k2"}')
    with pytest.raises(FormatError, match=r"bad\.json.*duplicate"):
        load_key_file(tmp_path / "bad.json")


@pytest.mark.slow
def test_installed_package_finds_the_shipped_keys(tmp_path: Path) -> None:
    """Build the wheel and import it from there: the key set must come from inside the package."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    wheel = next(tmp_path.glob("issuer-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        assert "issuer/_trusted_keys/pith-v1-2026-05.json" in zf.namelist()
        zf.extractall(tmp_path / "site")
    code = (
        "from issuer.keys.keyset import KeySet, shipped_keys_dir; "
        "print(shipped_keys_dir()); print([k.key_id for k in KeySet.shipped()])"
    )
    # -S: no site processing, so the editable install of the checkout is not on the path;
    # the dependencies come from site-packages, the toolkit from the wheel.
    path = (
        f"{tmp_path / 'site'}:{sysconfig.get_paths()['purelib']}:{sysconfig.get_paths()['platlib']}"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={"PYTHONPATH": path},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    location, ids = out.stdout.splitlines()
    assert location.startswith(str(tmp_path / "site")), location
    assert ids == "['pith-v1-2026-05']"
    assert shipped_keys_dir() == ROOT / "keys"  # and the checkout uses its own keys/
