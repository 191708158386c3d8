"""Shared CLI plumbing: option checks, secrets from the environment or a prompt, JSON output."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from issuer import cjson
from issuer._time import parse_user_time
from issuer.errors import FormatError, KeyAccessError
from issuer.keys import Signer
from issuer.keys.local import LocalKeys, default_home
from issuer.store import default_registry


def now_option(value: str | None) -> str | None:
    """Validate ``--now`` early, so a bad time is a usage error (exit 2), not a refusal."""
    if value is not None:
        try:
            parse_user_time(value)
        except FormatError as e:
            raise typer.BadParameter(e.diagnostics()) from e
    return value


PASSPHRASE_ENV = "PITH_KEY_PASSPHRASE"  # noqa: S105 - the name of a variable, not a secret
PIN_ENV = "PITH_PKCS11_PIN"
_SECRET_ENV = {"passphrase": PASSPHRASE_ENV, "pin": PIN_ENV}


def cli_secrets(*, confirm: bool = False) -> Callable[[str], str]:
    """A secrets handler: the environment variable, else a terminal prompt, else an error.

    Args:
        confirm: ask twice (when creating a key), so a typo cannot lock the key away.
    """

    def handler(name: str) -> str:
        env = _SECRET_ENV.get(name)
        if env and os.environ.get(env):
            return os.environ[env]
        if not sys.stdin.isatty():
            raise KeyAccessError(
                f"a {name} is needed and there is no terminal to ask on",
                hint=f"set {env}" if env else None,
            )
        value = getpass.getpass(f"{name.capitalize()}: ")
        if confirm and getpass.getpass(f"Repeat {name}: ") != value:
            raise KeyAccessError(f"the two {name}s differ")
        return value

    return handler


def emit_json(value: Any) -> None:
    """Write ``value`` to stdout as one line of canonical JSON."""
    sys.stdout.buffer.write(cjson.dumps(value) + b"\n")
    sys.stdout.flush()


def home_of(ctx: typer.Context) -> Path:
    """The registry home chosen by ``--home`` / ``PITH_HOME``."""
    obj = ctx.find_root().obj or {}
    home = obj.get("home")
    return Path(home) if home else default_home()


def open_signer(ctx: typer.Context, key_id: str | None, signer_uri: str | None) -> Signer:
    """The checked signer for ``key_id`` (default: the current key).

    ``signer_uri`` defaults to where ``pith keys generate`` put the key.

    Raises:
        KeyAccessError: no such key, no signer, or the signer holds another key.
    """
    local = LocalKeys(home_of(ctx))
    key = local.get(key_id) if key_id else local.current()
    uri = signer_uri or local.signer_uri(key.key_id)
    return Signer.from_uri(uri, key, cli_secrets())


def registry_path(value: Path | None) -> Path:
    """``--registry`` or the default registry path."""
    return value or default_registry()
