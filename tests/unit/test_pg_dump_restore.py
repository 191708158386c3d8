"""docs/postgresql.md, checked: a pg_dump restores into a registry that verifies and issues on.

And the roles the doc grants: its SQL block, run as written (names changed to
this cluster's), lets the resolver resolve and nothing more.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import pytest
from psycopg import sql

from issuer import cjson, registry
from issuer.errors import StoreError
from issuer.keys.keyset import KeySet
from issuer.pipeline import Issuer, IssueSummary
from issuer.store import Store, open_store
from issuer.verify import verify_bundle
from tests import factory
from tests._pg import ROLE, PgCluster, find_bindir
from tests.registry_sql import rows

DOC = Path(__file__).parents[2] / "docs" / "postgresql.md"
GRANTS_HEADER = "-- as pith_owner, connected to database pith"


def _issue(store: Store, path: Path) -> IssueSummary:
    return Issuer(store, factory.signer(), lambda: factory.T0, workers=1).run([str(path)])


def _bundles(store: Store) -> dict[str, bytes]:
    """Every record's bundle, built now (deterministic: fixed time, Ed25519), verified."""
    keys = KeySet([factory.signer().public_key])
    built: dict[str, bytes] = {}
    for issued in store.records():
        number = issued.pith_number
        bundle = registry.bundle(store, number, factory.signer(), factory.T0, factory.BASE_URL)
        verify_bundle(bundle, keys)  # raises on any failure
        built[number] = cjson.dumps(bundle)
    return built


def _run(program: str, *args: str, stdin: bytes | None = None) -> bytes:
    """A PostgreSQL client program as ourselves, over TCP (the password from PGPASSFILE)."""
    proc = subprocess.run(
        [str(find_bindir() / program), *args], input=stdin, capture_output=True, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def _dbname(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def test_a_pg_dump_restored_into_a_new_database_verifies_and_keeps_issuing(
    pg_cluster: PgCluster, pg_url: str, tmp_path: Path
) -> None:
    with open_store(pg_url) as store:
        _issue(store, factory.snapshot(tmp_path / "a.json", range(1, 6)))
        # A second chain slot filled, so that the restore carries more than record_created.
        store.append_event(factory.event(next(store.records()).record, factory.signer()))
        before = _bundles(store)
        counts = _counts(store)
    assert len(before) == 5

    dump = _run("pg_dump", "-Fc", "-d", pg_url)
    restored_url = pg_cluster.create_database()
    _run("pg_restore", "--exit-on-error", "--no-owner", "-d", restored_url, stdin=dump)

    with open_store(restored_url, must_exist=True) as restored:
        assert _counts(restored) == counts
        # Every bundle rebuilt from the restored registry verifies, byte for byte the same.
        assert _bundles(restored) == before
        # It goes on issuing where the original stopped: next ids, dense log leaves.
        summary = _issue(restored, factory.snapshot(tmp_path / "b.json", range(1, 9)))
        assert (summary.issued, summary.already_issued) == (3, 5)
        assert [r[0] for r in rows(restored, "SELECT id FROM records ORDER BY id")] == list(
            range(1, 9)
        )
        leaves = rows(
            restored,
            "SELECT leaf_index FROM records UNION ALL SELECT leaf_index FROM events ORDER BY 1",
        )
        assert [r[0] for r in leaves] == list(range(counts["records"] + counts["events"] + 6))
        assert len(_bundles(restored)) == 8


def _counts(store: Store) -> dict[str, int]:
    tables = ("records", "events", "arxiv_alias", "keys_used")
    return {t: rows(store, f"SELECT COUNT(*) FROM {t}")[0][0] for t in tables}  # noqa: S608


def _doc_grants() -> list[str]:
    """The statements of the doc's grants block, one string each."""
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.DOTALL)
    [block] = [b for b in blocks if b.startswith(GRANTS_HEADER)]
    body = "\n".join(line for line in block.splitlines() if not line.startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def _as_role(url: str, role: str) -> str:
    """``url``, logging in as ``pith`` and then acting as ``role`` (the test cluster's
    pg_hba lets only ``pith`` in over TCP).
    """
    return f"{url}?options={quote(f'-c role={role}')}"


def test_the_doc_grants_let_the_resolver_read_and_not_issue(
    pg_cluster: PgCluster, pg_url: str, tmp_path: Path
) -> None:
    suffix = secrets.token_hex(4)
    issuer_role, resolver_role = f"pith_issuer_{suffix}", f"pith_resolver_{suffix}"
    with pg_cluster._admin() as admin:
        for role in (issuer_role, resolver_role):
            admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
            admin.execute(
                sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(ROLE))
            )
    # The owner (role pith here) creates the registry, then runs the doc's grants.
    with open_store(pg_url) as store:
        _issue(store, factory.snapshot(tmp_path / "a.json", range(1, 3)))
        [number] = registry.resolve(store, "2401.00001").candidates
    names = {
        r"\bpith_owner\b": ROLE,
        r"\bpith_issuer\b": issuer_role,
        r"\bpith_resolver\b": resolver_role,
        r"\bDATABASE pith\b": f'DATABASE "{_dbname(pg_url)}"',
    }
    with psycopg.connect(pg_url, autocommit=True) as owner:
        for written in _doc_grants():
            statement = written
            for pattern, name in names.items():
                statement = re.sub(pattern, name, statement)
            owner.execute(statement.encode())

    with open_store(_as_role(pg_url, resolver_role), must_exist=True) as resolver:
        assert rows(resolver, "SELECT current_user")[0][0] == resolver_role
        assert registry.resolve(resolver, "2401.00001").unique == number
        assert registry.show(resolver, number)["pith_number"] == number
        with pytest.raises(StoreError, match="permission denied") as refused:
            _issue(resolver, factory.snapshot(tmp_path / "b.json", range(3, 4)))
        assert "docs/postgresql.md" in refused.value.diagnostics()
    with open_store(_as_role(pg_url, issuer_role), must_exist=True) as issuing:
        assert _issue(issuing, factory.snapshot(tmp_path / "c.json", range(1, 4))).issued == 1
        assert len(_bundles(issuing)) == 3
