"""C2SP tlog-checkpoint: the note text that states a log's tree size and root hash.

The text is the origin line, the tree size in ASCII decimal with no leading
zeroes, the base64 root hash (32 bytes), then optional non-empty extension
lines. Parsing is strict; :meth:`Checkpoint.text` writes the exact bytes
back. Signing and verifying the note around it is :mod:`._note`'s job, and
the policy that combines log key and witnesses is :mod:`._policy`'s.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from issuer.errors import FormatError
from issuer.tlog._merkle import HASH_SIZE
from issuer.tlog._vkey import decode_b64

MAX_TREE_SIZE = 2**63 - 1
_SIZE_RE = re.compile(r"0|[1-9][0-9]{0,18}")


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed statement: at ``size`` leaves, its root hash was ``root_hash``."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise ValueError("a checkpoint origin is one non-empty line")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise ValueError(f"tree size {self.size} is out of range")
        if len(self.root_hash) != HASH_SIZE:
            raise ValueError(f"a root hash is {HASH_SIZE} bytes")
        if any(not e or "\n" in e for e in self.extensions):
            raise ValueError("extension lines are non-empty single lines")

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Read a checkpoint body (a note text, with its final newline).

        Raises:
            FormatError: if the text is not a well-formed checkpoint.
        """
        if not text.endswith("\n"):
            raise FormatError("a checkpoint ends with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:  # noqa: PLR2004 - origin, size, root hash
            raise FormatError("a checkpoint has an origin, a tree size and a root hash line")
        origin, size, root, *extensions = lines
        if not origin:
            raise FormatError("the checkpoint origin is empty")
        if not _SIZE_RE.fullmatch(size) or int(size) > MAX_TREE_SIZE:
            raise FormatError(f"checkpoint tree size {size[:24]!r} is not a decimal size")
        root_hash = decode_b64(root, "the checkpoint root hash")
        if len(root_hash) != HASH_SIZE:
            raise FormatError(f"the checkpoint root hash is {len(root_hash)} bytes, not 32")
        if any(not e for e in extensions):
            raise FormatError("a checkpoint extension line is empty")
        return cls(origin, int(size), root_hash, tuple(extensions))

    def text(self) -> str:
        """The checkpoint body, exactly as signed."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"
