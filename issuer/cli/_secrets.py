"""Secrets for signers, from the operator: a file, a file descriptor, the environment, a prompt.

The library never prompts; it asks a secrets handler for ``"passphrase"`` or
``"pin"``. The handlers made here look, in order, at:

- a passphrase file (``--passphrase-file PATH``; its first line);
- a file descriptor (``--passphrase-fd N``, as gpg's: its first line);
- ``PITH_KEY_PASSPHRASE_FILE``, then ``PITH_KEY_PASSPHRASE``
  (for the key ``pith keys rotate`` rotates to: ``--new-passphrase-file``,
  ``--new-passphrase-fd``, ``PITH_NEW_KEY_PASSPHRASE``, then the current key's sources);
- ``PITH_PKCS11_PIN`` for a PIN;
- else a prompt on the terminal naming the key and its signer, else an error.

A secret is never taken from the command line (it would sit in shell history
and in ``ps``), and never printed.
"""

from __future__ import annotations

import errno
import getpass
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from issuer.cli._params import path_parser
from issuer.errors import KeyAccessError, UsageError
from issuer.keys import SecretsHandler, shown_uri
from issuer.keys.local import SecretsFor

PASSPHRASE_ENV = "PITH_KEY_PASSPHRASE"  # noqa: S105 - the name of a variable, not a secret
PASSPHRASE_FILE_ENV = "PITH_KEY_PASSPHRASE_FILE"  # noqa: S105 - a variable name
NEW_PASSPHRASE_ENV = "PITH_NEW_KEY_PASSPHRASE"  # noqa: S105 - a variable name
PIN_ENV = "PITH_PKCS11_PIN"
MAX_SECRET = 64 * 1024


def _first_line(data: bytes) -> str:
    line = data.split(b"\n", 1)[0].removesuffix(b"\r")
    return line.decode("utf-8")


@dataclass
class PassphraseSource:
    """Where one key's passphrase comes from (read once: a descriptor cannot be read twice).

    Args:
        file: a file whose first line is the passphrase.
        fd: an open file descriptor to read the first line from.
        env: environment variables to try, in order (``*_FILE``: a file holding it).
        then: the source to fall back to (the current key's, for a new key).
        hint: how to give it without a terminal.
    """

    file: Path | None = None
    fd: int | None = None
    env: tuple[str, ...] = (PASSPHRASE_FILE_ENV, PASSPHRASE_ENV)
    then: PassphraseSource | None = None
    hint: str = f"set {PASSPHRASE_ENV}, or {PASSPHRASE_FILE_ENV} to a file holding it"
    """How to give this passphrase without a terminal (the commands' options differ)."""
    _value: str | None = field(default=None, repr=False)

    def get(self) -> str | None:
        """The passphrase, if a non-interactive source has one.

        Raises:
            KeyAccessError: a given file or descriptor cannot be read.
        """
        if self._value is None:
            self._value = self._read()
        if self._value is None and self.then is not None:
            return self.then.get()
        return self._value

    def _read(self) -> str | None:
        if self.file is not None:
            return _read_file(self.file)
        if self.fd is not None:
            return _read_fd(self.fd)
        for name in self.env:
            value = os.environ.get(name)
            if not value:
                continue
            return _read_file(Path(value)) if name.endswith("_FILE") else value
        return None


def _read_file(path: Path) -> str:
    try:
        with path.open("rb") as f:
            return _first_line(f.read(MAX_SECRET))
    except OSError as e:
        raise KeyAccessError(f"cannot read the passphrase file {path}: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise KeyAccessError(f"the passphrase file {path} is not UTF-8 text") from e


def _read_fd(fd: int) -> str:
    data = b""
    try:
        while b"\n" not in data and len(data) < MAX_SECRET:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
        return _first_line(data)
    except (OSError, OverflowError) as e:  # OverflowError: a number no descriptor can have
        why = e.strerror if isinstance(e, OSError) else os.strerror(errno.EBADF)
        raise KeyAccessError(
            f"cannot read a passphrase from file descriptor {fd}: {why}",
            hint="open it in the shell that runs pith, e.g. --passphrase-fd 3 3<FILE",
        ) from e
    except UnicodeDecodeError as e:
        raise KeyAccessError(f"the passphrase from file descriptor {fd} is not UTF-8") from e


def prompt_secrets(
    key_id: str,
    signer_uri: str,
    *,
    new: bool = False,
    passphrase: PassphraseSource | None = None,
) -> SecretsHandler:
    """The secrets handler for ``key_id`` held at ``signer_uri``.

    Args:
        key_id: the key the secret unlocks, named in the prompt.
        signer_uri: where it is held, named in the prompt.
        new: the key is being created: a prompt asks twice, so a typo cannot lock it away.
        passphrase: where a passphrase comes from (default: the environment).
    """
    source = passphrase or PassphraseSource()
    where = f"key {key_id} ({shown_uri(signer_uri)})"

    def handler(name: str) -> str:
        if name == "passphrase":
            value, ways = source.get(), source.hint
        elif name == "pin":
            value, ways = os.environ.get(PIN_ENV) or None, f"set {PIN_ENV}"
        else:
            value, ways = None, f"give the {name} on a terminal"
        if value is not None:
            return value
        if not sys.stdin.isatty():
            raise KeyAccessError(
                f"a {name} for {where} is needed and there is no terminal to ask on",
                hint=ways,
            )
        label = "PIN" if name == "pin" else name.capitalize()
        value = getpass.getpass(f"{'New ' + name if new else label} for {where}: ")
        if new and getpass.getpass(f"Repeat the {name} for {where}: ") != value:
            raise KeyAccessError(f"the two {name}s for {where} differ")
        return value

    return handler


def secrets_for(passphrase: PassphraseSource | None = None) -> SecretsFor:
    """Secrets handlers for any key (:func:`prompt_secrets`), passphrases from ``passphrase``."""

    def make(key_id: str, signer_uri: str, *, new: bool = False) -> SecretsHandler:
        return prompt_secrets(key_id, signer_uri, new=new, passphrase=passphrase)

    return make


PassphraseFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        parser=path_parser,
        help="Read the key file passphrase from the first line of this file "
        "(else PITH_KEY_PASSPHRASE_FILE, PITH_KEY_PASSPHRASE, or a prompt).",
    ),
]
PassphraseFdOpt = Annotated[
    int | None,
    typer.Option(
        "--passphrase-fd",
        help="Read the key file passphrase from the first line of this open file descriptor.",
    ),
]


def passphrase_source(file: Path | None, fd: int | None) -> PassphraseSource:
    """Where ``--passphrase-file`` / ``--passphrase-fd`` say the passphrase is (one of them).

    Raises:
        UsageError: both were given.
    """
    if file is not None and fd is not None:
        raise UsageError("give --passphrase-file or --passphrase-fd, not both")
    return PassphraseSource(
        file=file,
        fd=fd,
        hint="set PITH_KEY_PASSPHRASE, or use --passphrase-file PATH / --passphrase-fd N",
    )
