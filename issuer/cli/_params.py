"""Parsers of command-line values shared by several commands."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import typer

from issuer._fs import shown_path
from issuer.errors import UsageError
from issuer.fetch import shown_url


def path_parser(value: str) -> Path:
    """A path argument; an empty one (an unset shell variable) is refused, not taken as ``.``.

    Raises:
        typer.BadParameter: ``value`` is empty (exit 2).
    """
    if not value:
        raise typer.BadParameter("an empty path; name a file or directory (. for this one)")
    return Path(value)


path_parser.__name__ = "path"  # the metavar typer shows, <path> as for every other path


def check_base_url(base_url: str) -> None:
    """Refuse a ``--base-url`` that is not a public http(s) URL.

    It is written into every bundle, key record and page, for anyone to read:
    a user or password in it would be published with them.

    Raises:
        UsageError: not http(s), not Unicode text, or holding a user or password (exit 2).
    """
    if not base_url.startswith(("https://", "http://")):
        raise UsageError("--base-url must be an http(s) URL")
    try:
        base_url.encode()
    except UnicodeEncodeError as e:  # a command-line byte that is not UTF-8
        raise UsageError(
            f"--base-url must be Unicode text: {shown_path(base_url)}",
            hint="write a byte that is not UTF-8 percent-encoded, as %FF",
        ) from e
    if "@" in urlsplit(base_url).netloc:
        raise UsageError(
            f"--base-url must be public, without a user or password: {shown_url(base_url)}",
            hint="it is written into every bundle and page; give the URL readers use",
        )
