"""`SqlIndex`: every role port of vault/index/base.py (their union, `Index`) on SQLAlchemy
Core queries (SQLite or PostgreSQL).

One module per role, each a class implementing that role's port of vault/index/base.py
(`dossiers`, `births`, `documents`, `access`, `lifecycle`, `heirs`, `notices`, `retention`,
`receipts`, `deadlines`, `keys`, `sweep`, `scrub`, `standing` (a caller's relations,
teams, overrides and the holder's date of birth in one read), and
`scope`: a request's reads on one connection);
`SqlIndex` is all of them over one engine. `connection` holds the engine and the one
guarded way to a connection, `tables` the table handles and shared predicates,
`mapping` rows to records and back. Tables are declared in vault/index/schema.py; hot
reads select columns (not ORM objects, which the baseline measured 2.3x slower).
"""

from __future__ import annotations

from vault.index.sql.access import SqlAccess
from vault.index.sql.births import SqlBirths
from vault.index.sql.deadlines import SqlDeadlines
from vault.index.sql.documents import SqlDocuments
from vault.index.sql.dossiers import SqlDossiers
from vault.index.sql.heirs import SqlHeirs
from vault.index.sql.keys import SqlKeys
from vault.index.sql.lifecycle import SqlLifecycle
from vault.index.sql.notices import SqlNotices
from vault.index.sql.overrides import SqlOverrides
from vault.index.sql.receipts import SqlReceipts
from vault.index.sql.retention import SqlRetention
from vault.index.sql.scope import SqlReadScope
from vault.index.sql.scrub import SqlScrub
from vault.index.sql.standing import SqlStanding
from vault.index.sql.sweep import SqlSweep

__all__ = ["SqlIndex"]


class SqlIndex(
    SqlReadScope,
    SqlDossiers,
    SqlBirths,
    SqlDocuments,
    SqlAccess,
    SqlStanding,
    SqlLifecycle,
    SqlHeirs,
    SqlNotices,
    SqlOverrides,
    SqlReceipts,
    SqlRetention,
    SqlDeadlines,
    SqlKeys,
    SqlSweep,
    SqlScrub,
):
    """Every role of the index over one engine: `SqlIndex(engine)`."""
