"""`TileDirectory`: the tiles of vault/journal/tiles.py as files under one directory, which
any web server or `rsync` can mirror (`<dir>/tile/...`, `<dir>/checkpoint`).

Every tile and bundle is written once: to a temporary file in its directory, fsynced, then
linked to its name (never a partial file visible; an existing file is never replaced: the
same bytes again are a no-op, other bytes an IntegrityError), and the directory fsynced,
as are the directories it had to create. The one mutable file is `checkpoint`, the latest
signed note (tlog-tiles' `<prefix>/checkpoint`), replaced by rename. The partial tiles of
an index are removed once its full tile is durable (tlog-tiles allows it); a reader then
takes the full tile's first hashes (`fetch`). What it does not: decide what to write
(vault/journal/tilewriter.py) or check what it reads beyond its length.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from vault.durable import fsync_directory, replace_atomically, write_temporary
from vault.errors import IntegrityError, UnavailableError
from vault.journal.merkle import HASH_SIZE
from vault.journal.tiles import (
    ENTRIES,
    MAX_ENTRY,
    WIDTH,
    TileFailureKind,
    TileVerificationError,
    decode_bundle,
    path,
)

CHECKPOINT = "checkpoint"
MAX_FILE = WIDTH * (2 + MAX_ENTRY)  # a full bundle of the largest entries


class TileDirectory:
    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, relative: str) -> bytes | None:
        """A file's bytes, None if it is absent; at most one byte more than the largest
        file the layout has (a full bundle of the largest entries), so that a hostile
        mirror's huge file costs no more than that and fails its length check."""
        try:
            with (self.root / relative).open("rb") as source:
                return source.read(MAX_FILE + 1)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as e:
            raise UnavailableError(f"cannot read the published tile {relative}") from e

    def partial_widths(self, level: int, index: int) -> list[int]:
        """The widths of the partial files kept for one tile (or bundle), ascending."""
        directory = self.root / f"{path(level, index)}.p"
        try:
            names = [entry.name for entry in os.scandir(directory)]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(int(n) for n in names if n.isdigit() and n == str(int(n)))

    def fetch(self, level: int, index: int, width: int) -> bytes:
        """A tile (level `ENTRIES`: a bundle) of `width`: its own file, or else the first
        `width` hashes (entries) of the full one; TileVerificationError if neither exists."""
        data = self.read(path(level, index, width))
        if data is not None or width == WIDTH:
            if data is None:
                missing = path(level, index, width)
                raise TileVerificationError(TileFailureKind.MISSING_TILE, missing, "absent")
            return data
        full = self.read(path(level, index))
        if full is None:
            missing = path(level, index, width)
            raise TileVerificationError(TileFailureKind.MISSING_TILE, missing, "absent")
        if level != ENTRIES:
            return full[: width * HASH_SIZE]
        try:
            entries = decode_bundle(full)[:width]
        except ValueError:
            raise TileVerificationError(
                TileFailureKind.TAMPERED_BUNDLE, path(level, index), "broken framing"
            ) from None
        return b"".join(len(e).to_bytes(2, "big") + e for e in entries)

    def write_once(self, relative: str, data: bytes) -> None:
        """Publishes a tile or bundle atomically; never replaces a different one."""
        final = self.root / relative
        try:
            self._make_directories(final.parent)
            temporary = write_temporary(final.parent, data, 0o644, "tile")
            try:
                os.link(temporary, final)
            except FileExistsError:
                if final.read_bytes() != data:
                    raise IntegrityError(
                        f"a different {relative} is published already: the published "
                        "tiles disagree with the journal"
                    ) from None
            finally:
                temporary.unlink(missing_ok=True)
            fsync_directory(final.parent)
        except OSError as e:
            raise UnavailableError(f"cannot publish the journal tile {relative}") from e

    def remove_partials(self, level: int, index: int) -> None:
        """Removes the partial files of a tile whose full file is published (a stray
        file in their directory keeps the directory, harmlessly)."""
        directory = self.root / f"{path(level, index)}.p"
        widths = self.partial_widths(level, index)
        if not widths:
            return
        try:
            for width in widths:
                (directory / str(width)).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                directory.rmdir()
            fsync_directory(directory.parent)
        except OSError as e:
            raise UnavailableError("cannot remove superseded partial tiles") from e

    def replace_checkpoint(self, note: str) -> None:
        """`<dir>/checkpoint`: the latest note, replaced atomically (the one mutable file)."""
        try:
            self._make_directories(self.root)
            replace_atomically(self.root / CHECKPOINT, note.encode(), 0o644)
        except OSError as e:
            raise UnavailableError("cannot publish the tiles' checkpoint") from e

    def _make_directories(self, directory: Path) -> None:
        """Creates `directory` and its missing parents, each made durable in its parent."""
        missing = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for new in reversed(missing):
            new.mkdir(exist_ok=True)
            fsync_directory(new.parent)
