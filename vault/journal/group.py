"""Group commit: appends from concurrent requests share one transaction.

`GroupCommitJournal` wraps any store with `append_many`. Callers block in `append` while
one committer thread drains the queue: everything queued while the previous transaction
was committing goes into the next one (up to `max_batch`). A lone request pays one
transaction, as before; under load, one durable commit (fsync) serves many requests.
Each caller gets its own entry back, or the error of the transaction that held it: no
entry is acknowledged before its transaction committed. `on_commit`, if given, hears of
each transaction (its size, seconds, error or None) from the committer thread.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from vault.errors import UnavailableError
from vault.journal.chain import JournalEntry, JournalEvent


class BatchAppender(Protocol):
    def append_many(self, events: Sequence[JournalEvent]) -> list[JournalEntry]: ...


@dataclass
class _Pending:
    event: JournalEvent
    done: threading.Event = field(default_factory=threading.Event)
    entry: JournalEntry | None = None
    error: BaseException | None = None


class GroupCommitJournal:
    def __init__(
        self,
        store: BatchAppender,
        max_batch: int = 512,
        on_commit: Callable[[int, float, BaseException | None], None] | None = None,
    ) -> None:
        self._store = store
        self._on_commit = on_commit
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._wakeup = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(
            target=self._commit_loop, name="journal-commit", daemon=True
        )
        self._thread.start()

    def append(self, event: JournalEvent) -> JournalEntry:
        pending = _Pending(event)
        with self._wakeup:
            if self._closed:
                raise UnavailableError("journal is shutting down")
            self._queue.append(pending)
            self._wakeup.notify()
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.entry is not None
        return pending.entry

    def _next_batch(self) -> list[_Pending]:
        with self._wakeup:
            while not self._queue and not self._closed:
                self._wakeup.wait()
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            return batch

    def _commit_loop(self) -> None:
        while batch := self._next_batch():
            start, failure = time.perf_counter(), None
            try:
                entries = self._store.append_many([p.event for p in batch])
                for pending, entry in zip(batch, entries, strict=True):
                    pending.entry = entry
            except BaseException as error:  # handed to every waiter of this batch
                failure = error
                for pending in batch:
                    pending.error = error
            finally:
                for pending in batch:
                    pending.done.set()
            if self._on_commit is not None:  # after the waiters; its failure is not theirs
                with contextlib.suppress(Exception):
                    self._on_commit(len(batch), time.perf_counter() - start, failure)

    def close(self) -> None:
        """Commits what is queued, then stops the committer thread."""
        with self._wakeup:
            self._closed = True
            self._wakeup.notify()
        self._thread.join()
