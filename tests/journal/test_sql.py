"""`SqlJournal` on SQLite and PostgreSQL: appends stay one contiguous, verifiable chain."""

from __future__ import annotations

import multiprocessing
import threading
from dataclasses import replace

from tests.journal.test_chain import EVENT
from vault.journal.chain import verify_chain
from vault.journal.sql import SqlJournal
from vault.sqlstore import make_engine


def journal_at(url: str) -> SqlJournal:
    journal = SqlJournal(make_engine(url))
    journal.create_schema()
    return journal


def test_appends_read_back_as_a_verified_chain(db_url: str) -> None:
    journal = journal_at(db_url)
    appended = [journal.append(replace(EVENT, request_id=str(i))) for i in range(20)]
    read = list(journal.entries())
    assert read == appended
    assert verify_chain(read) == (20, appended[-1].chain_hash)


def test_creating_the_schema_twice_keeps_the_head(db_url: str) -> None:
    journal = journal_at(db_url)
    journal.append(EVENT)
    journal_at(db_url).append(EVENT)
    assert [e.seq for e in journal.entries()] == [1, 2]


def test_concurrent_appenders_never_fork_or_gap(db_url: str) -> None:
    journals = [journal_at(db_url) for _ in range(4)]  # separate engines, like processes
    errors: list[BaseException] = []

    def append_many(journal: SqlJournal, worker: int) -> None:
        try:
            for i in range(25):
                journal.append(replace(EVENT, request_id=f"{worker}-{i}"))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=append_many, args=(j, n)) for n, j in enumerate(journals)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    entries = list(journals[0].entries())
    assert [e.seq for e in entries] == list(range(1, 101))
    verify_chain(entries)
    assert len({e.event.request_id for e in entries}) == 100


def _append_from_process(url: str, worker: int, count: int) -> None:
    journal = SqlJournal(make_engine(url))
    for i in range(count):
        journal.append(replace(EVENT, request_id=f"p{worker}-{i}"))


def test_appenders_in_separate_processes_keep_one_contiguous_chain(db_url: str) -> None:
    journal_at(db_url)
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_append_from_process, args=(db_url, n, 30)) for n in range(3)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    entries = list(journal_at(db_url).entries())
    assert [e.seq for e in entries] == list(range(1, 91))
    verify_chain(entries)
