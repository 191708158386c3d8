"""Building blocks for the conformance cases: deterministic keys, events and consistent forgeries.

A *consistent* forgery is one a careless verifier would accept: every hash is
recomputed and the bundle is re-signed by a trusted test key, so exactly the
check the case names is left to catch it. Every key comes from a fixed seed
(``factory.signer``) and Ed25519 signatures are deterministic, so the output
is byte-for-byte the same on every run.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from issuer import cjson
from issuer.bundles import build_bundle, sign_bundle
from issuer.events import build_event, sign_event
from issuer.identifiers import PithNumber
from issuer.keys import PublicKey, SeedSigner
from issuer.keys._statements import pae, sign_revocation, sign_rotation
from issuer.keys.keyset import DOCUMENT_TYPE, DOCUMENT_VERSION, KeySet, parse_key_document
from issuer.receipts import sign_receipt
from tests import factory

Json = dict[str, Any]

T0 = factory.T0
DAY = timedelta(days=1)
LATER = T0 + 5 * DAY  # when the test bundles are built and signed
K1, K2, K3, K4 = (factory.signer(n) for n in (1, 2, 3, 4))
REC = factory.record()
NUMBER = str(PithNumber.for_record(REC))
OTHER = factory.record(2)


def document(
    keys: Sequence[PublicKey], rotations: Sequence[Json] = (), revocations: Sequence[Json] = ()
) -> Json:
    """A ``pith-signing-key.json`` document, written as given (statements unchecked)."""
    return {
        "document_type": DOCUMENT_TYPE,
        "document_version": DOCUMENT_VERSION,
        "keys": [k.to_dict() for k in keys],
        "rotation_statements": list(rotations),
        "revocation_statements": list(revocations),
    }


def pub(*signers: SeedSigner) -> list[PublicKey]:
    """The public keys of ``signers``."""
    return [s.public_key for s in signers]


def trust(doc: Json) -> KeySet:
    """The key set a verifier builds from ``doc`` (raises as the verifier would)."""
    return KeySet.trusting(parse_key_document(doc, "case keys"))


TRUSTED_DOC = document(pub(K1))
TRUSTED = trust(TRUSTED_DOC)


def rotation(old: SeedSigner, new: SeedSigner, at: Any, *, drop: str = "") -> Json:
    """A rotation statement; ``drop`` removes the signature of that key id."""
    envelope = sign_rotation(old, new, rotates_at=at, issued_at=at - DAY)
    envelope["signatures"] = [s for s in envelope["signatures"] if s["keyid"] != drop]
    return envelope


def revocation(key: SeedSigner, by: SeedSigner, issued_at: Any = T0 + DAY) -> Json:
    """A revocation of ``key`` signed by ``by`` (which may be ``key`` itself: a forgery)."""
    signer = K4 if by.public_key.raw == key.public_key.raw else by
    envelope = sign_revocation(
        key.public_key,
        signer,
        compromised_since=T0 - DAY,
        reason="key file leaked",
        issued_at=issued_at,
    )
    if signer is by:
        return envelope
    message = pae(envelope["payloadType"], base64.b64decode(envelope["payload"]))
    sig = base64.b64encode(by.sign(message)).decode("ascii")
    return {**envelope, "signatures": [{"keyid": by.key_id, "sig": sig}]}


def created(receipt_by: SeedSigner = K1, event_by: SeedSigner = K1, **receipt: Any) -> Json:
    """The record_created event of REC: receipt by ``receipt_by`` (fields overridden by
    ``receipt``), the event signed by ``event_by`` over it."""
    at = receipt.pop("at", T0)
    signed = sign_receipt(REC.canonical_sha256, receipt_by, at)
    payload = {**factory.record_created(REC, K1)["payload"], "receipt": {**signed, **receipt}}
    return build_event("record_created", NUMBER, payload, event_by, T0)


def snapshot(key: SeedSigner = K1, n: object = 1, **kwargs: Any) -> Json:
    """A graph_snapshot event about REC (``n`` makes distinct ones); ``signed_at`` may
    differ from ``at``, the creation time."""
    at = kwargs.pop("at", T0)
    return build_event(
        "graph_snapshot",
        NUMBER,
        {"graph_snapshot": {"n": n}, "verdict_id": None},
        key,
        at,
        prev_event=kwargs.pop("prev", None),
        supersedes=kwargs.pop("supersedes", ()),
        signed_at=kwargs.pop("signed_at", None),
    )


def signed_content(content: Json, key: SeedSigner = K1) -> Json:
    """An event with arbitrary content, hashed and signed properly by ``key``."""
    event = {
        "event_type": "graph_snapshot",
        "subject_pith_number": NUMBER,
        "target": "graph",
        "payload": {"graph_snapshot": {"n": 1}, "verdict_id": None},
        "signer": key.public_key.signer_dict(),
        "created_at": "2026-05-17T23:59:22Z",
        "supersedes": [],
        "prev_event": None,
        "schema_version": "1.0",
        **content,
    }
    return sign_event(event, key, T0)


def bundle(
    events: list[Json],
    *,
    keys: KeySet = TRUSTED,
    signer: SeedSigner = K1,
    aliases: list[Json] | None = None,
) -> Json:
    """An honest bundle of REC over ``events``: the state is what the merge computes."""
    return build_bundle(
        REC,
        factory.aliases(REC) if aliases is None else aliases,
        events,
        keys,
        signer,
        built_at=LATER,
        base_url=factory.BASE_URL,
    )


GOOD = bundle([created(), snapshot()])


def resign(data: Json, signer: SeedSigner = K1, at: Any = LATER, **changes: Any) -> Json:
    """``data`` with ``changes`` applied, bundle_sha256 recomputed and re-signed by ``signer``."""
    return sign_bundle({**data, **changes}, signer, at)


def rehashed(state: Json) -> Json:
    """``state`` with its ``state_sha256`` recomputed."""
    unhashed = {k: v for k, v in state.items() if k != "state_sha256"}
    return {**unhashed, "state_sha256": cjson.sha256_hex(unhashed)}


def signature_over(key: SeedSigner, text: str) -> str:
    """A genuine signature by ``key``, over the SHA-256 of ``text`` (not what it claims)."""
    return base64.b64encode(key.sign(hashlib.sha256(text.encode()).digest())).decode("ascii")


HERE = Path(__file__).parent / "bundles"
RESULT_ACCEPTED = "the verifier accepted the forgery"


def write(
    name: str,
    how: str,
    data: bytes | Json,
    *,
    keys: Json | None = None,
    key_files: dict[str, Json] | None = None,
    step: str | None = None,
    reason: str | None = None,
    message: str | None = None,
    expected: str | None = None,
    check: str | None = None,
) -> None:
    """One case folder; ``check`` names the one check that refuses it and the by-hand result."""
    assert name.endswith("_fail") == (reason is not None) == (step is not None), name
    folder = HERE / name
    folder.mkdir(parents=True)
    text = f"# {name}\n\n{how}\n"
    if reason is not None:
        text += f"\nExpected: refused at step `{step}` with reason `{reason}`.\n"
    if check is not None:
        text += f"\nCaught by: {check}\n"
    (folder / "README.md").write_text(text)
    raw = data if isinstance(data, bytes) else _dump(data)
    (folder / "bundle.json").write_bytes(raw)
    if keys is not None:
        (folder / "keys.json").write_bytes(_dump(keys))
    for file, doc in (key_files or {}).items():
        (folder / "keys").mkdir(exist_ok=True)
        (folder / "keys" / file).write_bytes(_dump(doc))
    for file, value in (("step", step), ("reason", reason), ("message", message)):
        if value is not None:
            (folder / file).write_text(value + "\n")
    if expected is not None:
        (folder / "expected").write_text(expected + "\n")


def _dump(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False).encode() + b"\n"


def deleted(check: str, result: str = RESULT_ACCEPTED) -> str:
    return f"{check}. With that check deleted by hand, {result}."
