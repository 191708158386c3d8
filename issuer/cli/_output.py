"""Shared CLI plumbing: option parsing that maps library errors to usage errors."""

from __future__ import annotations

import typer

from issuer._time import parse_user_time
from issuer.errors import FormatError


def now_option(value: str | None) -> str | None:
    """Validate ``--now`` early, so a bad time is a usage error (exit 2), not a refusal."""
    if value is not None:
        try:
            parse_user_time(value)
        except FormatError as e:
            raise typer.BadParameter(e.diagnostics()) from e
    return value
