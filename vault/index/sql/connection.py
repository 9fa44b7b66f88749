"""`SqlBase`: the engine every role of `SqlIndex` queries through, and the one way in.

`_connect()` opens a guarded connection (sqlstore's `guard`, `reading` and `writing`:
lost connections and timeouts become UnavailableError) for one read statement or, with
`write=True`, one write transaction. `create_schema` prepares the tables (vault/migrations).
No query lives here, and no SQL plumbing of its own: engines, transactions and locks are
vault/sqlstore.py's, shared with the journal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection

from vault import migrations
from vault.sqlstore import Database, guard, reading, writing


class SqlBase(Database):
    def create_schema(self) -> None:
        """Creates the tables in an empty database; refuses a schema that is not at the
        newest revision (vault/migrations)."""
        migrations.prepare(self._engine, migrations.INDEX)

    @contextlib.contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[Connection]:
        """A connection for one read statement (`sqlstore.reading`), or with `write` a
        transaction committed on exit and rolled back on error (`sqlstore.writing`);
        either way under `guard`."""
        with guard(), (writing if write else reading)(self._engine) as conn:
            yield conn
