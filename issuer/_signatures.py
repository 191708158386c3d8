"""The signature object events and bundles carry, built and shape-checked in one place.

Events and bundles sign a SHA-256 digest and describe the signature with the
same seven fields; only ``signed_message`` (what the 32 signed bytes are)
differs, and bundles add ``bundle_sha256`` beside them.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from issuer._time import format_micros
from issuer.keys import Signer

SIGNATURE_STATUS = "signed_v1"
ALGORITHM = "ed25519"


def signature_object(
    signer: Signer, digest: bytes, *, signed_message: str, signed_at: datetime
) -> dict[str, str]:
    """Sign ``digest`` and describe the signature."""
    key = signer.public_key
    return {
        "signature_status": SIGNATURE_STATUS,
        "algorithm": ALGORITHM,
        "key_id": key.key_id,
        "public_key_fingerprint": key.fingerprint,
        "signature_b64": base64.b64encode(signer.sign(digest)).decode("ascii"),
        "signed_message": signed_message,
        "signed_at": format_micros(signed_at),
    }


def wrong_fixed_field(signature: dict[str, Any], signed_message: str) -> str | None:
    """``"NAME is X, expected Y"`` for the first field that has one fixed value, if wrong."""
    if (
        signature["signature_status"] == SIGNATURE_STATUS
        and signature["algorithm"] == ALGORITHM
        and signature["signed_message"] == signed_message
    ):
        return None
    fixed = {
        "signature_status": SIGNATURE_STATUS,
        "algorithm": ALGORITHM,
        "signed_message": signed_message,
    }
    for name, value in fixed.items():
        if signature[name] != value:
            return f"{name} is {signature[name]!r}, expected {value!r}"
    return None
