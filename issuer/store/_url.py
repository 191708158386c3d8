"""Registry URLs: which database a ``--registry`` / ``PITH_REGISTRY`` value names.

- a path, or ``sqlite:PATH`` (``sqlite:///abs/path`` too): the embedded SQLite registry;
- ``postgresql://…`` or ``postgres://…``: a PostgreSQL registry (libpq's URL form).

Anything else that starts like a URL scheme (``mysql://…``, a mistyped
``postgres:/…``) is refused with the list of schemes: it is never taken as a
file name, which would quietly create a SQLite file under ``./postgres:/…``.
A path that really has a colon in its first part is written ``sqlite:PATH``
or ``./PATH``.

A password in a URL given on the command line is refused (any user can read
another's command line); the environment (``PITH_REGISTRY``, ``PGPASSWORD``),
``PGPASSFILE`` or ``~/.pgpass`` carry it. :attr:`RegistryUrl.display` never
shows a password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from issuer._fs import shown_path
from issuer.errors import UsageError

SCHEMES = ("sqlite:PATH", "postgresql://", "postgres://")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_POSTGRES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class RegistryUrl:
    """A parsed registry URL: a SQLite path, or a PostgreSQL connection string."""

    path: Path | None = None  # SQLite
    conninfo: str | None = None  # PostgreSQL, as given (it may hold a password from the env)

    @property
    def display(self) -> str:
        """How messages and ``--json`` name the registry: never with a password."""
        if self.path is not None:
            return shown_path(self.path)
        return redact(self.conninfo or "")

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite registry."""
        return self.path is not None


def parse_registry_url(value: str | Path, *, from_command_line: bool = False) -> RegistryUrl:
    """Parse a registry URL.

    Args:
        value: a path, ``sqlite:PATH``, or ``postgresql://…``.
        from_command_line: the value was typed as an argument, where a password
            would be visible to every user of the machine: refuse one.

    Raises:
        UsageError: an unknown scheme, or a password on the command line.
    """
    if isinstance(value, Path):
        return RegistryUrl(path=value.expanduser())
    text = value.strip()
    if not text:  # Path("") is the working directory: never a registry meant
        raise UsageError(
            "the registry URL is empty", hint="give a path, sqlite:PATH or postgresql://…"
        )
    if text.startswith(_POSTGRES):
        if from_command_line and _has_password(text):
            raise UsageError(
                f"a password in --registry is visible to every user of this machine: "
                f"{redact(text)}",
                hint="drop it from the URL and set PGPASSWORD, use ~/.pgpass (or PGPASSFILE), "
                "or pass the whole URL in PITH_REGISTRY",
            )
        return RegistryUrl(conninfo=text)
    if text.startswith("sqlite:"):
        rest = text[len("sqlite:") :]
        if rest.startswith("//"):
            rest = rest[2:]
        if not rest:
            raise UsageError("sqlite: needs a path", hint="e.g. sqlite:registry.sqlite3")
        return RegistryUrl(path=Path(rest).expanduser())
    scheme = _SCHEME.match(text)
    if scheme:
        raise UsageError(
            f"unsupported registry URL scheme {scheme.group(1)!r} in {redact(text)}",
            hint=f"use one of: {', '.join(SCHEMES)}, or a plain path (write ./NAME for a file "
            "whose name has a colon)",
        )
    return RegistryUrl(path=Path(text).expanduser())


def _has_password(url: str) -> bool:
    userinfo, rest = _split_userinfo(url)
    if userinfo is not None and ":" in userinfo:
        return True
    return any(_is_password(p) for p in rest.partition("?")[2].split("&"))


def redact(url: str) -> str:
    """``url`` without any password (in its user part or its ``password=`` parameter).

    Only the password is taken out; the rest is shown as given. The URL is cut
    up as libpq cuts it: the user part runs to the first ``@`` before any ``/``
    (``?`` and ``#`` included), the parameters follow the first ``?`` after it,
    and there is no fragment (a ``#`` is part of a value).
    """
    userinfo, rest = _split_userinfo(url)
    head, mark, query = rest.partition("?")
    if userinfo is not None:
        head = f"{userinfo.partition(':')[0]}@{head}"
    shown = url[: url.index("://") + 3] + head if "://" in url else head
    if not mark:
        return shown
    kept = [p for p in query.split("&") if not _is_password(p)]
    return shown + (f"?{'&'.join(kept)}" if kept else "")


def _split_userinfo(url: str) -> tuple[str | None, str]:
    """(user part or ``None``, what follows it) of ``url``, after its ``scheme://``."""
    rest = url.partition("://")[2] if "://" in url else url
    at, slash = rest.find("@"), rest.find("/")
    if at < 0 or 0 <= slash < at:
        return None, rest
    return rest[:at], rest[at + 1 :]


def _is_password(parameter: str) -> bool:
    """Whether one ``key=value`` of a URL's query sets the password (libpq decodes the key)."""
    return unquote(parameter.partition("=")[0]) == "password"
