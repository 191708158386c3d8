"""The registry's record of its static trees: which files of which record each tree holds.

Only :mod:`issuer.publish` uses these; they let a publish run resume where
it stopped and skip every record whose files are already in place.
"""

from __future__ import annotations

from collections.abc import Iterator

from issuer.identifiers import PithNumber
from issuer.store._rows import ListedRecord, PublishedRecord, PublishRow
from issuer.store._tables import Tables


class PublishTables(Tables):
    """The published-tree rows, a part of :class:`~issuer.store._sql.SqlStore`."""

    def publish_tree(self, tree_id: str, outdir: str) -> None:
        """Register a static tree by its id; a tree made anew at ``outdir`` replaces the old one.

        The old tree's rows go with it: its files were deleted with its settings file.
        """
        with self._transaction():
            self._db.execute(
                "DELETE FROM publish_trees WHERE outdir=? AND tree_id!=?", (outdir, tree_id)
            )
            self._db.execute(
                "INSERT INTO publish_trees(tree_id, outdir) VALUES (?, ?) "
                "ON CONFLICT(tree_id) DO UPDATE SET outdir=excluded.outdir",
                (tree_id, outdir),
            )

    def publish_trees(self) -> list[tuple[str, str]]:
        """(tree id, output directory) of every static tree published from this registry."""
        rows = self._db.execute("SELECT tree_id, outdir FROM publish_trees ORDER BY tree_id")
        return [(str(t), str(o)) for t, o in rows]

    def publish_rows(self, tree_id: str, after: int, limit: int) -> list[PublishRow]:
        """Up to ``limit`` records after row id ``after``, with what ``tree_id`` holds of each."""
        rows = self._db.execute(
            "SELECT r.id, r.year, r.code, p.state_sha256, p.settings_sha256 FROM records r "
            "LEFT JOIN published p ON p.tree_id=? AND p.record_id=r.id "
            "WHERE r.id > ? ORDER BY r.id LIMIT ?",
            (tree_id, after, limit),
        )
        return [
            PublishRow(row_id, PithNumber(year, code), state, settings)
            for row_id, year, code, state, settings in rows
        ]

    def events_mark(self, row_id: int) -> int:
        """The newest event row of a record: read before its events, checked when marking."""
        row = self._db.execute(
            "SELECT COALESCE(MAX(id), 0) FROM events WHERE record_id=?", (row_id,)
        ).fetchone()
        return int(row[0])

    def mark_published(self, tree_id: str, rows: list[PublishedRecord]) -> None:
        """Record that these records' files are in place in the tree (after writing them).

        A record that gained an event since its files were built (its newest
        event row is no longer ``events_mark``) is left unmarked, so the next
        run writes it again.
        """
        with self._transaction():
            self._db.executemany(
                "INSERT INTO published(tree_id, record_id, state_sha256, base_url, "
                "settings_sha256, title) SELECT CAST(? AS TEXT), CAST(? AS BIGINT), "
                "CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT) "
                "WHERE (SELECT COALESCE(MAX(id), 0) FROM events WHERE record_id=?) = ? "
                "ON CONFLICT (tree_id, record_id) DO UPDATE SET "
                "state_sha256=excluded.state_sha256, base_url=excluded.base_url, "
                "settings_sha256=excluded.settings_sha256, title=excluded.title",
                [
                    (
                        tree_id,
                        r.row_id,
                        r.state_sha256,
                        r.base_url,
                        r.settings_sha256,
                        r.title,
                        r.row_id,
                        r.events_mark,
                    )
                    for r in rows
                ],
            )

    def unmark_published(self, tree_id: str, row_ids: list[int]) -> None:
        """Forget that these records are published in the tree (before rewriting their files)."""
        if row_ids:
            with self._transaction():
                self._db.executemany(
                    "DELETE FROM published WHERE tree_id=? AND record_id=?",
                    [(tree_id, r) for r in row_ids],
                )

    def published_years(self, tree_id: str) -> dict[int, int]:
        """Year → how many records of that year the tree holds."""
        rows = self._db.execute(
            "SELECT r.year, COUNT(*) FROM published p JOIN records r ON r.id=p.record_id "
            "WHERE p.tree_id=? GROUP BY r.year ORDER BY r.year",
            (tree_id,),
        )
        return {int(year): int(n) for year, n in rows}

    def published_listing(self, tree_id: str) -> Iterator[ListedRecord]:
        """Every record the tree holds, by year then issuance order, for the index pages."""
        rows = self._db.stream(
            "SELECT r.year, r.code, r.source_id, r.version, COALESCE(p.title, r.title) "
            "FROM published p JOIN records r ON r.id=p.record_id WHERE p.tree_id=? "
            "ORDER BY r.year, r.id",
            (tree_id,),
        )
        for year, code, source_id, version, title in rows:
            yield ListedRecord(PithNumber(year, code), source_id, version, title)
