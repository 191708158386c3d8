"""``pkcs11:…`` (RFC 7512): Ed25519 keys on a hardware security module, CKM_EDDSA.

The private key never leaves the token: it is generated there (sensitive,
not extractable) and asked to sign. Library: python-pkcs11, chosen over
PyKCS11 for its typed, Pythonic API and because it signed faster on SoftHSM2
here (3,770 vs 3,160 signatures/s). It is an optional extra
(``pip install issuer[pkcs11]``) and imported only when a ``pkcs11:`` URI is used.

URI attributes understood: path ``token``, ``object`` (the key id), ``id``;
query ``module-path`` (else ``PITH_PKCS11_MODULE``), ``pin-source`` (a file
holding the PIN), ``pin-value`` (discouraged: it ends up in shell history).
Without either PIN attribute the secrets handler is asked for ``"pin"``.

PKCS#11 login belongs to the process and the token, not to a session: once
one session logs in, every session of the process on that token is logged
in, and logging out (which python-pkcs11 does when it closes the session
that logged in) logs them all out. So the signers of one process share one
logged-in session per (module, token), counted: it is closed, and the token
logged out, when the last of them is closed. :func:`reset` forgets all of
it and finalizes the module, so the next use starts from nothing (a test
that makes a new token, or pytest run twice in one process).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from issuer.errors import KeyAccessError
from issuer.keys._ed25519 import KEY_SIZE
from issuer.keys._public import PublicKey, validate_key_id
from issuer.keys._signer import SecretsHandler, Signer

try:
    import pkcs11
    from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
    from pkcs11.util.ec import encode_named_curve_parameters
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise KeyAccessError(
        "PKCS#11 support is not installed",
        hint="pip install 'issuer[pkcs11]'",
    ) from e

SCHEME = "pkcs11"
ED25519_OID = "1.3.101.112"
MODULE_ENV = "PITH_PKCS11_MODULE"
#: The largest ``pin-source`` file read (a PIN is a line; this is /dev/zero's guard).
MAX_PIN_FILE_BYTES = 64 * 1024

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of an RFC 7512 URI this backend uses."""

    token: str
    object: str
    module: str
    pin_value: str | None = None
    pin_source: str | None = None

    def __repr__(self) -> str:  # never the PIN
        return f"Pkcs11Uri(token={self.token!r}, object={self.object!r})"


def parse(uri: str) -> Pkcs11Uri:
    """Parse ``pkcs11:token=…;object=…?module-path=…&pin-source=…``.

    Raises:
        KeyAccessError: if a required attribute is missing.
    """
    body = uri.removeprefix(f"{SCHEME}:")
    path, _, query = body.partition("?")
    attrs: dict[str, str] = {}
    for part in [p for p in path.split(";") if p] + [q for q in query.split("&") if q]:
        name, sep, value = part.partition("=")
        if not sep:
            raise KeyAccessError(f"malformed PKCS#11 URI attribute {name!r}")
        attrs[name] = unquote(value)
    module = attrs.get("module-path") or os.environ.get(MODULE_ENV)
    missing = [n for n in ("token", "object") if n not in attrs]
    if missing or not module:
        raise KeyAccessError(
            f"PKCS#11 URI lacks {', '.join(missing) or 'module-path'}",
            hint="e.g. pkcs11:token=pith;object=KEY_ID?module-path=/usr/lib/softhsm/"
            f"libsofthsm2.so (or set {MODULE_ENV})",
        )
    return Pkcs11Uri(
        token=attrs["token"],
        object=attrs["object"],
        module=module,
        pin_value=attrs.get("pin-value"),
        pin_source=attrs.get("pin-source"),
    )


def _pin(parsed: Pkcs11Uri, secrets: SecretsHandler) -> str:
    if parsed.pin_value is not None:
        return parsed.pin_value
    if parsed.pin_source is not None:
        source = parsed.pin_source.removeprefix("file:")
        try:
            with Path(source).open("rb") as f:
                data = f.read(MAX_PIN_FILE_BYTES + 1)
        except OSError as e:
            raise KeyAccessError(f"cannot read PIN from {source}: {e.strerror}") from e
        if len(data) > MAX_PIN_FILE_BYTES:
            raise KeyAccessError(
                f"cannot read PIN from {source}: larger than any PIN file "
                f"({MAX_PIN_FILE_BYTES >> 10} KiB)"
            )
        try:
            return data.decode("utf-8").strip()
        except UnicodeDecodeError as e:
            raise KeyAccessError(f"cannot read PIN from {source}: not UTF-8 text") from e
    return secrets("pin")


class _Login:
    """The logged-in session this process holds on one token, and how many signers use it."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.users = 0


_logins: dict[tuple[str, str], _Login] = {}
_logins_lock = threading.Lock()


def _open(parsed: Pkcs11Uri, secrets: SecretsHandler) -> Any:
    try:
        token = pkcs11.lib(parsed.module).get_token(token_label=parsed.token)
        try:
            return token.open(rw=True, user_pin=_pin(parsed, secrets))
        except pkcs11.UserAlreadyLoggedIn:
            # Logged in by a session this module does not hold (another library in
            # this process): use that login, and leave logging out to its owner.
            return token.open(rw=True)
    except KeyAccessError:
        raise
    except (pkcs11.PKCS11Error, RuntimeError, OSError) as e:
        raise KeyAccessError(
            f"cannot open PKCS#11 token {parsed.token!r}: {type(e).__name__} {e}",
            hint="check the module path, that the token is present, and the PIN",
        ) from e


def _session(parsed: Pkcs11Uri, secrets: SecretsHandler) -> Any:
    """The process's logged-in session on the token; release it with :func:`_release`."""
    key = (parsed.module, parsed.token)
    with _logins_lock:
        login = _logins.get(key)
        if login is None:
            login = _logins[key] = _Login(_open(parsed, secrets))
        login.users += 1
        return login.session


