"""Parsers of command-line values shared by several commands."""

from __future__ import annotations

from pathlib import Path

import typer


def path_parser(value: str) -> Path:
    """A path argument; an empty one (an unset shell variable) is refused, not taken as ``.``.

    Raises:
        typer.BadParameter: ``value`` is empty (exit 2).
    """
    if not value:
        raise typer.BadParameter("an empty path; name a file or directory (. for this one)")
    return Path(value)


path_parser.__name__ = "path"  # the metavar typer shows, <path> as for every other path
