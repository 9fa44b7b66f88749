"""Group commit: appends from concurrent requests share one transaction.

`GroupCommitJournal` wraps any store with `append_many`. Callers block in `append` while
one committer thread drains the queue: everything queued while the previous transaction
was committing goes into the next one (up to `max_batch`). A lone request pays one
transaction, as before; under load, one durable commit (fsync) serves many requests.
Each caller gets its own entry back, or the error of the transaction that held it: no
entry is acknowledged before its transaction committed. `on_commit`, if given, hears of
each transaction (its size, seconds, error or None) from the committer thread.

`append_with` carries an index write into the entry's transaction when the store shares
the index's database (`joins`): an upload's reservation and the entry of the decision
that allowed it, in one durable commit shared with the other appends of the batch
(docs/adr/0014); `write` runs an index write alone in the next batch's transaction (an
upload's version made visible, after its entry). It does not decide what is written,
nor run a write on another database: a journal of its own (VAULT_JOURNAL_DATABASE_URL)
joins nothing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from vault.errors import UnavailableError
from vault.journal.chain import JournalEntry, JournalEvent


class BatchAppender(Protocol):
    def append_many(self, events: Sequence[JournalEvent]) -> list[JournalEntry]: ...


@runtime_checkable
class JoiningAppender(Protocol):
    """A store whose transaction can carry writes to its own database (`SqlJournal`)."""

    def append_many(
        self, events: Sequence[JournalEvent], writes: Sequence[Callable[[], None]] = ()
    ) -> list[JournalEntry]: ...

    def shares_database(self, other: object) -> bool: ...


@dataclass
class _Pending:
    event: JournalEvent | None  # None: a write alone (`write`)
    write: Callable[[], None] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    entry: JournalEntry | None = None
    error: BaseException | None = None
    write_error: Exception | None = None

    def run_write(self) -> None:
        """The write, in the batch's transaction; its failure is this caller's alone."""
        assert self.write is not None
        try:
            self.write()
        except Exception as error:  # undone by its savepoint; the entry still commits
            self.write_error = error


class GroupCommitJournal:
    def __init__(
        self,
        store: BatchAppender,
        max_batch: int = 512,
        on_commit: Callable[[int, float, BaseException | None], None] | None = None,
    ) -> None:
        self._store = store
        self._on_commit = on_commit
        self._joining = store if isinstance(store, JoiningAppender) else None
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._wakeup = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(
            target=self._commit_loop, name="journal-commit", daemon=True
        )
        self._thread.start()

    def append(self, event: JournalEvent) -> JournalEntry:
        entry = self._wait(_Pending(event))
        assert entry is not None
        return entry

    def joins(self, index: object) -> bool:
        """Whether `append_with` writes to `index` in the entry's own transaction."""
        return self._joining is not None and self._joining.shares_database(index)

    def append_with(
        self, event: JournalEvent, write: Callable[[], None]
    ) -> tuple[JournalEntry, Exception | None]:
        """Appends `event` and runs `write` (index writes on the journal's database, see
        `joins`) in the same transaction. Returns the entry, and the error `write`
        raised if it failed: then nothing it wrote is kept, and the entry is. A failed
        transaction raises, and neither is written."""
        if self._joining is None:
            raise AssertionError("this journal's store joins no write")
        pending = _Pending(event, write)
        entry = self._wait(pending)
        assert entry is not None
        return entry, pending.write_error

    def write(self, write: Callable[[], None]) -> None:
        """Runs `write` (index writes on the journal's database, see `joins`) in the
        next batch's transaction, without an entry: its durable commit is shared with
        the batch's. Raises its error (nothing it wrote kept) or the transaction's."""
        if self._joining is None:
            raise AssertionError("this journal's store joins no write")
        pending = _Pending(None, write)
        self._wait(pending)
        if pending.write_error is not None:
            raise pending.write_error

    def _wait(self, pending: _Pending) -> JournalEntry | None:
        with self._wakeup:
            if self._closed:
                raise UnavailableError("journal is shutting down")
            self._queue.append(pending)
            self._wakeup.notify()
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.entry

    def _next_batch(self) -> list[_Pending]:
        with self._wakeup:
            while not self._queue and not self._closed:
                self._wakeup.wait()
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            return batch

    def _append(self, events: list[JournalEvent], batch: list[_Pending]) -> list[JournalEntry]:
        writes = [p.run_write for p in batch if p.write is not None]
        if writes and self._joining is not None:
            return self._joining.append_many(events, writes)
        return self._store.append_many(events)

    def _commit_loop(self) -> None:
        while batch := self._next_batch():
            start, failure = time.perf_counter(), None
            try:
                appending = [p for p in batch if p.event is not None]
                entries = self._append([p.event for p in appending if p.event], batch)
                for pending, entry in zip(appending, entries, strict=True):
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