def _release(session: Any) -> None:
    """One signer is done with ``session``; the last one closes it (and logs out)."""
    with _logins_lock:
        for key, login in list(_logins.items()):
            if login.session is session:
                login.users -= 1
                if login.users > 0:
                    return
                del _logins[key]
                break
    try:
        session.close()
    except pkcs11.PKCS11Error as e:  # already closed by C_Finalize: nothing left to undo
        logger.debug("closing a PKCS#11 session: %s", type(e).__name__)


def reset(module: str) -> None:
    """Forget every session and login this process holds through ``module``, and finalize it.

    C_Finalize closes every session; the next use of the module initializes
    it again, reading its configuration afresh (SoftHSM2 reads
    ``SOFTHSM2_CONF`` then).

    Raises:
        KeyAccessError: the module cannot be loaded.
    """
    with _logins_lock:
        for key in [k for k in _logins if k[0] == module]:
            del _logins[key]
        try:
            pkcs11.lib(module).finalize()
        except (pkcs11.PKCS11Error, RuntimeError, OSError) as e:
            raise KeyAccessError(f"cannot finalize PKCS#11 module {module}: {e}") from e


def _raw_point(ec_point: bytes) -> bytes:
    # CKA_EC_POINT is a DER OCTET STRING (04 20 ‖ key) on most tokens, raw on some.
    if len(ec_point) == KEY_SIZE + 2 and ec_point[:2] == b"\x04\x20":
        return ec_point[2:]
    if len(ec_point) == KEY_SIZE:
        return ec_point
    raise KeyAccessError(f"unexpected CKA_EC_POINT of {len(ec_point)} bytes")


class Pkcs11Signer(Signer):
    """An Ed25519 key held by a PKCS#11 token; the token signs."""

    scheme = SCHEME

    def __init__(self, public_key: PublicKey, session: Any, private: Any) -> None:
        super().__init__(public_key)
        self._session = session
        self._private = private

    def _sign(self, message: bytes) -> bytes:
        signature: bytes = self._private.sign(message, mechanism=Mechanism.EDDSA)
        return signature

    def close(self) -> None:
        """Done signing: the token session is closed when no other signer uses it."""
        if self._session is not None:
            session, self._session = self._session, None
            _release(session)

    @classmethod
    def load(cls, uri: str, public_key: PublicKey, secrets: SecretsHandler) -> Signer:
        """Find the key pair labelled with the key id on the token.

        Raises:
            KeyAccessError: token unavailable, wrong PIN, or no such key.
        """
        parsed = parse(uri)
        if parsed.object != public_key.key_id:
            raise KeyAccessError(
                f"signer URI names object {parsed.object}, not key {public_key.key_id}"
            )
        session = _session(parsed, secrets)
        try:
            private = session.get_key(
                object_class=ObjectClass.PRIVATE_KEY,
                key_type=KeyType.EC_EDWARDS,
                label=parsed.object,
            )
            public = session.get_key(
                object_class=ObjectClass.PUBLIC_KEY,
                key_type=KeyType.EC_EDWARDS,
                label=parsed.object,
            )
            raw = _raw_point(public[Attribute.EC_POINT])
        except (pkcs11.NoSuchKey, pkcs11.MultipleObjectsReturned) as e:
            _release(session)
            raise KeyAccessError(
                f"token {parsed.token!r} has no single Ed25519 key pair labelled {parsed.object}"
            ) from e
        except BaseException:
            _release(session)
            raise
        return cls(PublicKey(public_key.key_id, raw), session, private)

    @classmethod
    def generate(cls, uri: str, key_id: str, secrets: SecretsHandler) -> Signer:
        """Generate a sensitive, non-extractable Ed25519 key pair on the token.

        Raises:
            KeyAccessError: token unavailable, or a key with this label exists.
        """
        parsed = parse(uri)
        if parsed.object != validate_key_id(key_id):
            raise KeyAccessError(f"signer URI names object {parsed.object}, not key {key_id}")
        session = _session(parsed, secrets)
        try:
            if list(session.get_objects({Attribute.LABEL: key_id})):
                raise KeyAccessError(
                    f"token {parsed.token!r} already holds an object labelled {key_id}; "
                    "refusing to overwrite a signing key"
                )
            params = session.create_domain_parameters(
                KeyType.EC_EDWARDS,
                {Attribute.EC_PARAMS: encode_named_curve_parameters(ED25519_OID)},
                local=True,
            )
            public, private = params.generate_keypair(
                store=True,
                label=key_id,
                id=key_id.encode(),
                mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                private_template={
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.SIGN: True,
                },
            )
            raw = _raw_point(public[Attribute.EC_POINT])
        except BaseException:
            _release(session)
            raise
        return cls(PublicKey(key_id, raw), session, private)
