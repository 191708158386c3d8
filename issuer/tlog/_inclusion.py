"""Reading a bundle's inclusion proofs at a verifier's pace (issue 16 §4).

A verifier reads three ``pith-tlog-inclusion-v1`` objects per bundle.
:func:`inclusion_fields` reads one as :func:`~issuer.tlog.parse_inclusion`
does, without building its dataclass or encoding its checkpoint, and
:func:`inclusion_spelled` reads the same fields but leaves the proof hashes as
spelt (for :class:`~issuer.tlog.SpelledInclusions`). Anything
its quick checks do not accept goes through :func:`~issuer.tlog.parse_inclusion`
itself, so every value, refusal and message is that function's (pinned by
``tests/unit/tlog/test_inclusion_fields.py``). Checking the proofs is
:mod:`issuer.verify`'s job.
"""

from __future__ import annotations

from typing import Any

from issuer.tlog._log import (
    MAX_PROOF_HASHES,
    PROOF_FIELDS,
    PROOF_TYPE,
    _proof_hashes,
    parse_inclusion,
)

#: ``(log_origin, leaf_index, tree_size, leaf, proof hashes, checkpoint text)``
InclusionFields = tuple[str, int, int, str, tuple[bytes, ...], str]


#: ``(log_origin, leaf_index, tree_size, leaf, proof as spelt, checkpoint text)``
InclusionSpelled = tuple[str, int, int, str, list[Any], str]


def inclusion_spelled(obj: Any) -> InclusionSpelled | None:
    """The fields of a ``pith-tlog-inclusion-v1`` object of the usual shape, its hashes as spelt.

    None when any of :func:`parse_inclusion`'s checks before the proof hashes
    would not pass, or needs a closer look; the hashes themselves are not read.
    """
    if type(obj) is dict and len(obj) == len(PROOF_FIELDS):
        try:  # with as many keys, these are all of them: exactly PROOF_FIELDS
            kind, origin, index = obj["type"], obj["log_origin"], obj["leaf_index"]
            size, leaf, proof, checkpoint = (
                obj["tree_size"],
                obj["leaf"],
                obj["proof"],
                obj["checkpoint"],
            )
        except KeyError:
            return None
        if (
            kind == PROOF_TYPE
            and type(index) is int
            and type(size) is int
            and 0 <= index < size
            and type(origin) is str
            and type(leaf) is str
            and type(checkpoint) is str
            and type(proof) is list
            and len(proof) <= MAX_PROOF_HASHES
        ):
            return origin, index, size, leaf, proof, checkpoint
    return None


def inclusion_fields(obj: Any) -> InclusionFields:
    """The fields of a ``pith-tlog-inclusion-v1`` object, read as :func:`parse_inclusion` reads it.

    The checkpoint is the object's text; :func:`parse_inclusion` gives its
    UTF-8 bytes (and fails on text that has none, as ``str.encode`` does).

    Raises:
        FormatError: exactly as :func:`parse_inclusion`.
    """
    spelled = inclusion_spelled(obj)
    if spelled is not None:
        # every check before the hashes passed: their refusal is parse_inclusion's next
        origin, index, size, leaf, proof, checkpoint = spelled
        return origin, index, size, leaf, _proof_hashes(proof), checkpoint
    parsed = parse_inclusion(obj)
    return (
        parsed.origin,
        parsed.leaf_index,
        parsed.tree_size,
        parsed.leaf,
        parsed.proof,
        parsed.checkpoint.decode(),
    )
