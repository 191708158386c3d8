"""Reading the key home's JSON documents: a malformed one is a :class:`FormatError` naming it.

Key documents, ``signers.json`` and ``seen-keys.json`` may have been
written by someone else, or damaged. Whatever their bytes hold (nesting
hundreds of levels deep, an integer of thousands of digits, a huge array),
reading them ends in a value or in one ``FormatError`` that names the file
and says "malformed", never in a ``ValueError`` or ``RecursionError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from issuer import cjson
from issuer._fs import read_file_at_most
from issuer.errors import FormatError


def malformed(path: Path, what: str, why: str, *, hint: str | None = None) -> FormatError:
    """The error for a document that cannot be read as ``what``."""
    return FormatError(f"{path}: malformed {what}: {why}", hint=hint)


def read_document(path: Path, what: str, *, hint: str | None = None) -> Any:
    """The parsed JSON of ``path``, a ``what`` (e.g. "signers file").

    Raises:
        FileNotFoundError: the file does not exist (callers decide what that means).
        FormatError: unreadable, or not strict JSON.
    """
    try:
        data = read_file_at_most(path, cjson.MAX_DOCUMENT_BYTES)
    except FileNotFoundError:
        raise
    except FormatError as e:  # larger than any document
        raise malformed(path, what, e.message, hint=hint) from e
    except OSError as e:
        raise FormatError(f"cannot read {what} {path}: {e.strerror}") from e
    try:
        return cjson.loads(data)
    except FormatError as e:
        raise malformed(path, what, e.message, hint=hint) from e
    except RecursionError as e:
        raise malformed(path, what, "nested too deeply", hint=hint) from e
    except ValueError as e:  # int(): more digits than Python converts (sys.int_info)
        raise malformed(path, what, "a number is too long", hint=hint) from e
