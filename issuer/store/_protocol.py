"""The registry as the rest of the toolkit sees it: one typed protocol, whatever the database.

The pipeline, the registry commands, re-issuance, publishing and the
transparency log depend on :class:`Store`, never on a backend.
:class:`~issuer.store._sql.SqlStore` implements it over SQLite
(:class:`~issuer.store._sqlite.SqliteDb`) and PostgreSQL
(:class:`~issuer.store._postgres.PostgresDb`); :func:`issuer.store.open_store`
picks one from the registry URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from issuer.errors import FormatError
from issuer.identifiers import PithNumber
from issuer.keys import PublicKey
from issuer.store._checked import CheckedRecord
from issuer.store._rows import (
    IssuedRecord,
    ListedRecord,
    NewRecord,
    PublishedRecord,
    PublishRow,
    PublishSource,
    SignedObjects,
)
from issuer.tlog import StoredCheckpoint

if TYPE_CHECKING:  # annotations only: the SQL store's module imports this one's neighbours
    from issuer.store._compact import EventRow, ReceiptRow
    from issuer.store._sql_reissue import ResignBatch


class Store(Protocol):
    """An open registry. Writes are atomic; reads see only committed records."""

    @property
    def name(self) -> str:
        """How messages name the registry: its path, or its URL without a password."""
        ...

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        ...

    @property
    def path(self) -> Path | None:
        """The registry file of a SQLite registry; ``None`` for a server."""
        ...

    def close(self) -> None:
        """Close the connection (SQLite: checkpoint the WAL first)."""
        ...

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc: object) -> None: ...

    def issued_versions(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """(arXiv id, version) → canonical_sha256 for those already issued (batched queries)."""
        ...

    def versions_of(self, source_ids: Iterable[str]) -> dict[str, dict[int, str]]:
        """arXiv id → {version: canonical_sha256} of its issued versions, for each id given."""
        ...

    def record(self, pith_number: str | PithNumber) -> IssuedRecord | None:
        """The record with this Pith number."""
        ...

    def by_code_prefix(self, prefix: str) -> list[str]:
        """Every Pith number whose code starts with ``prefix``: all candidates, none picked."""
        ...

    def by_version(self, source_id: str, version: int) -> list[str]:
        """The record of one arXiv version (a list: empty or one)."""
        ...

    def current_arxiv(self, source_id: str) -> list[str]:
        """Where the unversioned arXiv id points now: the newest issued version."""
        ...

    def alias_history(self, source_id: str) -> list[dict[str, Any]]:
        """Every record the unversioned arXiv id has pointed at, oldest first."""
        ...

    def events(self, pith_number: str) -> list[dict[str, Any]]:
        """Every event about the record."""
        ...

    def chain_head(self, pith_number: str, target: str) -> str | None:
        """The newest event of a chain: the one no other event names as prev_event."""
        ...

    def receipt(self, pith_number: str) -> dict[str, Any]:
        """The record's receipt."""
        ...

    def keys_used(self) -> list[PublicKey]:
        """Every key the registry has signed with."""
        ...

    def short_collisions(self) -> list[dict[str, str]]:
        """Recorded short-alias collisions."""
        ...

    def count(self) -> int:
        """How many records are issued."""
        ...

    def records(self) -> Iterator[IssuedRecord]:
        """Every record, in issuance order."""
        ...

    def add_key(self, key: PublicKey) -> None:
        """Remember a key the registry signs with."""
        ...

    def write_records(self, batch: list[NewRecord]) -> tuple[list[NewRecord], int]:
        """Write a batch in one transaction: each record with its receipt, event and aliases."""
        ...

    def write_checked(
        self, batch: list[CheckedRecord], key: PublicKey
    ) -> tuple[list[CheckedRecord], int]:
        """Write records whose rows were checked under ``key`` where they were signed."""
        ...

    def append_event(self, event: dict[str, Any]) -> None:
        """Append one event to its chain."""
        ...

    def signed_batch(self, after: int, limit: int) -> list[SignedObjects]:
        """The receipts and events of up to ``limit`` records with row id above ``after``."""
        ...

    def resign_batch(self, after: int, limit: int) -> ResignBatch | None:
        """The compact rows of up to ``limit`` records with row id above ``after``, and keys."""
        ...

    def write_resigned(
        self,
        receipts: list[tuple[int, str, ReceiptRow]],
        events: list[tuple[int, int, EventRow]],
    ) -> None:
        """Store re-signed receipts and events as the rows the re-signing process made."""
        ...

    def write_signatures(
        self, receipts: list[tuple[int, str, bytes]], events: list[tuple[int, bytes]]
    ) -> None:
        """Store re-signed receipts and events, atomically."""
        ...

    def log_size(self) -> int:
        """How many leaves the log holds."""
        ...

    def log_entries(self, start: int, stop: int) -> Iterator[bytes]:
        """The entries of leaves ``[start, stop)``, in order."""
        ...

    def log_leaves_of(self, pith_number: str) -> list[tuple[int, bytes]]:
        """(leaf index, entry) of every leaf about a record, in log order."""
        ...

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> StoredCheckpoint:
        """Keep a signed checkpoint (the newest is the current one); returns it with its id."""
        ...

    def checkpoints(
        self, origin: str | None = None, *, latest: bool = False
    ) -> list[StoredCheckpoint]:
        """Stored checkpoints (of ``origin``, if given), oldest first; the newest if ``latest``."""
        ...

    def checkpoint(self, checkpoint_id: int) -> StoredCheckpoint | None:
        """The stored checkpoint with this id."""
        ...

    def published_checkpoint(self, tree_id: str) -> int | None:
        """The id of the checkpoint whose tiles are in place in the tree, if any."""
        ...

    def mark_checkpoint_published(self, tree_id: str, checkpoint_id: int) -> None:
        """Record that the tree now serves this checkpoint and its tiles."""
        ...

    def publish_tree(self, tree_id: str, outdir: str) -> None:
        """Register a static tree by its id; a tree made anew at ``outdir`` replaces the old one."""
        ...

    def publish_trees(self) -> list[tuple[str, str]]:
        """(tree id, output directory) of every static tree published from this registry."""
        ...

    def publish_rows(self, tree_id: str, after: int, limit: int) -> list[PublishRow]:
        """Up to ``limit`` records after row id ``after``, with what ``tree_id`` holds of each."""
        ...

    def publish_sources(self, rows: list[PublishRow]) -> dict[int, PublishSource | FormatError]:
        """What each record's files are built from, by row id (a refused record: its error)."""
        ...

    def events_mark(self, row_id: int) -> int:
        """The newest event row of a record: read before its events, checked when marking."""
        ...

    def mark_published(self, tree_id: str, rows: list[PublishedRecord]) -> None:
        """Record that these records' files are in place in the tree (after writing them)."""
        ...

    def unmark_published(self, tree_id: str, row_ids: list[int]) -> None:
        """Forget that these records are published in the tree (before rewriting their files)."""
        ...

    def published_years(self, tree_id: str) -> dict[int, int]:
        """Year → how many records of that year the tree holds."""
        ...

    def published_listing(self, tree_id: str) -> Iterator[ListedRecord]:
        """Every record the tree holds, by year then issuance order, for the index pages."""
        ...
