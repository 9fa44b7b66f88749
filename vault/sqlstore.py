"""SQLAlchemy engines for the index and the journal, on SQLite or PostgreSQL.

SQLite (the embedded default) runs in WAL mode with foreign keys on, a busy timeout and
synchronous=FULL. Write transactions (`writing`) start with `BEGIN IMMEDIATE`, so that
concurrent writers queue on the lock instead of failing on a lock upgrade; reads start a
plain deferred `BEGIN` and never block writers (WAL). PostgreSQL is reached through
psycopg 3, with the bounds of `DatabaseTimeouts` (docs/adr/0010): a connect timeout, a
server-side statement timeout, TCP keepalives and a user timeout (a dead peer or a
partition drops the connection instead of leaving a thread waiting forever), and a
bounded wait for a pooled connection. Library errors about connectivity and timeouts
are re-raised as `UnavailableError` by `guard`. A read scope (`read_scope`) lets the
reads one thread makes in a block share one connection, checked out once (on SQLite, one
read transaction too): a request's decision reads its dossier, the caller's standing, a
version and a key one after the other. A joined transaction (`joining`) lets the writes
one thread makes through another engine on the same database ride in an open write
transaction, each in a savepoint: the journal's group commit carries an upload's index
writes that way (docs/adr/0014). Engines hide SQL parameters from error messages
and logs. `exclusive` is the lock under which schemas are created and migrated
(vault/migrations). Which tables exist and at which version is not this module's
business: see vault/migrations.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url

from vault.errors import ConfigurationError, IntegrityError, UnavailableError

_WRITE_OPTION = "vault_write"
_SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=30000",
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=FULL",
)
_PRAGMA_PATIENCE_SECONDS = 30.0
_SQLITE_POOL_SIZE = 48


def _pragma(cursor: Any, pragma: str) -> None:
    """Runs one pragma. Switching a new database to WAL takes an exclusive lock that
    SQLite does not wait for (no busy handler): when several processes open a new
    database at once, the losers retry instead of failing."""
    deadline = time.monotonic() + _PRAGMA_PATIENCE_SECONDS
    while True:
        try:
            cursor.execute(pragma)
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below rule
        cursor = dbapi_connection.cursor()
        for pragma in _SQLITE_PRAGMAS:
            _pragma(cursor, pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        """The transaction's BEGIN, on the driver's connection: a statement through
        SQLAlchemy (`exec_driver_sql`) costs an execution context and a result for a
        statement that returns nothing, once per transaction. Its errors (a lock not
        granted within the busy timeout) are SQLAlchemy's, as they were."""
        immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
        statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        try:
            connection.connection.driver_connection.execute(statement)
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(statement, None, error, sqlite3.Error) from error


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long the vault waits for PostgreSQL, in seconds (Config: VAULT_DB_*)."""

    connect: float = 5.0  # libpq connect_timeout (whole seconds, at least 2)
    statement: float = 30.0  # statement_timeout, enforced by the server; 0: none
    checkout: float = 5.0  # wait for a pooled connection (pool_timeout)
    keepalive_idle: float = 30.0  # first keepalive probe after that much silence

    # keepalive probes every 10 s, 3 unanswered ones drop the connection
    KEEPALIVE_INTERVAL = 10
    KEEPALIVE_COUNT = 3

    def postgres_connect_args(self, url_options: str = "") -> dict[str, Any]:
        """psycopg's connection arguments. `url_options` (the URL's own `options`, e.g.
        a search_path) is kept: the statement timeout is appended to it."""
        idle = max(1, math.ceil(self.keepalive_idle))
        options = url_options
        if self.statement > 0:
            options = f"{options} -c statement_timeout={math.ceil(self.statement * 1000)}"
        arguments: dict[str, Any] = {
            "connect_timeout": max(2, math.ceil(self.connect)),
            "keepalives": 1,
            "keepalives_idle": idle,
            "keepalives_interval": self.KEEPALIVE_INTERVAL,
            "keepalives_count": self.KEEPALIVE_COUNT,
            # unacknowledged data for that long drops the connection too
            "tcp_user_timeout": (idle + self.KEEPALIVE_INTERVAL * self.KEEPALIVE_COUNT) * 1000,
        }
        if options.strip():
            arguments["options"] = options.strip()
        return arguments


# Without the Config's bounds (schema migrations, `dossier-vault db`): no statement
# timeout, so a long migration is never cut; the server's come from Config.
DEFAULT_TIMEOUTS = DatabaseTimeouts(statement=0)


def make_engine(url: str, timeouts: DatabaseTimeouts = DEFAULT_TIMEOUTS) -> Engine:
    """An engine for `url` (sqlite:///path or postgresql+psycopg://...)."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError as e:
        raise ConfigurationError("malformed database URL") from e
    if parsed.get_backend_name() == "sqlite":
        # a file's pool keeps as many open as threads may read at once (16 workers, 32
        # in the background): SQLAlchemy's default of 5 closed and reopened connections
        # (four pragmas each) under load. In memory, SQLAlchemy's one-per-thread pool.
        in_memory = parsed.database in (None, "", ":memory:")
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
            **({} if in_memory else {"pool_size": _SQLITE_POOL_SIZE, "max_overflow": 16}),
        )
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        url_options = parsed.query.get("options", "")
        if not isinstance(url_options, str):  # the parameter given twice
            url_options = " ".join(url_options)
        return create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            pool_timeout=timeouts.checkout,
            connect_args=timeouts.postgres_connect_args(url_options),
            hide_parameters=True,
        )
    raise ConfigurationError("unsupported database: use sqlite or postgresql+psycopg")


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Turns lost connections and timeouts into UnavailableError (PendingRollbackError:
    the connection was lost inside a transaction, e.g. in a savepoint whose write handled
    its own error, and the transaction cannot go on)."""
    try:
        yield
    except (
        exc.OperationalError,
        exc.InterfaceError,
        exc.TimeoutError,
        exc.PendingRollbackError,
    ) as e:
        raise UnavailableError("database unavailable") from e


class _Scopes(threading.local):
    def __init__(self) -> None:
        self.connections: dict[Engine, Connection] = {}
        # the open write transaction `writing` joins, by database (`joining`)
        self.joined: dict[str, Connection] = {}


_scopes = _Scopes()


@contextlib.contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for one read statement. On PostgreSQL it runs outside a transaction
    (autocommit), which saves the BEGIN and ROLLBACK round trips around it (a listing
    costs about 1 ms less on this machine: bench_index); one statement sees one snapshot
    either way, so only single-statement reads use it. SQLite is left as it is: the
    vault issues its BEGIN itself, and it costs no round trip. Inside this thread's
    `read_scope` of `engine`, the scope's connection."""
    scoped = _scopes.connections.get(engine)
    if scoped is not None:
        yield scoped
        return
    with _read_connection(engine) as conn:
        yield conn


