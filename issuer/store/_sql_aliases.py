"""Where the unversioned arXiv alias points, and the short aliases that name more than one record.

Both are written with each batch of records, in its transaction
(:meth:`issuer.store.SqlStore.write_checked`): the unversioned alias follows
the newest issued version and keeps its history; a short alias (a prefix of
the code) that now names two records is recorded as a collision.
"""

from __future__ import annotations

from issuer.identifiers import PithNumber
from issuer.store._checked import CheckedRecord
from issuer.store._tables import Tables

SHORT_KINDS = {"pith_short_8": 8, "pith_short_12": 12, "pith_short_16": 16}


class AliasTables(Tables):
    """The arXiv alias history and the short-alias collisions."""

    def by_code_prefix(self, prefix: str) -> list[str]:
        """Every Pith number whose code starts with ``prefix``: all candidates, none picked."""
        rows = self._db.execute(
            "SELECT year, code FROM records WHERE code >= ? AND code < ? ORDER BY year, code",
            (prefix, prefix + "~"),
        )
        return [str(PithNumber(year, code)) for year, code in rows]

    def _move_arxiv_aliases(self, written: list[tuple[int, CheckedRecord]]) -> None:
        """The unversioned alias follows the newest issued version; its history is kept.

        The alias moves at the record's ``issued_at``, or at the current alias's
        ``since`` if that is later: another issuer (its clock, or its wait for
        the write lock) may have committed a record issued after this one, and
        the history never runs backwards. A row of this batch is written once,
        with its ``until`` (an update would leave a dead row behind on PostgreSQL);
        only a row committed before is updated.
        """
        db = self._db
        newest = self._newest_versions(sorted({n.source_id for _, n in written}))
        pending: list[tuple[str, int, str, str | None]] = []
        current_in_batch: dict[str, int] = {}  # arXiv id -> its current row's index in pending
        for record_id, n in written:
            current = newest.get(n.source_id)
            if current is None:
                current_in_batch[n.source_id] = len(pending)
                pending.append((n.source_id, record_id, n.issued_at, None))
                newest[n.source_id] = (n.version, n.issued_at)
            elif current[0] > n.version:
                # An older version issued after a newer one: history only, never current.
                pending.append((n.source_id, record_id, n.issued_at, n.issued_at))
            else:
                moved = max(n.issued_at, current[1])
                previous = current_in_batch.get(n.source_id)
                if previous is None:
                    db.execute(
                        "UPDATE arxiv_alias SET until=? WHERE until IS NULL AND record_id IN "
                        "(SELECT id FROM records WHERE source_id=?)",
                        (moved, n.source_id),
                    )
                else:
                    pending[previous] = (*pending[previous][:3], moved)
                current_in_batch[n.source_id] = len(pending)
                pending.append((n.source_id, record_id, moved, None))
                newest[n.source_id] = (n.version, moved)
        db.executemany("INSERT INTO arxiv_alias VALUES (?, ?, ?, ?)", pending)

    def _newest_versions(self, ids: list[str]) -> dict[str, tuple[int, str]]:
        """arXiv id → (version, since) of the record its unversioned alias points at."""
        found: dict[str, tuple[int, str]] = {}
        rows = self._with_values(
            ids,
            "SELECT r.source_id, r.version, a.since FROM records r "
            "JOIN arxiv_alias a ON a.record_id=r.id WHERE a.until IS NULL "
            "AND r.source_id IN (SELECT value FROM p)",
        )
        found.update((source_id, (version, since)) for source_id, version, since in rows)
        return found

    def _record_collisions(self, written: list[CheckedRecord]) -> int:
        """Record every short alias of the batch that now names more than one record.

        Short aliases are prefixes of the code, so a collision is a code range
        holding more than one row: one indexed range count per new record.
        """
        now = written[0].issued_at
        found = 0
        for kind, length in SHORT_KINDS.items():
            prefixes = sorted({n.code[:length] for n in written})
            # A range holding a second row is enough: stop counting there (LIMIT 2).
            shared = list(
                self._with_values(
                    prefixes,
                    "SELECT p.value FROM p WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM records r "
                    "WHERE r.code >= p.value AND r.code < p.value || '~' LIMIT 2) AS hits) > 1",
                )
            )
            for (prefix,) in shared:
                for number in self.by_code_prefix(prefix):
                    cursor = self._db.execute(
                        "INSERT INTO short_collisions VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        (kind, prefix, number, now),
                    )
                    found += cursor.rowcount
        return found
