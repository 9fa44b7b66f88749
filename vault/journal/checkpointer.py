"""Signing journal checkpoints and publishing them outside the database.

`Checkpointer.checkpoint()` signs the journal's current size, Merkle root and chain hash
(a v2 checkpoint, if the journal grew since the last checkpoint), records the note in the
journal database (for exports) and publishes it through a `Publisher`, write-once.
Before signing it replays the entries since the last *published* checkpoint (not the
database's own record, which an administrator could delete) and refuses to sign a head
that does not extend it: rewritten history is never endorsed. The same replay extends
the stored Merkle tree (vault/journal/tree.py) from its stored size, starting from the
stored frontier, which the published checkpoint's root checks when it is a v2 one: the
tree is never extended from nodes the last signed root disowns. `DirectoryPublisher`
writes one file per checkpoint, `checkpoint-<size, 20 digits>.txt`: written to a
temporary file, fsynced, then linked to its name, so no partial file is ever visible and
an existing file is never replaced. The server calls `maybe_checkpoint` every second and
signs every `every_entries` entries or `every_seconds` seconds; operators sign on demand
with `dossier-vault journal checkpoint`. With a `Cosigner` (witnesses, ADR 0044) the note
is published only with its witnesses' quorum of cosignatures appended: short of it,
nothing is published this round and the next one signs again.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path
from typing import Protocol

from vault.domain.clock import Clock, to_us
from vault.durable import fsync_directory, write_temporary
from vault.errors import IntegrityError, UnavailableError
from vault.journal.checkpoint import Checkpoint, Signer, VerifierKey, open_note, sign
from vault.journal.export import export_lines
from vault.journal.merkle import TreeStore
from vault.journal.sql import Head, SqlJournal
from vault.journal.tree import SqlMerkleTree
from vault.journal.verify import Summary, VerificationError, verify_export

_log = logging.getLogger(__name__)
_NAME = re.compile(r"checkpoint-(\d{20})\.txt")


class Publisher(Protocol):
    def publish(self, size: int, note: str) -> None:
        """Stores `note` outside the journal database; never overwrites a different note."""
        ...

    def latest(self) -> str | None:
        """The published note of the highest size, if any."""
        ...


class Cosigner(Protocol):
    def cosign(self, note: str, size: int, tree: TreeStore) -> str:
        """`note` with its witnesses' cosignatures; UnavailableError short of a quorum."""
        ...


class DirectoryPublisher:
    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def publish(self, size: int, note: str) -> None:
        """Publishes atomically; the same note again is a no-op, a different one an
        IntegrityError (a published checkpoint is never replaced)."""
        final = self._directory / f"checkpoint-{size:020d}.txt"
        data = note.encode()
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
            temporary = write_temporary(self._directory, data, 0o644, f"checkpoint-{size:020d}")
            try:
                os.link(temporary, final)
            except FileExistsError:
                if final.read_bytes() != data:
                    raise IntegrityError(
                        f"a different checkpoint of size {size} is published already"
                    ) from None
            finally:
                temporary.unlink(missing_ok=True)
            fsync_directory(self._directory)
        except OSError as e:
            raise UnavailableError("cannot publish the journal checkpoint") from e

    def latest(self) -> str | None:
        try:
            names = [e.name for e in os.scandir(self._directory) if _NAME.fullmatch(e.name)]
            if not names:
                return None
            return (self._directory / max(names)).read_bytes().decode()
        except FileNotFoundError:
            return None
        except UnicodeDecodeError as e:
            raise IntegrityError("the latest published checkpoint is not UTF-8") from e
        except OSError as e:
            raise UnavailableError("cannot read the published journal checkpoints") from e


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
        cosigner: Cosigner | None = None,
    ) -> None:
        self._journal = journal
        self._tree = SqlMerkleTree(journal.engine)
        self._signer = signer
        self._origin = origin
        self._publisher = publisher
        self._clock = clock
        self._every_entries = every_entries
        self._every_seconds = every_seconds
        self._last_attempt = time.monotonic()
        self._cosigner = cosigner

    @property
    def verifier_key(self) -> VerifierKey:
        return VerifierKey(self._origin, self._signer.public_key)

    def checkpoint(self) -> str | None:
        """Signs and publishes the current head; None if there is nothing new to sign."""
        self._last_attempt = time.monotonic()
        head = self._journal.head()
        if head.seq == 0 or head.seq <= self._journal.last_checkpoint_size():
            return None
        published = self._publisher.latest()
        extends, root = self._replay(published, head)
        if published is not None and not extends:
            self._journal.add_checkpoint(head.seq, published)  # its database record was lost
            return None
        now_us = max(to_us(self._clock.now()), head.time_us)  # never older than its entry
        checkpoint = Checkpoint(self._origin, head.seq, root, now_us, head.chain_hash)
        note = sign(checkpoint, self._origin, self._signer)
        if self._cosigner is not None:  # the tree is extended to head.seq by now
            note = self._cosigner.cosign(note, head.seq, self._tree)
        self._publisher.publish(head.seq, note)  # outside first: a failure retries later
        self._journal.add_checkpoint(head.seq, note)
        return note

    def _replay(self, published: str | None, head: Head) -> tuple[bool, bytes]:
        """Replays the entries from the published checkpoint's size (or the stored tree's,
        if smaller) to `head`, extending the tree; (whether `head` extends the published
        checkpoint rather than being it, the Merkle root at `head`). Raises
        IntegrityError if the journal is inconsistent with it."""
        size = 0 if published is None else self._published_size(published)
        tree_size = self._tree.size()
        if tree_size > head.seq:
            raise IntegrityError("the journal's Merkle tree is larger than the journal")
        first = max(1, min(head.seq, tree_size + 1, size or head.seq))
        frontier = self._tree.frontier(first - 1)
        lines = export_lines(self._journal.entries(first_seq=first, last_seq=head.seq), {})
        notes = [] if published is None else [published]
        try:
            summary = verify_export(
                lines, self.verifier_key, notes, expect_complete=True, tree=frontier
            )
        except VerificationError as failure:
            _log.critical(
                "journal checkpoint REFUSED: the journal is inconsistent with its last "
                "published checkpoint (%s); the journal database may have been tampered with",
                failure,
            )
            raise IntegrityError(
                f"the journal does not extend its last published checkpoint: {failure}"
            ) from failure
        finally:
            lines.close()  # ends the read transaction of a replay stopped early
        self._check_end(summary, head)
        self._tree.extend(tree_size, frontier)
        return summary.checkpoints_matched != [head.seq], frontier.root()

    @staticmethod
    def _check_end(summary: Summary, head: Head) -> None:
        if summary.last_seq != head.seq or summary.head != head.chain_hash.hex():
            _log.critical("journal checkpoint REFUSED: the replay does not end at the head")
            raise IntegrityError("the journal changed under the checkpoint replay")

    def _published_size(self, published: str) -> int:
        try:
            return open_note(published, self.verifier_key).size
        except IntegrityError:
            _log.critical("journal checkpoint REFUSED: the last published checkpoint is invalid")
            raise

    def maybe_checkpoint(self) -> str | None:
        """Signs when `every_entries` entries or `every_seconds` have passed."""
        unsigned = self._journal.head().seq - self._journal.last_checkpoint_size()
        stale = time.monotonic() - self._last_attempt >= self._every_seconds
        if unsigned >= self._every_entries or (unsigned > 0 and stale):
            return self.checkpoint()
        return None
