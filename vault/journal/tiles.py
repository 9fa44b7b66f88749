"""C2SP tlog-tiles (c2sp.org/tlog-tiles) for the journal's Merkle tree: paths, encodings,
the incremental tile builder and proofs read from tiles. Pure: no I/O.

- Paths: `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`; `<N>` in zero-padded
  3-digit path elements, all but the last prefixed `x` (1234067 -> `x001/x234/067`);
  `.p/<W>` only for a partial tile of width W in 1..255.
- Tiles (height 8): tile N of level L holds the 256 hashes
  MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L]), i = 0..255, 32 bytes each,
  concatenated; a partial one its first W = floor(size / 256**L) mod 256. Level 0 holds
  the leaf hashes SHA-256(0x00 || entry bytes) (vault/journal/merkle.py).
- Entry bundles: the entries of the level-0 tile of the same N and width, each as a
  big-endian uint16 length then its bytes (an entry over 65,535 bytes cannot be tiled).
- `TileBuilder`: appends entries and hands back each full tile and bundle as it
  completes; `partials()` are the partial tiles of the current size; resumable from the
  partial tiles of a size (what the writer reads back from its directory).
- `TileSource`: any subtree hash, hence the root and RFC 9162 proofs
  (`merkle.inclusion_ranges`, `consistency_ranges`), from tiles fetched by a callback.

What it does not: read or write files (vault/journal/tilefiles.py), decide when to tile
(vault/journal/tilewriter.py), verify a tiles directory (vault/journal/tiles_verify.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum

from vault.errors import IntegrityError, InvalidArgumentError
from vault.journal.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    consistency_ranges,
    fold,
    frontier_nodes,
    inclusion_ranges,
    leaf_hash,
    perfect_nodes,
    perfect_root,
)

HEIGHT = 8
WIDTH = 1 << HEIGHT  # hashes in a full tile, entries in a full bundle
MAX_ENTRY = 0xFFFF  # the uint16 length prefix
ENTRIES = -1  # the "level" of entry bundles in `path`


class TileFailureKind(StrEnum):
    TAMPERED_TILE = "tampered-tile"  # a tile that is not the signed tree's
    TAMPERED_BUNDLE = "tampered-bundle"  # a bundle that is not the tiles' entries
    MISSING_TILE = "missing-tile"  # a tile or bundle the checkpoint's size needs is absent
    NO_ROOT = "no-merkle-root"  # a v1 checkpoint: nothing to check tiles against


class EntryTooLargeError(IntegrityError):
    """An entry of 65,536 bytes or more: a bundle's uint16 length cannot hold it."""


class TileVerificationError(IntegrityError):
    """A tiles directory that does not hold the signed tree."""

    def __init__(self, kind: TileFailureKind, path: str | None, detail: str) -> None:
        super().__init__(f"{kind.value}{f' at {path}' if path else ''}: {detail}")
        self.kind, self.path, self.detail = kind, path, detail


def index_path(index: int) -> str:
    """`<N>`: 3-digit elements, all but the last prefixed `x`."""
    if index < 0:
        raise InvalidArgumentError("a tile index is not negative")
    elements = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        elements.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(elements))


def path(level: int, index: int, width: int = WIDTH) -> str:
    """The tile's path (level `ENTRIES`: the entry bundle's), relative to the prefix."""
    if not 1 <= width <= WIDTH or not ENTRIES <= level <= 63:
        raise InvalidArgumentError("a tile has a width in 1..256 and a level in 0..63")
    name = "entries" if level == ENTRIES else str(level)
    suffix = "" if width == WIDTH else f".p/{width}"
    return f"tile/{name}/{index_path(index)}{suffix}"


