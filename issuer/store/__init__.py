"""The issuance registry: records, aliases, receipts, chained events, keys used.

:func:`open_store` opens a registry by path (SQLite, the embedded default).
The :class:`~issuer.store._sqlite.SqliteStore` is the only backend today; the
pipeline talks to it through the methods documented there.
"""

from __future__ import annotations

import os
from pathlib import Path

from issuer.errors import NotFoundError
from issuer.keys.local import default_home
from issuer.store._sqlite import (
    SCHEMA_VERSION,
    IssuedRecord,
    ListedRecord,
    NewRecord,
    PublishedRecord,
    PublishRow,
    SignedObjects,
    SqliteStore,
)
from issuer.tlog import StoredCheckpoint

REGISTRY_ENV = "PITH_REGISTRY"

__all__ = [
    "REGISTRY_ENV",
    "SCHEMA_VERSION",
    "IssuedRecord",
    "ListedRecord",
    "NewRecord",
    "PublishRow",
    "PublishedRecord",
    "SignedObjects",
    "SqliteStore",
    "StoredCheckpoint",
    "default_registry",
    "open_store",
]


def default_registry() -> Path:
    """``$PITH_REGISTRY``, else ``$PITH_HOME/registry.sqlite3``."""
    if os.environ.get(REGISTRY_ENV):
        return Path(os.environ[REGISTRY_ENV]).expanduser()
    return default_home() / "registry.sqlite3"


def open_store(path: Path | None = None, *, must_exist: bool = False) -> SqliteStore:
    """Open (creating and migrating if needed) the registry at ``path``.

    Args:
        path: the registry file (default :func:`default_registry`).
        must_exist: refuse to create it: read-only commands must not leave an
            empty registry behind a mistyped path.

    Raises:
        NotFoundError: ``must_exist`` and there is no registry at ``path``.
        StoreError: locked, corrupt, or written by a newer toolkit.
    """
    path = path or default_registry()
    if must_exist and not path.is_file():
        raise NotFoundError(
            f"no registry at {path}",
            hint="create one with: pith issue FILE... (or check --home, PITH_HOME, --registry)",
        )
    return SqliteStore(path)
