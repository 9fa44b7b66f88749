"""C2SP tlog-tiles: the paths and encodings of the spec, the incremental writer equal to
the tiles computed from scratch by the spec's formula, and proofs read from tiles alone."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.journal.test_merkle import naive_mth
from vault.errors import IntegrityError, InvalidArgumentError
from vault.journal.merkle import (
    Frontier,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from vault.journal.tilefiles import TileDirectory
from vault.journal.tiles import (
    ENTRIES,
    WIDTH,
    TileBuilder,
    TileFailureKind,
    TileSource,
    TileVerificationError,
    decode_bundle,
    encode_bundle,
    index_path,
    path,
    widths,
)
from vault.journal.tilewriter import TileWriter


def entries(count: int, start: int = 0) -> list[bytes]:
    return [b"entry %d" % i for i in range(start, start + count)]


def root(leaves: list[bytes]) -> bytes:
    frontier = Frontier()
    for entry in leaves:
        frontier.append(leaf_hash(entry))
    return frontier.root()


def from_scratch(leaves: list[bytes], sizes: list[int]) -> dict[str, bytes]:
    """Every file a writer should hold after checkpoints of `sizes` (ascending): the spec's
    formula, MTH(D[(n*256 + i) * 256**l : (n*256 + i + 1) * 256**l]), for the full tiles of
    the last size and the partial tiles of each size whose full tile is not there yet."""
    files: dict[str, bytes] = {}
    last = sizes[-1]
    for size in sizes:
        level = 0
        while size >> (8 * level):
            count, span = size >> (8 * level), WIDTH**level
            for n in range((count + WIDTH - 1) // WIDTH):
                width = min(WIDTH, count - n * WIDTH)
                if width < WIDTH and (n + 1) * WIDTH ** (level + 1) <= last:
                    continue  # superseded by the full tile
                hashes = [
                    naive_mth(leaves[(n * WIDTH + i) * span : (n * WIDTH + i + 1) * span])
                    for i in range(width)
                ]
                files[path(level, n, width)] = b"".join(hashes)
                if level == 0:
                    chunk = leaves[n * WIDTH : n * WIDTH + width]
                    files[path(ENTRIES, n, width)] = encode_bundle(chunk)
            level += 1
    return files


def written(directory: Path) -> dict[str, bytes]:
    return {
        str(file.relative_to(directory)): file.read_bytes()
        for file in directory.rglob("*")
        if file.is_file()
    }


def write_checkpoints(directory: Path, leaves: list[bytes], sizes: list[int]) -> None:
    """The writer as the publisher drives it: resume at the last size, extend to the next."""
    writer, done = TileWriter(TileDirectory(directory)), 0
    for size in sizes:
        builder = writer.resume(done, root(leaves[:done]))
        writer.extend(builder, leaves[done:size], size, root(leaves[:size]))
        done = size


def test_paths_are_the_specs() -> None:
    assert index_path(1234067) == "x001/x234/067"
    assert index_path(0) == "000"
    assert index_path(1000) == "x001/000"
    assert path(0, 273, 112) == "tile/0/273.p/112"
    assert path(ENTRIES, 5) == "tile/entries/005"
    assert path(63, 1) == "tile/63/001"
    with pytest.raises(InvalidArgumentError):
        path(0, 0, 0)


def test_a_tree_of_70000_needs_the_tiles_the_spec_lists() -> None:
    assert widths(70000) == [(0, 273, 112), (1, 1, 17), (2, 0, 1)]
    assert widths(256) == [(0, 0, 256), (1, 0, 1)]


def test_bundles_are_uint16_big_endian_length_prefixed() -> None:
    assert encode_bundle([b"ab", b""]) == b"\x00\x02ab\x00\x00"
    assert decode_bundle(b"\x00\x02ab\x00\x00") == [b"ab", b""]
    with pytest.raises(ValueError, match="cut"):
        decode_bundle(b"\x00\x03ab")
    with pytest.raises(IntegrityError):
        encode_bundle([bytes(0x10000)])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=1, max_size=5))
def test_incremental_tiles_equal_tiles_computed_from_scratch(steps: list[int]) -> None:
    sizes = [sum(steps[: i + 1]) for i in range(len(steps))]
    leaves = entries(sizes[-1])
    with tempfile.TemporaryDirectory() as name:
        write_checkpoints(Path(name), leaves, sizes)
        assert written(Path(name)) == from_scratch(leaves, sizes)


def test_incremental_tiles_reach_a_full_level_1_tile() -> None:
    sizes = [300, WIDTH**2, WIDTH**2 + 3]
    leaves = entries(sizes[-1])
    with tempfile.TemporaryDirectory() as name:
        write_checkpoints(Path(name), leaves, sizes)
        files = written(Path(name))
    assert len(files["tile/1/000"]) == WIDTH * 32
    assert files["tile/2/000.p/1"] == naive_mth(leaves[: WIDTH**2])
    assert files == from_scratch(leaves, sizes)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 1300), st.data())
def test_proofs_from_tiles_alone_verify_against_the_root(size: int, data: st.DataObject) -> None:
    leaves = entries(size)
    builder, files = TileBuilder(), dict[str, bytes]()
    for entry in leaves:
        files.update(builder.append(entry))
    files.update(builder.partials())
    source = TileSource(size, lambda level, index, width: files[path(level, index, width)])
    expected = root(leaves)
    assert source.root() == expected == builder.root()
    index = data.draw(st.integers(0, size - 1))
    proof = source.inclusion_proof(index)
    verify_inclusion(index, size, leaf_hash(leaves[index]), proof, expected)
    old = data.draw(st.integers(1, size))
    verify_consistency(old, size, root(leaves[:old]), expected, source.consistency_proof(old))


def test_a_tile_of_the_wrong_length_is_reported_as_tampered() -> None:
    source = TileSource(3, lambda level, index, width: bytes(64))
    with pytest.raises(TileVerificationError) as caught:
        source.root()
    assert caught.value.kind is TileFailureKind.TAMPERED_TILE


def test_the_writer_never_replaces_a_published_tile_with_other_bytes(tmp_path: Path) -> None:
    leaves = entries(WIDTH)
    (tmp_path / "tile" / "0").mkdir(parents=True)
    (tmp_path / "tile" / "0" / "000").write_bytes(bytes(WIDTH * 32))
    with pytest.raises(IntegrityError, match="published already"):
        write_checkpoints(tmp_path, leaves, [WIDTH])
    assert (tmp_path / "tile" / "0" / "000").read_bytes() == bytes(WIDTH * 32)


def test_the_writer_refuses_to_resume_from_partial_tiles_the_signed_root_disowns(
    tmp_path: Path,
) -> None:
    leaves = entries(10)
    write_checkpoints(tmp_path, leaves, [5])
    partial = tmp_path / "tile" / "0" / "000.p" / "5"
    partial.write_bytes(bytes(5 * 32))
    writer = TileWriter(TileDirectory(tmp_path))
    with pytest.raises(IntegrityError, match="not the signed tree"):
        writer.resume(5, root(leaves[:5]))


def test_the_writer_writes_no_partial_tile_under_a_root_that_is_not_the_trees(
    tmp_path: Path,
) -> None:
    writer = TileWriter(TileDirectory(tmp_path))
    with pytest.raises(IntegrityError, match="root"):
        writer.extend(writer.resume(0, root([])), entries(5), 5, bytes(32))
    assert written(tmp_path) == {}


def test_a_full_tile_published_supersedes_the_partial_tiles_of_its_index(tmp_path: Path) -> None:
    leaves = entries(WIDTH + 1)
    write_checkpoints(tmp_path, leaves, [3, 100])
    assert {"tile/0/000.p/3", "tile/0/000.p/100"} <= set(written(tmp_path))
    write_checkpoints_from(tmp_path, leaves, 100, WIDTH + 1)
    files = written(tmp_path)
    assert not [name for name in files if name.startswith("tile/0/000.p/")]
    assert {"tile/0/000", "tile/0/001.p/1"} <= set(files)


def write_checkpoints_from(directory: Path, leaves: list[bytes], done: int, size: int) -> None:
    writer = TileWriter(TileDirectory(directory))
    builder = writer.resume(done, root(leaves[:done]))
    writer.extend(builder, leaves[done:size], size, root(leaves[:size]))