def widths(size: int) -> list[tuple[int, int, int]]:
    """(level, index, width) of the rightmost tile of each level a tree of `size` needs,
    lowest level first, while the level has hashes; the tiles of a level left of its
    rightmost are full."""
    tiles, level = [], 0
    while size >> (HEIGHT * level):
        count = size >> (HEIGHT * level)  # hashes at this level
        width = count % WIDTH or WIDTH
        tiles.append((level, (count - 1) // WIDTH, width))
        level += 1
    return tiles


def encode_bundle(entries: Iterable[bytes]) -> bytes:
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY:
            raise EntryTooLargeError("an entry over 65,535 bytes cannot be put in a bundle")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def decode_bundle(data: bytes) -> list[bytes]:
    """The entries of a bundle; ValueError if the framing is broken."""
    entries, offset = [], 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise ValueError("a length prefix is cut")
        end = offset + 2 + int.from_bytes(data[offset : offset + 2], "big")
        if end > len(data):
            raise ValueError("an entry is cut")
        entries.append(data[offset + 2 : end])
        offset = end
    return entries


def split_hashes(data: bytes) -> list[bytes]:
    if len(data) % HASH_SIZE:
        raise ValueError("a tile is not a whole number of hashes")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


class TileBuilder:
    """The tiles of a growing tree. `pending[L]` are the hashes of level L's rightmost,
    incomplete tile; `bundle` the entries of the incomplete level-0 tile."""

    def __init__(
        self,
        size: int = 0,
        partial: Mapping[int, Sequence[bytes]] | None = None,
        bundle: Sequence[bytes] = (),
    ) -> None:
        """The builder of a tree of `size` leaves, from the hashes of its partial tiles by
        level and the entries of its partial bundle."""
        partial = partial or {}
        self.pending: list[list[bytes]] = []
        for level, _, width in widths(size):
            hashes = list(partial.get(level, ())) if width != WIDTH else []
            if len(hashes) != width % WIDTH:
                raise InvalidArgumentError("a partial tile of the wrong width for the size")
            self.pending.append(hashes)
        if set(partial) - set(range(len(self.pending))) or len(bundle) != size % WIDTH:
            raise InvalidArgumentError("partial tiles or bundle that the size has not")
        self.size = size
        self.bundle = list(bundle)

    def append(self, entry: bytes) -> list[tuple[str, bytes]]:
        """Adds an entry; the full tiles and bundle it completes, (path, bytes), the bundle
        first then by level."""
        if len(entry) > MAX_ENTRY:
            raise EntryTooLargeError("an entry over 65,535 bytes cannot be put in a bundle")
        self.bundle.append(entry)
        index = self.size // WIDTH
        self.size += 1
        done: list[tuple[str, bytes]] = []
        if len(self.bundle) == WIDTH:
            done.append((path(ENTRIES, index), encode_bundle(self.bundle)))
            self.bundle = []
        node, level = leaf_hash(entry), 0
        while True:
            if len(self.pending) == level:
                self.pending.append([])
            hashes = self.pending[level]
            hashes.append(node)
            if len(hashes) < WIDTH:
                return done
            done.append((path(level, index), b"".join(hashes)))
            node = perfect_root(hashes)
            self.pending[level] = []
            level, index = level + 1, index // WIDTH

    def partials(self) -> list[tuple[str, bytes]]:
        """The partial tiles and bundle of the current size, (path, bytes)."""
        tiles = [
            (path(level, index, width), b"".join(self.pending[level]))
            for level, index, width in widths(self.size)
            if width != WIDTH
        ]
        if self.bundle:
            tiles.insert(
                0, (path(ENTRIES, self.size // WIDTH, len(self.bundle)), encode_bundle(self.bundle))
            )
        return tiles

    def source(self) -> TileSource:
        """Subtree hashes of the right edge of the current tree (its root, not proofs of
        leaves in full tiles)."""
        edge = {
            (level, self.size >> (HEIGHT * (level + 1))): b"".join(hashes)
            for level, hashes in enumerate(self.pending)
            if hashes
        }
        return TileSource(self.size, lambda level, index, width: edge[(level, index)])

    def root(self) -> bytes:
        return self.source().root()


Fetch = Callable[[int, int, int], bytes]  # (level, index, width) -> the tile's bytes


class TileSource:
    """The tree of `size` leaves read from its tiles: `fetch(level, index, width)` gives
    the bytes of a tile (width WIDTH: a full one), each fetched once and checked to be
    `width` hashes long."""

    def __init__(self, size: int, fetch: Fetch) -> None:
        self.size = size
        self._fetch = fetch
        self._tiles: dict[tuple[int, int], list[bytes]] = {}

    def _width(self, level: int, index: int) -> int:
        count = self.size >> (HEIGHT * level)
        if index * WIDTH >= count:
            raise InvalidArgumentError("a tile beyond the tree")
        return min(WIDTH, count - index * WIDTH)

    def tile(self, level: int, index: int) -> list[bytes]:
        key = (level, index)
        if key not in self._tiles:
            width = self._width(level, index)
            data = self._fetch(level, index, width)
            if len(data) != width * HASH_SIZE:
                raise TileVerificationError(
                    TileFailureKind.TAMPERED_TILE, path(level, index, width), "wrong length"
                )
            self._tiles[key] = split_hashes(data)
        return self._tiles[key]

    def perfect(self, level: int, index: int) -> bytes:
        """The hash of the perfect subtree of 2^level leaves from leaf index << level."""
        base = level - level % HEIGHT
        first, count = index << (level - base), 1 << (level - base)
        hashes = self.tile(base // HEIGHT, first // WIDTH)
        return perfect_root(hashes[first % WIDTH : first % WIDTH + count])

    def mth(self, start: int, end: int) -> bytes:
        return fold([self.perfect(level, i) for level, i in perfect_nodes(start, end)])

    def root(self) -> bytes:
        if not self.size:
            return EMPTY_ROOT
        return fold([self.perfect(level, i) for level, i in frontier_nodes(self.size)])

    def inclusion_proof(self, index: int) -> list[bytes]:
        """RFC 9162 PATH(index, D[size]), from the tiles alone."""
        return [self.mth(a, b) for a, b in inclusion_ranges(index, self.size)]

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """RFC 9162 PROOF(old_size, D[size]), from the tiles alone."""
        return [self.mth(a, b) for a, b in consistency_ranges(old_size, self.size)]
