"""The registry and the signer that a command's options name."""

from __future__ import annotations

import os
from datetime import datetime

import typer

from issuer.cli._output import home_of
from issuer.cli._secrets import PassphraseSource, prompt_secrets
from issuer.errors import OutputError
from issuer.keys import Signer
from issuer.keys.keyset import KeySet
from issuer.keys.local import LocalKeys
from issuer.store import REGISTRY_ENV, RegistryUrl, Store, open_store, parse_registry_url


def open_signer(
    ctx: typer.Context,
    key_id: str | None,
    signer_uri: str | None,
    now: datetime,
    passphrase: PassphraseSource | None = None,
) -> Signer:
    """The checked signer for ``key_id`` (default: the key that signs at ``now``).

    ``signer_uri`` defaults to where ``pith keys generate`` put the key. The
    key is chosen by :meth:`LocalKeys.key_to_sign_with`, which refuses a key
    whose signatures made ``now`` would not count (rotated, revoked).

    Raises:
        KeyAccessError: no such key, no signer, the signer holds another key, or the
            key cannot sign at ``now``.
    """
    local = LocalKeys(home_of(ctx))
    key = local.key_to_sign_with(key_id, now)
    uri = signer_uri or local.signer_uri(key.key_id)
    return Signer.from_uri(uri, key, prompt_secrets(key.key_id, uri, passphrase=passphrase))


def local_keys(ctx: typer.Context) -> KeySet:
    """The operator's own keys with their rotations and revocations applied."""
    return LocalKeys(home_of(ctx)).keys()


def registry_url(ctx: typer.Context, value: str | RegistryUrl | None) -> RegistryUrl:
    """``--registry`` (or ``PITH_REGISTRY``), else ``registry.sqlite3`` in the ``--home``.

    Raises:
        UsageError: an unknown URL scheme, or a password typed on the command line.
    """
    if isinstance(value, RegistryUrl):
        return value
    if value is not None:
        source = ctx.get_parameter_source("registry_file")
        typed = source is not None and source.name == "COMMANDLINE"
        return parse_registry_url(value, from_command_line=typed)
    if os.environ.get(REGISTRY_ENV):  # typer reads it for --registry; this is for callers
        return parse_registry_url(os.environ[REGISTRY_ENV])
    return RegistryUrl(path=home_of(ctx) / "registry.sqlite3")


def open_registry(
    ctx: typer.Context,
    value: str | RegistryUrl | None,
    *,
    must_exist: bool = True,
    adopt_empty: bool = False,
) -> Store:
    """The registry of ``--registry`` / ``--home``; only ``pith issue`` may create it.

    (And ``pith registry migrate``, which alone may create it in an empty file:
    ``adopt_empty``.)

    Raises:
        UsageError: an unknown URL scheme, or a password typed on the command line.
        NotFoundError: ``must_exist`` and there is no registry there.
        OutputError: the directory it would be created in does not exist.
        StoreError: unreachable, locked, corrupt, or of a newer schema.
    """
    url = registry_url(ctx, value)
    path = url.path
    if path is not None and not must_exist and not path.parent.is_dir():
        raise OutputError(
            f"cannot create registry {path}: {path.parent} is not a directory",
            hint=f"create the directory first (mkdir -p {path.parent}) or fix --registry",
        )
    return open_store(url, must_exist=must_exist, adopt_empty=adopt_empty)
