"""Shared CLI plumbing: option checks, secrets from the environment or a prompt, JSON output."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from issuer import cjson
from issuer._time import parse_user_time
from issuer.errors import FormatError, KeyAccessError, VerificationError
from issuer.keys import Signer
from issuer.keys.keyset import KeySet
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


def open_signer(
    ctx: typer.Context, key_id: str | None, signer_uri: str | None, now: datetime
) -> Signer:
    """The checked signer for ``key_id`` (default: the key that signs at ``now``).

    ``signer_uri`` defaults to where ``pith keys generate`` put the key. A key
    whose signatures made ``now`` would not count (rotated, revoked) is refused
    here, before anything is signed with it.

    Raises:
        KeyAccessError: no such key, no signer, the signer holds another key, or the
            key cannot sign at ``now``.
    """
    local = LocalKeys(home_of(ctx))
    keys = local.keys()
    key = local.get(key_id) if key_id else local.signing_key(now)
    try:
        key = keys.require(key.key_id, key.fingerprint, now)
    except VerificationError as e:
        raise KeyAccessError(
            f"refusing to sign with {key.key_id}: {e.message}",
            hint="sign with the current key (see pith keys list)",
        ) from e
    uri = signer_uri or local.signer_uri(key.key_id)
    return Signer.from_uri(uri, key, cli_secrets())


def local_keys(ctx: typer.Context) -> KeySet:
    """The operator's own keys with their rotations and revocations applied."""
    return LocalKeys(home_of(ctx)).keys()


def progress_bar(what: str) -> Progress:
    """A count-of-total progress bar on stderr (stdout is for ``--json``), on a terminal only."""
    return Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[counts]}"),
        console=Console(stderr=True),
        disable=not sys.stderr.isatty(),
    )


def registry_path(value: Path | None) -> Path:
    """``--registry`` or the default registry path."""
    return value or default_registry()
