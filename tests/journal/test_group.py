"""Group commit: concurrent appenders share transactions and each gets its own entry."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy import exc as sa_exc

from tests.journal.test_chain import EVENT
from tests.test_service_overlap import journal_refusing
from vault.errors import ConflictError, UnavailableError
from vault.journal.chain import JournalEntry, JournalEvent, verify_chain
from vault.journal.group import GroupCommitJournal
from vault.journal.sql import SqlJournal
from vault.sqlstore import Database, make_engine, same_database, writing


class CountingStore:
    def __init__(self, store: SqlJournal) -> None:
        self.store = store
        self.batches: list[int] = []

    def append_many(self, events: Sequence[JournalEvent]) -> list[JournalEntry]:
        self.batches.append(len(events))
        return self.store.append_many(events)


def test_concurrent_appends_are_batched_and_each_caller_gets_its_entry(db_url: str) -> None:
    store = SqlJournal(make_engine(db_url))
    store.create_schema()
    counting = CountingStore(store)
    journal = GroupCommitJournal(counting)
    results: dict[str, JournalEntry] = {}

    def worker(n: int) -> None:
        for i in range(20):
            request_id = f"{n}-{i}"
            results[request_id] = journal.append(replace(EVENT, request_id=request_id))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal.close()
    assert all(entry.event.request_id == rid for rid, entry in results.items())
    entries = list(store.entries())
    assert len(entries) == 320
    verify_chain(entries)
    assert sum(counting.batches) == 320
    assert len(counting.batches) < 320  # some transactions carried several entries


class FailingStore:
    def append_many(self, events: Sequence[JournalEvent]) -> list[JournalEntry]:
        raise UnavailableError("database unavailable")


def test_a_failed_transaction_fails_every_caller_in_it() -> None:
    journal = GroupCommitJournal(FailingStore())
    with pytest.raises(UnavailableError):
        journal.append(EVENT)
    journal.close()


def test_appending_after_close_is_refused() -> None:
    journal = GroupCommitJournal(FailingStore())
    journal.close()
    with pytest.raises(UnavailableError, match="shutting down"):
        journal.append(EVENT)


def _marks(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row.note for row in conn.execute(text("SELECT note FROM marks ORDER BY note"))]


def _mark(engine: Engine, note: str, then_fail: bool = False) -> Callable[[], None]:
    """An index write through its own engine, as the index adapter makes one."""

    def write() -> None:
        with writing(engine) as conn:
            conn.execute(text("INSERT INTO marks (note) VALUES (:note)"), {"note": note})
            if then_fail:
                raise ConflictError("another version of this document is being written")

    return write


def _shared_database(db_url: str) -> tuple[SqlJournal, Engine]:
    store = SqlJournal(make_engine(db_url))
    store.create_schema()
    other = make_engine(db_url)  # the index's engine: another pool, the same database
    with other.begin() as conn:
        conn.execute(text("CREATE TABLE marks (note VARCHAR(16) PRIMARY KEY)"))
    return store, other


def test_a_joined_write_and_its_entry_commit_together_and_a_refused_write_keeps_the_entry(
    db_url: str,
) -> None:
    store, index_engine = _shared_database(db_url)
    journal = GroupCommitJournal(store)
    assert journal.joins(Database(index_engine))
    entry, failed = journal.append_with(EVENT, _mark(index_engine, "reserved"))
    assert failed is None
    refused, failed = journal.append_with(EVENT, _mark(index_engine, "undone", then_fail=True))
    assert isinstance(failed, ConflictError)
    journal.close()
    assert _marks(index_engine) == ["reserved"]  # the refused write left nothing
    assert [e.seq for e in store.entries()] == [entry.seq, refused.seq]  # both entries kept


def test_a_failed_entry_takes_its_joined_write_with_it(db_url: str) -> None:
    store, index_engine = _shared_database(db_url)
    journal = GroupCommitJournal(store)
    with journal_refusing(db_url), pytest.raises(sa_exc.IntegrityError):
        journal.append_with(EVENT, _mark(index_engine, "reserved"))
    journal.close()
    assert _marks(index_engine) == []
    assert list(store.entries()) == []


def test_a_journal_in_its_own_database_joins_no_index(db_url: str, tmp_path: Path) -> None:
    store = SqlJournal(make_engine(f"sqlite:///{tmp_path / 'journal.sqlite3'}"))
    store.create_schema()
    journal = GroupCommitJournal(store)
    assert not journal.joins(Database(make_engine(db_url)))
    assert not GroupCommitJournal(CountingStore(store)).joins(store)  # no joining store
    journal.close()


def test_in_memory_databases_of_two_engines_are_not_one() -> None:
    assert not same_database(make_engine("sqlite://"), make_engine("sqlite://"))


def test_a_write_alone_commits_in_a_journal_transaction_and_appends_nothing(
    db_url: str,
) -> None:
    store, index_engine = _shared_database(db_url)
    journal = GroupCommitJournal(store)
    journal.append(EVENT)
    head = store.head()
    journal.write(_mark(index_engine, "visible"))
    with pytest.raises(ConflictError):
        journal.write(_mark(index_engine, "undone", then_fail=True))
    journal.close()
    assert _marks(index_engine) == ["visible"]
    assert store.head() == head  # no entry, the chain untouched
    verify_chain(list(store.entries()))
