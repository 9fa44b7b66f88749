"""Which one of a deployment's server processes runs the singleton tasks.

Several server processes may serve one vault (`serve --processes N`, or servers on
several hosts over one PostgreSQL database): each appends to the journal, but only one
must sign and publish its checkpoints and sweep (two publishers would sign one size at
two times: a conflicting checkpoint). The holder of a lock runs them: an exclusive
`flock` on `<data dir>/singleton.lock` when the journal is SQLite (one host), a session
advisory lock (`pg_try_advisory_lock`, keyed by name and schema) on a dedicated
connection when it is PostgreSQL.
Every process polls (`poll`): one that does not hold the lock tries to take it, so the
tasks move to another process within a second or so when the holder dies; the holder
checks its connection still holds it. Released when the process stops (ADR 0012).
`starting` serialises the start of the processes sharing a data directory: the first
creates the development keys and the schema, the others find them. What it does not:
schedule the tasks (vault/server/app.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, exc, text
from sqlalchemy.engine import make_url

from vault.config import Config
from vault.sqlstore import make_engine

_log = logging.getLogger(__name__)
LOCK_FILE = "singleton.lock"
STARTUP_LOCK_FILE = "startup.lock"
# scoped like vault/sqlstore.py's locks: the journal database and its current schema
ADVISORY_NAME = "dossier-vault/singleton-tasks"
_KEY = "hashtext(:name || '/' || current_schema())"


class SingletonLock(Protocol):
    @property
    def held(self) -> bool: ...

    def poll(self) -> bool:
        """Takes the lock if free, checks it is still held if held; True if held."""
        ...

    def release(self) -> None: ...


class FileLock:
    """`flock(LOCK_EX | LOCK_NB)` on a file in the data directory; one host."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def poll(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for an operator
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None


class AdvisoryLock:
    """A PostgreSQL session advisory lock on a connection of its own."""

    def __init__(self, url: str) -> None:
        self._engine = make_engine(url)
        self._connection: Connection | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None

    def poll(self) -> bool:
        try:
            if self._connection is not None:
                self._connection.execute(text("SELECT 1"))  # the session, hence the lock, lives
                return True
            connection = self._engine.connect()
            connection.execution_options(isolation_level="AUTOCOMMIT")
            query = text(f"SELECT pg_try_advisory_lock({_KEY})")
            if connection.execute(query, {"name": ADVISORY_NAME}).scalar_one():
                self._connection = connection
                return True
            connection.close()
            return False
        except exc.SQLAlchemyError:
            if self._connection is not None:
                _log.warning("lost the singleton lock's database session: stepping down")
            self._drop()
            return False

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(exc.SQLAlchemyError):
                self._connection.invalidate()  # never back to a pool with the lock on it
            self._connection = None

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(
                    text(f"SELECT pg_advisory_unlock({_KEY})"), {"name": ADVISORY_NAME}
                )
                self._connection.close()
            except exc.SQLAlchemyError:
                self._drop()
            self._connection = None
        self._engine.dispose()


def for_config(config: Config) -> SingletonLock:
    """The advisory lock when the journal is on PostgreSQL, else the data dir's file."""
    if make_url(config.journal_url).get_backend_name() == "postgresql":
        return AdvisoryLock(config.journal_url)
    return FileLock(config.data_dir / LOCK_FILE)


def wait_for(lock: SingletonLock, seconds: float) -> bool:
    """Polls for up to `seconds`; True once held."""
    deadline = time.monotonic() + seconds
    while not lock.poll():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


@contextlib.contextmanager
def starting(data_dir: Path) -> Iterator[None]:
    """Holds `<data dir>/startup.lock` (a blocking flock): one process of the host
    builds at a time, so two never race to create a key file or a schema."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(data_dir / STARTUP_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
