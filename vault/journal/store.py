"""The Protocol through which the service appends to and reads the journal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from vault.journal.chain import JournalEntry, JournalEvent


class JournalStore(Protocol):
    def append(self, event: JournalEvent) -> JournalEntry:
        """Appends atomically after the current head; never forks, never leaves a gap."""
        ...

    def entries(self, first_seq: int = 1) -> Iterator[JournalEntry]:
        """Every entry from `first_seq` on, in sequence order."""
        ...
