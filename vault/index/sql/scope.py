"""`SqlReadScope`: the `ReadScope` port on SQL: a request's reads on one connection.

`reads()` is `sqlstore.read_scope` under `guard`: the reads a thread makes in the block
(`_connect()` without `write`) share one connection, checked out once, and on SQLite one
read transaction. The gate opens one around a decision's reads (the dossier, the
caller's standing, a version, a dossier key), which otherwise cost a pool checkout and,
on SQLite, a BEGIN and a ROLLBACK each. Writes take their own connection, as always.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from vault.index.sql.connection import SqlBase
from vault.sqlstore import guard, read_scope


class SqlReadScope(SqlBase):
    @contextlib.contextmanager
    def reads(self) -> Iterator[None]:
        with guard(), read_scope(self._engine):
            yield
