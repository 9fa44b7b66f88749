"""The Protocols through which the service appends to and reads the journal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from vault.journal.chain import JournalEntry, JournalEvent


class JournalStore(Protocol):
    def append(self, event: JournalEvent) -> JournalEntry:
        """Appends atomically after the current head; never forks, never leaves a gap."""
        ...


@runtime_checkable
class JoiningJournal(JournalStore, Protocol):
    """A journal that can write an index change in its entry's transaction, when both
    are in one database (`GroupCommitJournal`)."""

    def joins(self, index: object) -> bool:
        """Whether `append_with` writes to `index` in the entry's transaction."""
        ...

    def append_with(
        self, event: JournalEvent, write: Callable[[], None]
    ) -> tuple[JournalEntry, Exception | None]:
        """Appends `event` and runs `write` in one transaction; the entry, and `write`'s
        error if it failed (nothing it wrote kept, the entry kept)."""
        ...

    def write(self, write: Callable[[], None]) -> None:
        """Runs `write` in a journal transaction (its durable commit shared with the
        appends of the moment); raises its error."""
        ...


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """What the patient and auditor queries select; every field narrows the result."""

    dossier: str | None = None
    actor_ref: str | None = None
    emergency_only: bool = False
    denials_only: bool = False
    after_seq: int = 0


class JournalLog(Protocol):
    """The journal's read side: exports and queries."""

    def entries(
        self,
        first_seq: int = 1,
        last_seq: int | None = None,
        *,
        since_us: int | None = None,
        until_us: int | None = None,
    ) -> Iterator[JournalEntry]:
        """Entries in sequence order, by sequence range and/or time range (streamed)."""
        ...

    def query(self, where: EntryFilter, limit: int) -> list[JournalEntry]:
        """One page of the entries matching `where`, in sequence order."""
        ...

    def checkpoints(
        self, first_size: int = 0, last_size: int | None = None
    ) -> list[tuple[int, str]]:
        """(size, signed note) of each checkpoint in the range, in order."""
        ...
