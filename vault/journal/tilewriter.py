"""Publishing the journal's tiles as each checkpoint is published, only the new ones.

`TilingPublisher` wraps the checkpoint `Publisher` (vault/journal/checkpointer.py): before
a v2 checkpoint of size s is published, `TileWriter` extends the tiles from the size of
`<dir>/checkpoint` (the last note whose tiles are complete; 0 if absent) to s, from the
journal's entries between; then the inner publisher publishes the note and `<dir>/checkpoint`
is replaced by it. A crash between leaves tiles that the next checkpoint writes again,
byte for byte (write-once files take the same bytes as a no-op).

Resuming, the writer reads back the partial tiles and bundle of the tiled size and checks
them against that checkpoint's signed root (and the bundle against the level-0 tile);
extending, it checks each entry's `seq`, and the new root against the note's before it
writes the partial tiles and the checkpoint. Full tiles are written as they complete
(memory stays constant over a long backfill): a root mismatch at the end leaves them,
and the next attempt or any verifier reports them. Any inconsistency stops the
publication (an IntegrityError: the checkpoint is not published, as for a conflicting
checkpoint file), except an entry too large for a bundle (65,536 bytes or more): the
entry format forbids one (ADR 0045) and the replay refuses it before signing, so this is
a guard only: tiling would stop before it (logged CRITICAL, once per process) and
checkpoints go on without tiles. What it does not: verify
the chain (the checkpointer's replay did, just before signing) or serve files.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from vault.errors import IntegrityError
from vault.journal.chain import JournalEntry
from vault.journal.checkpoint import VerifierKey, open_note
from vault.journal.checkpointer import Publisher
from vault.journal.merkle import EMPTY_ROOT, leaf_hash
from vault.journal.tilefiles import CHECKPOINT, TileDirectory
from vault.journal.tiles import (
    ENTRIES,
    WIDTH,
    EntryTooLargeError,
    TileBuilder,
    TileVerificationError,
    decode_bundle,
    split_hashes,
    widths,
)

_log = logging.getLogger(__name__)


class EntrySource(Protocol):
    def entries(self, first_seq: int = 1, last_seq: int | None = None) -> Iterator[JournalEntry]:
        """Entries first_seq..last_seq, in order."""
        ...


class TileWriter:
    def __init__(self, directory: TileDirectory) -> None:
        self.directory = directory

    def resume(self, size: int, root: bytes) -> TileBuilder:
        """The builder at `size`, from its published partial tiles, checked against the
        signed `root` of that size."""
        if size == 0:
            return TileBuilder()
        try:
            partial = {
                level: split_hashes(self.directory.fetch(level, index, width))
                for level, index, width in widths(size)
                if width != WIDTH
            }
            bundle: list[bytes] = []
            if size % WIDTH:
                data = self.directory.fetch(ENTRIES, size // WIDTH, size % WIDTH)
                bundle = decode_bundle(data)
            builder = TileBuilder(size, partial, bundle)
        except (TileVerificationError, ValueError, IntegrityError) as error:
            detail = f"the published tiles of size {size} are unusable: {error}"
            raise _refused(detail) from None
        if builder.root() != root or [leaf_hash(e) for e in bundle] != partial.get(0, []):
            raise _refused(f"the published tiles of size {size} are not the signed tree")
        return builder

    def extend(
        self, builder: TileBuilder, entries: Iterable[bytes], size: int, root: bytes
    ) -> None:
        """Appends the entries up to `size`, writing each full tile as it completes, then
        (the root checked against the signed `root`) the partial tiles of `size`."""
        for entry in entries:
            if builder.size == size:
                raise _refused("more entries than the checkpoint's size")
            for relative, data in builder.append(entry):
                self.directory.write_once(relative, data)
                level, index = _full_tile(relative)
                self.directory.remove_partials(level, index)
        if builder.size != size:
            raise _refused("fewer entries than the checkpoint's size")
        if builder.root() != root:
            raise _refused("the tiles' root is not the signed checkpoint's")
        for relative, data in builder.partials():
            self.directory.write_once(relative, data)


def _refused(detail: str) -> IntegrityError:
    _log.critical("journal tiles REFUSED: %s", detail)
    return IntegrityError(f"journal tiles: {detail}")


def _full_tile(relative: str) -> tuple[int, int]:
    """(level, index) of a full tile's or bundle's path."""
    _, name, *elements = relative.split("/")
    index = int("".join(e.removeprefix("x") for e in elements))
    return (ENTRIES if name == "entries" else int(name)), index


class TilingPublisher:
    """A `Publisher` that publishes the tiles up to each v2 checkpoint before the note,
    in the same directory (ADR 0043)."""

    def __init__(
        self, inner: Publisher, directory: Path, journal: EntrySource, key: VerifierKey
    ) -> None:
        self._inner = inner
        self._tiles = TileDirectory(directory)
        self._writer = TileWriter(self._tiles)
        self._journal = journal
        self._key = key
        self._stopped = False  # an entry too large for a bundle: no tiles past it

    def tiled(self) -> tuple[int, bytes]:
        """The size and root of `<dir>/checkpoint`, whose tiles are all published."""
        data = self._tiles.read(CHECKPOINT)
        if data is None:
            return 0, EMPTY_ROOT
        try:
            checkpoint = open_note(data.decode(), self._key)
        except (UnicodeDecodeError, IntegrityError) as error:
            raise _refused(f"the tiles' checkpoint does not verify: {error}") from None
        return checkpoint.size, checkpoint.root or EMPTY_ROOT

    def publish(self, size: int, note: str) -> None:
        checkpoint = open_note(note, self._key)
        tiled_size, tiled_root = self.tiled()
        newer = checkpoint.root is not None and size > tiled_size and not self._stopped
        if newer and checkpoint.root is not None:
            builder = self._writer.resume(tiled_size, tiled_root)
            entries = self._journal.entries(first_seq=tiled_size + 1, last_seq=size)
            try:
                self._writer.extend(
                    builder, _canonical(entries, tiled_size + 1), size, checkpoint.root
                )
            except EntryTooLargeError:
                _log.critical(
                    "journal tiles STOPPED after entry %d: entry %d is over 65,535 bytes and "
                    "cannot be tiled; checkpoints go on, without tiles (ADR 0043)",
                    builder.size,
                    builder.size + 1,
                )
                self._stopped, newer = True, False
            finally:
                close = getattr(entries, "close", None)
                if close is not None:  # a database read stopped early ends its transaction
                    close()
        self._inner.publish(size, note)
        if newer and self.tiled()[0] < size:  # not behind another process's, if one ran
            self._tiles.replace_checkpoint(note)

    def latest(self) -> str | None:
        return self._inner.latest()


def _canonical(entries: Iterable[JournalEntry], first_seq: int) -> Iterator[bytes]:
    for expected, entry in enumerate(entries, start=first_seq):
        if entry.seq != expected:
            raise _refused(f"entry {expected} is missing from the journal")
        yield entry.canonical
