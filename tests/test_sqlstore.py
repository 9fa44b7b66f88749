"""vault.sqlstore: read connections and write transactions on both backends."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from vault.errors import UnavailableError
from vault.sqlstore import guard, make_engine, read_scope, reading, writing


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    with writing(engine) as conn:
        conn.execute(text("CREATE TABLE items (n INTEGER PRIMARY KEY)"))
    yield engine
    engine.dispose()


def _count(engine: Engine) -> int:
    with reading(engine) as conn:
        return int(conn.execute(text("SELECT count(*) FROM items")).scalar_one())


def _insert_then_crash(engine: Engine) -> None:
    with writing(engine) as conn:
        conn.execute(text("INSERT INTO items (n) VALUES (1)"))
        raise RuntimeError("crash between two statements")


def test_a_read_on_postgresql_runs_outside_a_transaction(postgres_url: str) -> None:
    """Each statement is its own transaction: no BEGIN/ROLLBACK round trips around it."""
    engine = make_engine(postgres_url)
    try:
        with reading(engine) as conn:
            first, second = (
                conn.execute(text("SELECT txid_current()")).scalar_one() for _ in range(2)
            )
    finally:
        engine.dispose()
    assert first != second


def test_a_pooled_connection_does_not_keep_autocommit_for_the_next_writer(
    engine: Engine,
) -> None:
    """A write that fails half-way after a read on the same pooled connection leaves
    nothing behind: the read's autocommit must not outlive it."""
    _count(engine)
    with pytest.raises(RuntimeError):
        _insert_then_crash(engine)
    assert _count(engine) == 0
    with writing(engine) as conn:
        conn.execute(text("INSERT INTO items (n) VALUES (2)"))
    assert _count(engine) == 1


def test_reads_in_a_read_scope_share_one_connection(engine: Engine) -> None:
    with read_scope(engine):
        with reading(engine) as first:
            first.execute(text("SELECT count(*) FROM items"))
        with read_scope(engine), reading(engine) as second:  # nested: the outer scope
            second.execute(text("SELECT count(*) FROM items"))
        assert second is first
        assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with reading(engine) as third:
        assert third is not first


def test_a_read_scope_is_its_own_threads_only(engine: Engine) -> None:
    seen: list[object] = []

    def read_elsewhere() -> None:
        with reading(engine) as conn:
            seen.append(conn)

    with read_scope(engine), reading(engine) as conn:
        other = threading.Thread(target=read_elsewhere)
        other.start()
        other.join()
        assert seen[0] is not conn


def test_a_read_scope_ends_clean_for_the_next_writer(engine: Engine) -> None:
    """The scope's connection goes back to the pool with nothing open: a write on it
    afterwards is a transaction of its own, and sees every committed row."""
    with read_scope(engine):
        assert _count(engine) == 0
        assert _count(engine) == 0
    with pytest.raises(RuntimeError):
        _insert_then_crash(engine)
    with writing(engine) as conn:
        conn.execute(text("INSERT INTO items (n) VALUES (2)"))
    with read_scope(engine):
        assert _count(engine) == 1


def test_reads_in_a_read_scope_on_sqlite_see_one_snapshot(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/scope.sqlite3")
    try:
        with writing(engine) as conn:
            conn.execute(text("CREATE TABLE items (n INTEGER PRIMARY KEY)"))
        with read_scope(engine):
            assert _count(engine) == 0
            with writing(engine) as conn:  # another connection (not in a scope's block
                conn.execute(text("INSERT INTO items (n) VALUES (1)"))  # in the vault)
            assert _count(engine) == 0  # the scope's snapshot
        assert _count(engine) == 1
    finally:
        engine.dispose()


def test_a_writer_that_cannot_get_sqlites_write_lock_is_unavailable(tmp_path: Path) -> None:
    """The BEGIN IMMEDIATE goes to the driver directly: its refusal (the lock not granted
    within the busy timeout, here none) is still a database error `guard` turns into
    UnavailableError, not a raw sqlite3 error."""
    path = tmp_path / "locked.sqlite3"
    engine = make_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _no_patience(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    with writing(engine) as conn:
        conn.execute(text("CREATE TABLE items (n INTEGER PRIMARY KEY)"))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(UnavailableError), guard(), writing(engine) as conn:
            conn.execute(text("INSERT INTO items (n) VALUES (1)"))
    finally:
        holder.rollback()
        holder.close()
    assert _count(engine) == 0
    engine.dispose()
