"""One retention run at a time, across processes and hosts.

PostgreSQL: a session advisory lock (per database schema), held for the whole run on a
connection of its own; released when the run ends or its process dies. SQLite (one host
by nature): an exclusive `flock` on a file next to the database. A second run refuses at
once; it never waits half-way through somebody else's destruction.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, text

from vault.errors import FailedPreconditionError

_NAME = "dossier-vault-retention"
_KEY = "hashtext(:name || '/' || current_schema())"
_BUSY = "another retention run is in progress; try again when it has finished"


@contextlib.contextmanager
def single_run(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine):
            yield
        return
    database = engine.url.database
    if not database:
        raise FailedPreconditionError("the retention job needs a database file")
    with _file_lock(Path(database + ".retention.lock")):
        yield


@contextlib.contextmanager
def _advisory_lock(engine: Engine) -> Iterator[None]:
    with engine.connect() as conn:
        taken = conn.execute(text(f"SELECT pg_try_advisory_lock({_KEY})"), {"name": _NAME})
        got = bool(taken.scalar())
        conn.commit()  # a session lock outlives the transaction that took it
        if not got:
            raise FailedPreconditionError(_BUSY)
        try:
            yield
        finally:
            conn.execute(text(f"SELECT pg_advisory_unlock({_KEY})"), {"name": _NAME})
            conn.commit()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FailedPreconditionError(_BUSY) from None
        yield
