"""The issuance registry: records, aliases, receipts, chained events, keys used, the log.

:func:`open_store` opens a registry by URL: a path or ``sqlite:PATH`` (the
embedded default), or ``postgresql://…`` for a registry that several machines
issue into. Both give a :class:`Store`, with the same schema and behaviour.

The registry keeps only what cannot be recomputed (schema 4): signatures,
times, key ids and builder versions, with the record's values; receipts,
events and log entries are rebuilt byte for byte on read
(:mod:`issuer.store._compact`).
"""

from __future__ import annotations

import os
from pathlib import Path

from issuer.errors import NotFoundError, StoreError
from issuer.keys.local import default_home
from issuer.store._checked import CheckedRecord, issued_rows
from issuer.store._compact import EventRow, ReceiptRow
from issuer.store._copy import RawTables
from issuer.store._issued import issued_record
from issuer.store._protocol import Store
from issuer.store._rows import (
    IssuedRecord,
    ListedRecord,
    NewRecord,
    PublishedRecord,
    PublishRow,
    PublishSource,
    SignedObjects,
)
from issuer.store._schema import SCHEMA_VERSION, TABLES, Table
from issuer.store._sql import SqlStore
from issuer.store._sql_aliases import SHORT_KINDS
from issuer.store._sql_reissue import ResignBatch, loaded, with_receipt
from issuer.store._sqlite import SqliteDb, empty_file_hint, file_state, settled_state
from issuer.store._url import SCHEMES, RegistryUrl, parse_registry_url, redact
from issuer.tlog import StoredCheckpoint

REGISTRY_ENV = "PITH_REGISTRY"

__all__ = [
    "REGISTRY_ENV",
    "SCHEMA_VERSION",
    "SCHEMES",
    "SHORT_KINDS",
    "TABLES",
    "CheckedRecord",
    "EventRow",
    "IssuedRecord",
    "ListedRecord",
    "NewRecord",
    "PublishRow",
    "PublishSource",
    "PublishedRecord",
    "RawTables",
    "ReceiptRow",
    "RegistryUrl",
    "ResignBatch",
    "SignedObjects",
    "Store",
    "StoredCheckpoint",
    "Table",
    "default_registry",
    "issued_record",
    "issued_rows",
    "loaded",
    "open_store",
    "parse_registry_url",
    "redact",
    "with_receipt",
]


def default_registry() -> RegistryUrl:
    """``$PITH_REGISTRY``, else ``$PITH_HOME/registry.sqlite3``."""
    if os.environ.get(REGISTRY_ENV):
        return parse_registry_url(os.environ[REGISTRY_ENV])
    return RegistryUrl(path=default_home() / "registry.sqlite3")


def open_store(
    url: RegistryUrl | Path | str | None = None,
    *,
    must_exist: bool = False,
    adopt_empty: bool = False,
) -> Store:
    """Open (creating and migrating if needed) the registry at ``url``.

    A file that is not an SQLite database is never opened, and an empty file is
    not a registry: only ``adopt_empty`` (``pith registry migrate``, which
    exists to create one) makes it one. Either is left as it is.

    Args:
        url: a :class:`RegistryUrl`, a path, or a registry URL (default
            :func:`default_registry`).
        must_exist: refuse to create it: read-only commands must not leave an
            empty registry behind a mistyped path or database name.
        adopt_empty: create the registry in an existing empty file.

    Raises:
        UsageError: a URL scheme the toolkit does not serve.
        NotFoundError: ``must_exist`` and there is no registry at ``url`` (an
            empty file included).
        StoreError: unreachable, locked, corrupt, or written by a newer toolkit; a
            file that is not an SQLite database; an empty file, unless ``adopt_empty``.
    """
    if url is None:
        parsed = default_registry()
    elif isinstance(url, RegistryUrl):
        parsed = url
    else:
        parsed = parse_registry_url(url)
    missing = NotFoundError(
        f"no registry at {parsed.display}",
        hint="create one with: pith issue FILE... (or check --home, PITH_HOME, --registry)",
    )
    if parsed.path is not None:
        state = file_state(parsed.path)
        if must_exist and state != "sqlite":
            if state == "empty":
                missing = NotFoundError(
                    f"no registry at {parsed.display}: it is an empty file",
                    hint=empty_file_hint(parsed.path),
                )
            raise missing
        if state == "empty" and not adopt_empty and settled_state(parsed.path) == "empty":
            raise StoreError(
                f"{parsed.display} is an empty file, not a registry: pith leaves it as it is",
                hint=empty_file_hint(parsed.path),
            )
        return SqlStore(SqliteDb(parsed.path))
    # Imported here: psycopg costs a tenth of a second to import, and commands that
    # never open a PostgreSQL registry (pith verify) should not pay it.
    from issuer.store._postgres import PostgresDb  # noqa: PLC0415

    db = PostgresDb(parsed.conninfo or "", parsed.display)
    if must_exist and db.schema_version() is None:
        db.close()
        raise missing
    return SqlStore(db)
