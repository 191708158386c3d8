"""What a registry occupies on disk, in all and table by table, index by index (issue 14 §1).

PostgreSQL: :func:`postgres_sizes` splits ``pg_database_size`` into each
table's heap (main fork, free space map and visibility map), its TOAST table
(with the TOAST index) and each of its indexes, as ``pg_relation_size``
measures them, plus what the rest of the database holds (the catalogs of an
empty database). What a user's registry occupies is the database's size less
that of an empty registry (:func:`postgres_database_size` before the first
record is written): the catalogs of a new database are not the registry's.

SQLite: :func:`sqlite_sizes` reads the ``dbstat`` virtual table, which gives
the pages of each table and index of the file (free pages included as
``(free)``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from issuer.store import Store
from tests.registry_sql import rows


@dataclass(frozen=True)
class Part:
    """One table or index: what it is, how many bytes it takes, and how many rows it holds."""

    table: str
    name: str  # the table itself ("heap"), "toast", or the index's name
    size: int
    rows: int | None = None


def postgres_database_size(store: Store) -> int:
    """``pg_database_size`` of the store's database, in bytes."""
    [(size,)] = rows(store, "SELECT pg_database_size(current_database())")
    return int(size)


_PG_PARTS = """
SELECT c.relname,
       pg_relation_size(c.oid, 'main') + pg_relation_size(c.oid, 'fsm')
         + pg_relation_size(c.oid, 'vm'),
       COALESCE(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0),
       c.reltuples
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind = 'r'
ORDER BY c.relname
"""

_PG_INDEXES = """
SELECT t.relname, i.relname, pg_relation_size(i.oid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema() AND t.relkind = 'r'
ORDER BY t.relname, i.relname
"""


def postgres_sizes(store: Store) -> list[Part]:
    """Every table's heap, TOAST and indexes in the store's schema (rows: after ``ANALYZE``)."""
    parts: list[Part] = []
    for table, heap, toast, tuples in rows(store, _PG_PARTS):
        parts.append(Part(table, "heap", int(heap), max(int(tuples), 0)))
        if toast:
            parts.append(Part(table, "toast", int(toast)))
    parts.extend(Part(table, index, int(size)) for table, index, size in rows(store, _PG_INDEXES))
    return parts


def sqlite_sizes(path: Path) -> list[Part]:
    """Every table's and index's pages in an SQLite file, and its free pages."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found = db.execute(
            "SELECT d.name, COALESCE(m.tbl_name, d.name), SUM(d.pgsize) FROM dbstat d "
            "LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY d.name ORDER BY 2, 1"
        ).fetchall()
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        page = db.execute("PRAGMA page_size").fetchone()[0]
    finally:
        db.close()
    parts = [
        Part(table, "heap" if name == table else name, int(size)) for name, table, size in found
    ]
    if free:
        parts.append(Part("(free)", "(free)", int(free) * int(page)))
    return parts


def table_lines(parts: list[Part], records: int) -> list[str]:
    """One line per part of at least 1 B/record, the rest in one line, and the total."""
    per = max(records, 1)
    lines = []
    small = [p for p in parts if p.size < per]
    for p in parts:
        if p.size >= per:
            count = "" if p.rows is None else f"  ({p.rows / per:.2f} rows/record)"
            lines.append(f"{p.table:>16} {p.name:<36} {p.size / per:8,.1f} B/record{count}")
    if small:
        rest = sum(p.size for p in small)
        lines.append(f"{'':>16} {f'{len(small)} smaller parts':<36} {rest / per:8,.1f} B/record")
    total = sum(p.size for p in parts)
    lines.append(f"{'':>16} {'tables and indexes':<36} {total / per:8,.1f} B/record")
    return lines
