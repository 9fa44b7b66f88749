"""Signing journal checkpoints and publishing them outside the database.

`Checkpointer.checkpoint()` signs the journal's current head (if it moved since the last
checkpoint), records the note in the journal database (for exports) and publishes it
through a `Publisher`, write-once. `DirectoryPublisher` writes one file per checkpoint,
`checkpoint-<size, 20 digits>.txt`, created exclusively and fsynced: an existing file is
never replaced. The server calls `maybe_checkpoint` every second and signs every
`every_entries` entries or `every_seconds` seconds; operators sign on demand with
`dossier-vault journal checkpoint`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Protocol

from vault.domain.clock import Clock
from vault.errors import UnavailableError
from vault.journal.checkpoint import Checkpoint, Signer, VerifierKey, sign
from vault.journal.sql import SqlJournal


class Publisher(Protocol):
    def publish(self, size: int, note: str) -> None:
        """Stores `note` outside the journal database; never overwrites."""
        ...


class DirectoryPublisher:
    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def publish(self, size: int, note: str) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        path = self._directory / f"checkpoint-{size:020d}.txt"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return  # published already (by another process): write-once
        except OSError as e:
            raise UnavailableError("cannot publish the journal checkpoint") from e
        with os.fdopen(fd, "w") as out:
            out.write(note)
            out.flush()
            os.fsync(out.fileno())
        directory_fd = os.open(self._directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)


class Checkpointer:
    def __init__(
        self,
        journal: SqlJournal,
        signer: Signer,
        origin: str,
        publisher: Publisher,
        clock: Clock,
        *,
        every_entries: int = 1000,
        every_seconds: float = 60.0,
    ) -> None:
        self._journal = journal
        self._signer = signer
        self._origin = origin
        self._publisher = publisher
        self._clock = clock
        self._every_entries = every_entries
        self._every_seconds = every_seconds
        self._last_attempt = time.monotonic()

    @property
    def verifier_key(self) -> VerifierKey:
        return VerifierKey(self._origin, self._signer.public_key)

    def checkpoint(self) -> str | None:
        """Signs and publishes the current head; None if there is nothing new to sign."""
        self._last_attempt = time.monotonic()
        head = self._journal.head()
        if head.seq == 0 or head.seq <= self._journal.last_checkpoint_size():
            return None
        now_us = int(self._clock.now().timestamp() * 1_000_000)
        checkpoint = Checkpoint(self._origin, head.seq, head.chain_hash, now_us)
        note = sign(checkpoint, self._origin, self._signer)
        self._publisher.publish(head.seq, note)  # outside first: a failure retries later
        self._journal.add_checkpoint(head.seq, note)
        return note

    def maybe_checkpoint(self) -> str | None:
        """Signs when `every_entries` entries or `every_seconds` have passed."""
        unsigned = self._journal.head().seq - self._journal.last_checkpoint_size()
        stale = time.monotonic() - self._last_attempt >= self._every_seconds
        if unsigned >= self._every_entries or (unsigned > 0 and stale):
            return self.checkpoint()
        return None
