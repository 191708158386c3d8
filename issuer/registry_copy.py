"""Copying a whole registry between databases: SQLite to PostgreSQL and back, resumably.

:func:`copy_registry` moves every table row for row, ids included, in
foreign-key order (:data:`issuer.store.TABLES`), in batches: each batch is
one write transaction on the destination, under the registry's write lock.
A killed copy is run again: each table resumes after the destination's
largest primary key, so nothing is written twice.

The destination must be empty or a prefix of the source: before writing
anything, each table's last row in the destination must be the source's row
with that key, and the destination must hold exactly as many rows as the
source up to that key. Anything else (another registry's rows, a row changed
since, rows the source does not have) is refused, and nothing is written.

A finished copy is verified: every table holds as many rows on both sides,
the last row of each table is equal, and the bundles of a sample of records
(the first, the last and :data:`SAMPLE` random ones) built from each side
with the same throwaway signer and signing time are byte-identical.

The source should not be written while it is copied (stop issuance first): a
record issued meanwhile is copied or not, and a row that changed under the
copy makes the check fail. Both registries are migrated to the current
schema when opened. What the rows are is :mod:`issuer.store`'s; how the
command line shows progress is the CLI's.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from issuer import cjson
from issuer.bundles import build_bundle
from issuer.errors import FormatError, RegistryMismatchError, StoreError, UsageError
from issuer.identifiers import PithNumber
from issuer.keys import SeedSigner
from issuer.keys.keyset import KeySet
from issuer.registry import trusted_keys
from issuer.store import (
    SCHEMA_VERSION,
    TABLES,
    RawTables,
    RegistryUrl,
    Store,
    Table,
    open_store,
    parse_registry_url,
)

logger = logging.getLogger(__name__)

#: Rows per batch (one destination transaction) unless the caller says otherwise.
BATCH = 2000
#: Random records whose bundles are compared, besides the first and the last.
SAMPLE = 20
#: The base URL of the bundles built to compare (they are never published).
CHECK_BASE_URL = "https://registry-copy.invalid"


class CopyProgress(Protocol):
    """Told how far a copy got; the CLI draws it, tests count it."""

    def start(self, total_rows: int, done_rows: int) -> None:
        """The copy starts: ``total_rows`` in the source, ``done_rows`` already copied."""

    def advance(self, table: str, rows: int) -> None:
        """``rows`` more rows of ``table`` were committed to the destination."""

    def finish(self) -> None:
        """The copy ended (copied, refused or interrupted)."""


@dataclass(frozen=True)
class TableCopy:
    """What one table held and what this run wrote into it."""

    table: str
    rows: int  # rows in the source (and, after the copy, in the destination)
    already: int  # rows the destination held before this run
    copied: int  # rows this run wrote

    def to_dict(self) -> dict[str, int]:
        """The table's counts for ``--json``."""
        return {"rows": self.rows, "already": self.already, "copied": self.copied}