@contextlib.contextmanager
def read_scope(engine: Engine) -> Iterator[None]:
    """Within the block, this thread's reads of `engine` (`reading`) share one connection,
    checked out (and pinged) once: on SQLite they see one snapshot (one read transaction,
    rolled back at the end), on PostgreSQL each statement runs in autocommit as outside
    a scope. For reads only, and ended before the thread writes: a write takes its own
    connection (`writing`), which a scope's snapshot would not see. Nested scopes are the
    outer one; other threads are not in it."""
    connections = _scopes.connections
    if engine in connections:
        yield
        return
    with _read_connection(engine) as conn:
        connections[engine] = conn
        try:
            yield
        finally:
            del connections[engine]


@contextlib.contextmanager
def _read_connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


@contextlib.contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction: committed on exit, rolled back on error. Inside this thread's
    `joining` block of a connection to the same database, a savepoint of that
    connection's transaction instead: rolled back on error, committed with it."""
    joined = _scopes.joined
    if joined:
        conn = joined.get(_database(engine))
        if conn is not None:
            with _savepoint(conn):
                yield conn
            return
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            yield conn


_DATABASES: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _database(engine: Engine) -> str:
    """The database `engine` reaches, as the key of `joining`: its URL rendered once per
    engine (a URL's hash renders it, which cost each joined write 1-2% of the journal
    committer's time)."""
    database = _DATABASES.get(engine)
    if database is None:
        database = _DATABASES[engine] = engine.url.render_as_string(hide_password=False)
    return database


