"""Verifying a tiles directory offline: that it holds exactly the signed tree and its entries.

Needs the directory (a mirror: plain files), one signed v2 checkpoint and the verifier
key; nothing of the vault. For the checkpoint's size s, in this order, stopping at the
first failure (docs/format.md, "Journal tiles v1"):

1. the checkpoint opens with the key (*bad-signature*) and is v2 (*no-merkle-root*);
2. the tiles: every level-0 tile s needs is read, each full one hashed into the level
   above; every upper tile must be exactly what the level below gives, and the root of
   the partial tiles of s must be the signed root (else *tampered-tile*; an absent tile
   that s needs, *missing-tile*). Kept partial tiles of smaller widths must be prefixes
   of their tile. After this, the level-0 tiles are the signed tree's leaves;
3. the published checkpoints as for an export, then the entry bundles, one by one:
   framing and count (else *tampered-bundle*), each entry's leaf hash against its
   level-0 tile (else *tampered-bundle*), kept partial bundles as prefixes; then every
   entry goes through the export verifier
   (vault/journal/verify.py, the same code: canonical form, sequence, chain, times, and
   every published checkpoint's chain hash and root), as the export line it would be.

What it does not: fetch over HTTP (mirror first), or look at tiles beyond size s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from vault.errors import IntegrityError
from vault.journal.chain import ENTRY_DOMAIN
from vault.journal.checkpoint import VerifierKey, open_note
from vault.journal.export import ENTRY_MIDDLE, ENTRY_PREFIX
from vault.journal.merkle import HASH_SIZE, leaf_hash, perfect_root
from vault.journal.tilefiles import TileDirectory
from vault.journal.tiles import (
    ENTRIES,
    WIDTH,
    TileFailureKind,
    TileSource,
    TileVerificationError,
    decode_bundle,
    encode_bundle,
    path,
    split_hashes,
)
from vault.journal.verify import (
    Anchor,
    FailureKind,
    Summary,
    VerificationError,
    verify_export,
)


@dataclass(frozen=True, slots=True)
class TilesChecked:
    size: int
    tiles: int  # tile files checked (partial ones kept included)
    bundles: int  # bundle files checked


def _fail(kind: TileFailureKind, where: str | None, detail: str) -> TileVerificationError:
    return TileVerificationError(kind, where, detail)


class _Tiles:
    """Pass 2: the tile pyramid of size `size`, rebuilt from its level-0 tiles."""

    def __init__(self, directory: TileDirectory, size: int) -> None:
        self.directory, self.size = directory, size
        self.pending: list[list[bytes]] = [[]]  # computed hashes of each level's open tile
        self.index: list[int] = [0]  # the open tile's index, by level
        self.checked = 0

    def read(self, level: int, index: int, width: int) -> bytes:
        data = self.directory.fetch(level, index, width)
        if len(data) != width * HASH_SIZE:
            raise _fail(TileFailureKind.TAMPERED_TILE, path(level, index, width), "wrong length")
        self.checked += 1
        return data

    def prefixes(self, level: int, index: int, data: bytes) -> None:
        """Kept partial files of this tile must be its first hashes."""
        for width in self.directory.partial_widths(level, index):
            if width * HASH_SIZE > len(data):
                continue  # beyond the checkpoint
            if self.directory.read(path(level, index, width)) != data[: width * HASH_SIZE]:
                where = path(level, index, width)
                raise _fail(TileFailureKind.TAMPERED_TILE, where, "not its tile's first hashes")
            self.checked += 1

    def push(self, level: int, node: bytes) -> None:
        """A hash computed for `level` (the root of a full tile below)."""
        if len(self.pending) == level:
            self.pending.append([])
            self.index.append(0)
        self.pending[level].append(node)
        if len(self.pending[level]) < WIDTH:
            return
        computed, index = b"".join(self.pending[level]), self.index[level]
        self.compare(level, index, WIDTH, computed)
        self.pending[level], self.index[level] = [], index + 1
        self.push(level + 1, perfect_root(split_hashes(computed)))

    def compare(self, level: int, index: int, width: int, computed: bytes) -> None:
        stored = self.read(level, index, width)
        if stored != computed:
            first = next(
                i
                for i in range(width)
                if stored[i * HASH_SIZE : (i + 1) * HASH_SIZE]
                != computed[i * HASH_SIZE : (i + 1) * HASH_SIZE]
            )
            below = path(level - 1, index * WIDTH + first)
            detail = f"hash {first} is not the root of {below}: one of the two was rewritten"
            raise _fail(TileFailureKind.TAMPERED_TILE, path(level, index, width), detail)
        self.prefixes(level, index, computed)

    def check(self, root: bytes) -> None:
        full, width = divmod(self.size, WIDTH)
        for index in range(full):
            data = self.read(0, index, WIDTH)
            self.prefixes(0, index, data)
            self.push(1, perfect_root(split_hashes(data)))
        edge: dict[tuple[int, int], bytes] = {}
        if width:
            edge[(0, full)] = self.read(0, full, width)
            self.prefixes(0, full, edge[(0, full)])
        for level in range(1, len(self.pending)):
            if self.pending[level]:
                computed = b"".join(self.pending[level])
                self.compare(level, self.index[level], len(self.pending[level]), computed)
                edge[(level, self.index[level])] = computed
        if TileSource(self.size, lambda lv, i, _: edge[(lv, i)]).root() != root:
            detail = "the tiles' root is not the signed one"
            raise _fail(TileFailureKind.TAMPERED_TILE, None, detail)


def _entry_line(canonical: bytes) -> bytes:
    """The export line of an entry (vault/journal/export.py), for the export verifier."""
    digest = hashlib.sha256(ENTRY_DOMAIN + canonical).hexdigest().encode()
    return ENTRY_PREFIX + digest + ENTRY_MIDDLE + canonical + b"}\n"


class _Bundles:
    """Pass 3: the entry bundles against the level-0 tiles, as export lines."""

    def __init__(self, directory: TileDirectory, size: int) -> None:
        self.directory, self.size, self.checked = directory, size, 0

    def entries(self, index: int, width: int) -> list[bytes]:
        where = path(ENTRIES, index, width)
        try:
            entries = decode_bundle(self.directory.fetch(ENTRIES, index, width))
        except ValueError:
            raise _fail(TileFailureKind.TAMPERED_BUNDLE, where, "broken framing") from None
        if len(entries) != width:
            raise _fail(TileFailureKind.TAMPERED_BUNDLE, where, f"{len(entries)} entries")
        leaves = split_hashes(self.directory.fetch(0, index, width))  # checked in pass 2
        for position, entry in enumerate(entries):
            if leaf_hash(entry) != leaves[position]:
                seq = index * WIDTH + position + 1
                detail = f"entry {seq} is not the leaf of the signed tree"
                raise _fail(TileFailureKind.TAMPERED_BUNDLE, where, detail)
        self.checked += 1
        for kept in self.directory.partial_widths(ENTRIES, index):
            if kept < width:
                if self.directory.read(path(ENTRIES, index, kept)) != encode_bundle(entries[:kept]):
                    detail = "not its bundle's first entries"
                    raise _fail(TileFailureKind.TAMPERED_BUNDLE, path(ENTRIES, index, kept), detail)
                self.checked += 1
        return entries

    def lines(self) -> Iterator[bytes]:
        for index in range((self.size + WIDTH - 1) // WIDTH):
            for entry in self.entries(index, min(WIDTH, self.size - index * WIDTH)):
                yield _entry_line(entry)


def verify_tiles(
    directory: TileDirectory,
    key: VerifierKey,
    note: str,
    published: Sequence[str | tuple[str, str]] = (),
    on_progress: Callable[[int, int], None] | None = None,
    *,
    expect_complete: bool = False,
    anchors: Mapping[int, Anchor] | None = None,
) -> tuple[Summary, TilesChecked]:
    """Verifies the tiles of the signed checkpoint `note` (and the `published` notes
    against its entries, as `verify_export` does); raises VerificationError or
    TileVerificationError only."""
    try:
        checkpoint = open_note(note, key)
    except IntegrityError as error:
        raise VerificationError(FailureKind.BAD_SIGNATURE, None, str(error)) from None
    if checkpoint.root is None:
        raise _fail(TileFailureKind.NO_ROOT, None, "a v1 checkpoint commits to no tiles")
    tiles = _Tiles(directory, checkpoint.size)
    tiles.check(checkpoint.root)
    bundles = _Bundles(directory, checkpoint.size)
    summary = verify_export(
        bundles.lines(),
        key,
        [note, *published],
        on_progress,
        expect_complete=expect_complete,
        anchors=anchors,
    )
    if checkpoint.size and summary.first_seq != 1:
        raise VerificationError(FailureKind.GAP, 1, "the first bundle does not start at 1")
    return summary, TilesChecked(checkpoint.size, tiles.checked, bundles.checked)
