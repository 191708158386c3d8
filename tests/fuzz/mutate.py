"""Deterministic structural mutation of JSON documents, driven by a byte string.

A fuzzer mutates bytes; these helpers read those bytes as a sequence of
choices (which node, which operation, which replacement), so that
coverage-guided fuzzing explores *shapes* of a bundle rather than mostly
producing invalid JSON. The same bytes always give the same mutation.
"""

from __future__ import annotations

import copy
from typing import Any

EVENT_ID = "sha256:" + "ab" * 32

# Replacement values: every JSON type, the boundaries the toolkit checks, and
# values that look like the fields they replace.
POOL: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    1,
    -1,
    2**53 - 1,
    -(2**53 - 1),
    "",
    "x",
    "\u0000",
    "\U0001f600",
    "\ue000",
    EVENT_ID,
    "2026-05-17T23:59:22Z",
    "2026-05-17T23:59:22.000000Z",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "record_created",
    "graph_snapshot",
    "source_alias",
    "ed25519",
    "pith-v1-2026-05",
    "A" * 88,
    "0" * 64,
    [],
    {},
    [None],
    {"": None},
)

FIELD_NAMES = (
    "event_id",
    "event_type",
    "payload",
    "receipt",
    "signature",
    "signer",
    "key_id",
    "prev_event",
    "supersedes",
    "state_sha256",
    "canonical_record",
    "alias_kind",
    "alias_value",
    "unexpected",
)


class Choices:
    """Reads choices from ``data``; once it runs out, every choice is 0."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def below(self, n: int) -> int:
        """A number in ``range(n)`` (``n`` ≥ 1), from the next two bytes."""
        if self._at >= len(self._data):
            return 0
        raw = int.from_bytes(self._data[self._at : self._at + 2], "big")
        self._at += 2
        return raw % n

    def pick(self, options: tuple[Any, ...] | list[Any]) -> Any:
        """One of ``options``."""
        return options[self.below(len(options))]

    def text(self) -> str:
        """A short string taken from the remaining bytes."""
        n = self.below(12)
        chunk = self._data[self._at : self._at + n]
        self._at += n
        return chunk.decode("utf-8", "replace")


def _containers(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every container in ``value``, parents before children."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                found += _containers(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                found += _containers(item, (*path, index))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _leaf(choices: Choices, doc: Any, old: Any) -> Any:
    kind = choices.below(6)
    if kind == 0 and isinstance(old, str) and old:
        cut = choices.below(len(old) + 1)
        return old[:cut] + choices.text() + old[cut + 1 :]
    if kind == 1 and isinstance(old, int) and not isinstance(old, bool):
        return choices.pick((old + 1, old - 1, -old, old * 2 if abs(old) < 2**52 else 0))
    if kind == 2:  # a value from elsewhere in the same document: right type, wrong place
        places = _containers(doc)
        place = _at(doc, choices.pick(places))
        items = list(place.values()) if isinstance(place, dict) else list(place)
        return copy.deepcopy(choices.pick(items)) if items else None
    if kind == 3:
        return choices.text()
    return copy.deepcopy(choices.pick(POOL))


def mutate(doc: Any, choices: Choices, rounds: int = 3) -> Any:
    """A mutated deep copy of ``doc``: 1 to ``rounds`` structural edits."""
    doc = copy.deepcopy(doc)
    for _ in range(1 + choices.below(rounds)):
        path = choices.pick(_containers(doc))
        node = _at(doc, path)
        op = choices.below(5)
        if isinstance(node, dict):
            keys = list(node)
            if op == 0 and keys:
                del node[choices.pick(keys)]
            elif op == 1:
                node[choices.pick(FIELD_NAMES)] = _leaf(choices, doc, None)
            elif keys:
                key = choices.pick(keys)
                node[key] = _leaf(choices, doc, node[key])
        elif isinstance(node, list):
            if op == 0 and node:
                del node[choices.below(len(node))]
            elif op == 1 and node:
                node.insert(choices.below(len(node) + 1), copy.deepcopy(choices.pick(node)))
            elif op == 2 and len(node) > 1:
                i, j = choices.below(len(node)), choices.below(len(node))
                node[i], node[j] = node[j], node[i]
            elif node:
                index = choices.below(len(node))
                node[index] = _leaf(choices, doc, node[index])
            else:
                node.append(_leaf(choices, doc, None))
    return doc