_SAVEPOINT = "joined_write"


@contextlib.contextmanager
def _savepoint(conn: Connection) -> Iterator[None]:
    """A savepoint of `conn`'s open transaction around the block, its statements sent on
    the driver's connection: through SQLAlchemy (`begin_nested`) the SAVEPOINT and its
    RELEASE cost an execution context and a compilation each, about a third of the
    journal committer's time per upload (docs/performance.md). An error in the block
    rolls back to the savepoint (the transaction goes on without the block's writes); a
    savepoint that cannot be rolled back invalidates the connection, so that the whole
    transaction fails rather than commit half a write. Names may nest (the innermost
    one is meant)."""
    driver: Any = conn.connection.driver_connection
    error_class = conn.dialect.loaded_dbapi.Error

    def run(statement: str) -> None:
        try:
            driver.execute(statement)
        except error_class as error:
            raise exc.DBAPIError.instance(statement, None, error, error_class) from error

    run(f"SAVEPOINT {_SAVEPOINT}")
    try:
        yield
    except BaseException:
        try:
            run(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            run(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        except exc.DBAPIError:
            conn.invalidate()  # the transaction's commit now fails: nothing of it kept
        raise
    run(f"RELEASE SAVEPOINT {_SAVEPOINT}")


def same_database(engine: Engine, other: Engine) -> bool:
    """Whether two engines reach one database (the same URL; a SQLite database in memory
    is each engine's own)."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return engine is other
    return bool(url == other.url)


@contextlib.contextmanager
def joining(conn: Connection) -> Iterator[None]:
    """Within the block, this thread's write transactions (`writing`) on `conn`'s database,
    through any engine, run inside `conn`'s open transaction, each in a savepoint: they
    commit with it (one durable commit), and one that fails is undone alone. The
    journal's group commit uses it to write an upload's reservation with its entry."""
    database = _database(conn.engine)
    joined = _scopes.joined
    if database in joined:
        raise AssertionError("a transaction is joined already")
    joined[database] = conn
    try:
        yield
    finally:
        del joined[database]


@contextlib.contextmanager
def exclusive(engine: Engine, name: str, *, altering: bool = False) -> Iterator[Connection]:
    """A write transaction holding the database's lock `name` until it ends.

    SQLite: `BEGIN IMMEDIATE` holds the database's one write lock. PostgreSQL: a
    transaction-scoped advisory lock keyed by `name` and the current schema, so that
    processes creating or migrating the same tables at the same time queue instead of
    racing (the schema is part of the key: tests run one schema each in one database).

    `altering` (schema migrations) follows SQLite's procedure for changing tables that
    others reference, which SQLite does by copying them: foreign keys off for the
    transaction (SQLite only switches them between transactions), then checked before
    the commit, which a dangling reference prevents (IntegrityError, nothing changed).
    """
    with engine.connect() as conn:
        pragmas = altering and conn.dialect.name == "sqlite"
        if pragmas:
            _sqlite_foreign_keys(conn, on=False)
        try:
            conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(_ADVISORY_LOCK, {"key": name})
                yield conn
                if pragmas and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise IntegrityError("a schema change left dangling foreign keys")
        finally:
            if pragmas:
                _sqlite_foreign_keys(conn, on=True)


_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:key || '/' || current_schema()))")


def _sqlite_foreign_keys(conn: Connection, *, on: bool) -> None:
    """On the driver's connection: in autocommit, outside SQLAlchemy's transaction."""
    driver: Any = conn.connection.driver_connection
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


class Database:
    """What the index and the journal adapters share: the engine they run on."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def shares_database(self, other: object) -> bool:
        """Whether `other` is an adapter on this adapter's database (`same_database`)."""
        return isinstance(other, Database) and same_database(self._engine, other.engine)