@dataclass(frozen=True)
class CopyResult:
    """A finished, verified copy."""

    source: str  # as messages show it: never with a password
    destination: str
    tables: list[TableCopy]
    verified: list[str]  # the Pith numbers whose bundles compared byte-identical

    @property
    def copied(self) -> int:
        """Rows this run wrote, over every table."""
        return sum(t.copied for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` output of ``pith registry copy``."""
        return {
            "source": self.source,
            "destination": self.destination,
            "tables": {t.table: t.to_dict() for t in self.tables},
            "rows": sum(t.rows for t in self.tables),
            "copied": self.copied,
            "verified_sample": len(self.verified),
            "verified_records": self.verified,
        }


def copy_registry(
    source: RegistryUrl | str,
    destination: RegistryUrl | str,
    *,
    batch: int = BATCH,
    progress: CopyProgress | None = None,
    sample: int = SAMPLE,
) -> CopyResult:
    """Copy every row of ``source`` into ``destination``, resuming a copy that was cut short.

    Args:
        source: the registry to copy (it must exist).
        destination: an empty registry, a new one (created), or one an
            earlier copy of ``source`` left part-way.
        batch: rows per destination transaction.
        progress: told of each committed batch.
        sample: random records whose bundles are compared, besides the first and last.

    Raises:
        UsageError: the two name the same registry, or ``batch`` is not positive.
        NotFoundError: there is no registry at ``source``.
        RegistryMismatchError: the destination is not a prefix of the source, or
            the finished copy does not compare equal (naming the table or record).
        StoreError: either database is unreachable, locked, or of a newer schema.
    """
    if batch < 1:
        raise UsageError(f"--batch must be at least 1, not {batch}")
    src_url = _parse(source)
    dst_url = _parse(destination)
    with open_store(src_url, must_exist=True) as src_store, open_store(dst_url) as dst_store:
        src, dst = RawTables(src_store), RawTables(dst_store)
        if src.same_database(dst):
            raise UsageError(
                f"cannot copy registry {src.name} onto itself ({dst.name})",
                hint="give another database or file as the destination",
            )
        for tables in (src, dst):
            if tables.schema_version() != SCHEMA_VERSION:
                raise StoreError(
                    f"registry {tables.name} is at schema {tables.schema_version()}, "
                    f"not {SCHEMA_VERSION}",
                    hint="open it with this toolkit's pith first, which migrates it",
                )
        plan = [_resume_point(src, dst, table) for table in TABLES]
        shown = progress or _Silent()
        shown.start(sum(p.rows for p in plan), sum(p.already for p in plan))
        try:
            copied = [_copy_table(src, dst, p, batch, shown.advance) for p in plan]
        finally:
            shown.finish()
        _check_counts(src, dst)
        _check_last_rows(src, dst)
        verified = _check_bundles(src, src_store, dst_store, sample)
    logger.info("copied %d rows from %s to %s", sum(copied), src.name, dst.name)
    return CopyResult(
        src_url.display,
        dst_url.display,
        [TableCopy(p.table.name, p.rows, p.already, n) for p, n in zip(plan, copied, strict=True)],
        verified,
    )


def _parse(url: RegistryUrl | str) -> RegistryUrl:
    return url if isinstance(url, RegistryUrl) else parse_registry_url(url)


class _Silent:
    def start(self, total_rows: int, done_rows: int) -> None:
        pass

    def advance(self, table: str, rows: int) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass(frozen=True)
class _Plan:
    table: Table
    rows: int  # in the source, when the copy started
    already: int  # in the destination
    after: tuple[Any, ...] | None  # the destination's largest key: copy from after it


def _resume_point(src: RawTables, dst: RawTables, table: Table) -> _Plan:
    """Where ``table``'s copy starts; refuses a destination that is not a prefix of the source.

    Raises:
        RegistryMismatchError: naming the table and the row.
    """
    rows = src.count(table)
    last = dst.last(table)
    if last is None:
        return _Plan(table, rows, 0, None)
    key = table.key_of(last)
    already = dst.count(table)
    theirs = src.row(table, key)
    if theirs is None or theirs != last:
        why = "a row the source does not have" if theirs is None else "a row that differs"
        raise _not_a_prefix(src, dst, f"{table.name} holds {why} (key {_show(key)})")
    if src.count_through(table, key) != already:
        raise _not_a_prefix(
            src,
            dst,
            f"{table.name} holds {already} rows up to key {_show(key)}, the source "
            f"{src.count_through(table, key)}",
        )
    return _Plan(table, rows, already, key)


def _not_a_prefix(src: RawTables, dst: RawTables, what: str) -> RegistryMismatchError:
    return RegistryMismatchError(
        f"{dst.name} is not a copy of {src.name} cut short: {what}; nothing was copied",
        hint="copy into an empty registry (a new SQLite file or an empty database)",
    )


def _show(key: tuple[Any, ...]) -> str:
    return ", ".join(str(v) for v in key)


def _copy_table(
    src: RawTables, dst: RawTables, plan: _Plan, batch: int, advance: Callable[[str, int], None]
) -> int:
    """Copy the rows of one table after ``plan.after``; returns how many were written."""
    after = plan.after
    written = 0
    while rows := src.rows_after(plan.table, after, batch):
        dst.insert(plan.table, rows)
        after = plan.table.key_of(rows[-1])
        written += len(rows)
        advance(plan.table.name, len(rows))
    return written


def _check_counts(src: RawTables, dst: RawTables) -> None:
    for table in TABLES:
        theirs, ours = src.count(table), dst.count(table)
        if theirs != ours:
            raise RegistryMismatchError(
                f"copy check failed: {table.name} holds {theirs} rows in {src.name} and "
                f"{ours} in {dst.name}",
                hint="was the source written during the copy? Run the copy again",
            )


def _check_last_rows(src: RawTables, dst: RawTables) -> None:
    for table in TABLES:
        if src.last(table) != dst.last(table):
            raise RegistryMismatchError(
                f"copy check failed: the last row of {table.name} differs between "
                f"{src.name} and {dst.name}",
                hint="was the source written during the copy? Copy into an empty registry",
            )


def _check_bundles(src: RawTables, src_store: Store, dst_store: Store, sample: int) -> list[str]:
    """Compare the bundles of the first, the last and ``sample`` random records, byte for byte.

    Both sides build with one throwaway key (Ed25519 signatures are
    deterministic) at one signing time, so equal rows give equal bytes.

    Raises:
        RegistryMismatchError: naming the first record whose bundles differ.
    """
    span = src.record_id_range()
    if span is None:
        return []
    low, high = span
    picks = [low, high, *(low + secrets.randbelow(high - low + 1) for _ in range(sample))]
    numbers: list[str] = []
    for row_id in picks:
        found = src.record_number_from(row_id)
        if found is not None:
            number = str(PithNumber(found[1], found[2]))
            if number not in numbers:
                numbers.append(number)
    signer = SeedSigner("pith-registry-copy-check", secrets.token_bytes(32))
    when = datetime.now(UTC).replace(microsecond=0)
    keys = [trusted_keys(src_store), trusted_keys(dst_store)]
    for number in numbers:
        built = [
            _bundle(s, k, number, signer, when)
            for s, k in zip((src_store, dst_store), keys, strict=True)
        ]
        if built[0] != built[1]:
            raise RegistryMismatchError(
                f"copy check failed: the bundle of {number} built from {dst_store.name} "
                f"differs from the one built from {src_store.name}",
                hint="was the source written during the copy? Copy into an empty registry",
            )
    return numbers


def _bundle(store: Store, keys: KeySet, number: str, signer: SeedSigner, when: datetime) -> bytes:
    """The bundle's bytes, or what stops it being built (the same on both sides if equal)."""
    try:
        issued = store.record(number)
        if issued is None:
            return b"no record"
        built = build_bundle(
            issued.record,
            issued.aliases,
            store.events(number),
            keys,
            signer,
            built_at=when,
            base_url=CHECK_BASE_URL,
        )
    except FormatError as e:  # a record an older release issued and this one refuses
        return f"refused: {e.message}".encode()
    return cjson.dumps(built)
