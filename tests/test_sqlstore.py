"""vault.sqlstore: read connections and write transactions on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from vault.sqlstore import make_engine, reading, writing


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
