"""Group commit: concurrent appenders share transactions and each gets its own entry."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace

import pytest

from tests.journal.test_chain import EVENT
from vault.errors import UnavailableError
from vault.journal.chain import JournalEntry, JournalEvent, verify_chain
from vault.journal.group import GroupCommitJournal
from vault.journal.sql import SqlJournal
from vault.sqlstore import make_engine


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
