"""A tiles directory verified offline: each way of spoiling a mirror is caught with its kind."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.journal.test_checkpoint import ORIGIN, SIGNER, KeySigner
from tests.journal.test_verify import KEY, chain
from vault.errors import IntegrityError, JournalEntryTooLargeError
from vault.journal.chain import GENESIS_HASH, JournalEntry, seal_entry
from vault.journal.checkpoint import Checkpoint, sign
from vault.journal.checkpointer import DirectoryPublisher
from vault.journal.merkle import Frontier, leaf_hash
from vault.journal.tilefiles import TileDirectory
from vault.journal.tiles import (
    WIDTH,
    TileBuilder,
    TileFailureKind,
    TileVerificationError,
    encode_bundle,
)
from vault.journal.tiles_verify import verify_tiles
from vault.journal.tilewriter import TilingPublisher
from vault.journal.verify import FailureKind, VerificationError


class Journal:
    def __init__(self, entries: list[JournalEntry]) -> None:
        self.all = entries

    def entries(self, first_seq: int = 1, last_seq: int | None = None) -> Iterator[JournalEntry]:
        yield from self.all[first_seq - 1 : last_seq]


def v2_note(entries: list[JournalEntry], size: int, signer: KeySigner = SIGNER) -> str:
    frontier = Frontier()
    for entry in entries[:size]:
        frontier.append(leaf_hash(entry.canonical))
    covered = entries[size - 1]
    checkpoint = Checkpoint(
        ORIGIN, size, frontier.root(), covered.event.time_us, covered.chain_hash
    )
    return sign(checkpoint, ORIGIN, signer)


def publish(directory: Path, entries: list[JournalEntry], sizes: tuple[int, ...]) -> str:
    publisher = TilingPublisher(DirectoryPublisher(directory), directory, Journal(entries), KEY)
    note = ""
    for size in sizes:
        note = v2_note(entries, size)
        publisher.publish(size, note)
    return note


ENTRIES = chain(WIDTH + 44)


@pytest.fixture
def tiles(tmp_path: Path) -> Path:
    directory = tmp_path / "checkpoints"
    publish(directory, ENTRIES, (10, WIDTH + 1, WIDTH + 44))
    return directory


def check(directory: Path, note: str | None = None) -> None:
    note = note or (directory / "checkpoint").read_text()
    published = [(f.name, f.read_text()) for f in sorted(directory.glob("checkpoint-*.txt"))]
    verify_tiles(TileDirectory(directory), KEY, note, published, expect_complete=False)


def tile_failure(directory: Path, note: str | None = None) -> TileVerificationError:
    with pytest.raises(TileVerificationError) as caught:
        check(directory, note)
    return caught.value


def test_intact_tiles_verify_with_the_key_and_the_checkpoint_alone(tiles: Path) -> None:
    summary, checked = verify_tiles(
        TileDirectory(tiles), KEY, (tiles / "checkpoint").read_text(), []
    )
    assert (summary.first_seq, summary.last_seq, summary.roots_matched) == (1, 300, [300])
    assert (checked.size, checked.bundles) == (300, 3)  # 000, 001.p/44, kept 001.p/1
    assert sorted(p.name for p in tiles.glob("checkpoint-*.txt")) == [
        f"checkpoint-{size:020d}.txt" for size in (10, 257, 300)
    ]


def test_every_published_checkpoint_is_checked_against_the_tiled_entries(tiles: Path) -> None:
    summary, _ = verify_tiles(
        TileDirectory(tiles),
        KEY,
        (tiles / "checkpoint").read_text(),
        [(f.name, f.read_text()) for f in sorted(tiles.glob("checkpoint-*.txt"))],
    )
    assert summary.roots_matched == [10, 257, 300]


def test_an_older_checkpoint_verifies_from_the_full_tile_once_its_partials_are_gone(
    tiles: Path,
) -> None:
    assert not (tiles / "tile/0/000.p").exists()  # superseded by tile/0/000
    check(tiles, (tiles / f"checkpoint-{10:020d}.txt").read_text())


def test_a_tile_rewritten_to_hide_an_entry_is_rejected(tiles: Path) -> None:
    """Entry 5's leaf hash replaced by entry 6's: a proof of entry 5 from these tiles would
    fail, as if the entry were not in the log."""
    tile = tiles / "tile/0/000"
    data = bytearray(tile.read_bytes())
    data[4 * 32 : 5 * 32] = data[5 * 32 : 6 * 32]
    tile.write_bytes(bytes(data))
    failure = tile_failure(tiles)
    assert failure.kind is TileFailureKind.TAMPERED_TILE
    assert "tile/0/000" in str(failure)  # named beside the level-1 tile it disagrees with


def test_tiles_rebuilt_over_an_edited_bundle_do_not_reach_the_signed_root(
    tmp_path: Path,
) -> None:
    """The whole mirror rebuilt over a history with one decision changed: consistent with
    itself, not with the signed checkpoint."""
    genuine = tmp_path / "genuine"
    note = publish(genuine, ENTRIES, (WIDTH + 44,))
    forged, head = [], GENESIS_HASH
    for entry in ENTRIES:
        event = entry.event if entry.seq != 7 else replace(entry.event, decision="deny")
        forged.append(seal_entry(entry.seq, event, head))
        head = forged[-1].chain_hash
    builder, files = TileBuilder(), dict[str, bytes]()
    for entry in forged:
        files.update(builder.append(entry.canonical))
    files.update(builder.partials())
    mirror = tmp_path / "mirror"
    for relative, data in files.items():
        (mirror / relative).parent.mkdir(parents=True, exist_ok=True)
        (mirror / relative).write_bytes(data)
    assert tile_failure(mirror, note).kind is TileFailureKind.TAMPERED_TILE


def test_an_upper_tile_rewritten_is_rejected(tiles: Path) -> None:
    (tiles / "tile/1/000.p/1").write_bytes(bytes(32))
    failure = tile_failure(tiles)
    assert (failure.kind, failure.path) == (TileFailureKind.TAMPERED_TILE, "tile/1/000.p/1")


def test_a_kept_partial_tile_that_is_not_its_tiles_prefix_is_rejected(tiles: Path) -> None:
    kept = tiles / "tile/0/001.p/1"
    assert kept.exists()  # the partial of size 257, kept beside that of 300
    kept.write_bytes(bytes(32))
    assert tile_failure(tiles).path == "tile/0/001.p/1"


def test_an_entry_edited_in_its_bundle_is_rejected(tiles: Path) -> None:
    bundle = tiles / "tile/entries/000"
    data = bundle.read_bytes()
    bundle.write_bytes(data.replace(b'"decision":"allow"', b'"decision":"deny!"', 1))
    failure = tile_failure(tiles)
    assert (failure.kind, failure.path) == (TileFailureKind.TAMPERED_BUNDLE, "tile/entries/000")


def test_an_entry_dropped_from_a_bundle_is_rejected(tiles: Path) -> None:
    bundle = tiles / "tile/entries/001.p/44"
    bundle.write_bytes(encode_bundle(e.canonical for e in ENTRIES[WIDTH : WIDTH + 43]))
    assert tile_failure(tiles).kind is TileFailureKind.TAMPERED_BUNDLE


def test_a_bundle_with_broken_framing_is_rejected(tiles: Path) -> None:
    bundle = tiles / "tile/entries/001.p/44"
    bundle.write_bytes(bundle.read_bytes()[:-1])
    assert tile_failure(tiles).kind is TileFailureKind.TAMPERED_BUNDLE


@pytest.mark.parametrize("missing", ["tile/0/000", "tile/1/000.p/1", "tile/entries/000"])
def test_a_missing_tile_or_bundle_is_reported_as_missing(tiles: Path, missing: str) -> None:
    (tiles / missing).unlink()
    failure = tile_failure(tiles)
    assert (failure.kind, failure.path) == (TileFailureKind.MISSING_TILE, missing)


def test_a_checkpoint_signed_by_another_key_is_a_bad_signature(tiles: Path) -> None:
    with pytest.raises(VerificationError) as caught:
        check(tiles, v2_note(ENTRIES, WIDTH + 44, KeySigner()))
    assert caught.value.kind is FailureKind.BAD_SIGNATURE


def test_a_non_canonical_entry_tiled_and_signed_by_the_operator_is_rejected(
    tmp_path: Path,
) -> None:
    """The tree is the signed one, but an entry in it is not canonical: the export
    verifier's checks run on the bundles' entries."""
    spoiled = [*ENTRIES[:2]]
    spoiled[1] = replace(spoiled[1], canonical=spoiled[1].canonical.replace(b":", b": ", 1))
    directory = tmp_path / "spoiled"
    publish(directory, spoiled, (2,))
    with pytest.raises(VerificationError) as caught:
        check(directory)
    assert (caught.value.kind, caught.value.seq) == (FailureKind.NON_CANONICAL, 2)


def test_a_published_checkpoint_of_another_history_is_rewritten_history(tiles: Path) -> None:
    other = chain(20, start_time=5_000)
    (tiles / f"checkpoint-{20:020d}.txt").write_text(v2_note(other, 20))
    with pytest.raises(VerificationError) as caught:
        check(tiles)
    assert caught.value.kind is FailureKind.REWRITTEN_HISTORY


def test_a_mirror_copied_with_plain_file_copies_verifies(tiles: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(tiles, mirror)
    check(mirror)


def test_the_publisher_refuses_a_note_whose_root_the_journal_does_not_give(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "checkpoints"
    publish(directory, ENTRIES, (10,))
    publisher = TilingPublisher(
        DirectoryPublisher(directory), directory, Journal(chain(20, start_time=9_000)), KEY
    )
    with pytest.raises(IntegrityError):
        publisher.publish(20, v2_note(ENTRIES, 20))
    assert not (directory / f"checkpoint-{20:020d}.txt").exists()


def test_publishing_an_older_checkpoint_again_leaves_the_newer_one_in_checkpoint(
    tiles: Path,
) -> None:
    newest = (tiles / "checkpoint").read_text()
    publisher = TilingPublisher(DirectoryPublisher(tiles), tiles, Journal(ENTRIES), KEY)
    publisher.publish(10, (tiles / f"checkpoint-{10:020d}.txt").read_text())
    assert (tiles / "checkpoint").read_text() == newest
    check(tiles)


def test_an_entry_too_large_for_a_bundle_cannot_be_journaled() -> None:
    """Entries are bounded by the format (65,535 bytes, what a bundle frames; ADR 0045):
    an event naming 2,000 documents is refused where it is built, never written, so
    tiling never meets an entry it cannot frame."""
    many = tuple(str(uuid.UUID(int=i)) for i in range(2000))
    with pytest.raises(JournalEntryTooLargeError, match="exceeds the format's maximum"):
        replace(ENTRIES[5].event, documents=many)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_byte_changed_in_any_tile_or_bundle_is_caught(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Flipped, cut short or (when size 300 needs it) deleted: every file under tile/."""
    genuine = _genuine(tmp_path_factory)
    files = sorted(str(p.relative_to(genuine)) for p in genuine.rglob("*") if p.is_file())
    name = data.draw(st.sampled_from([f for f in files if f.startswith("tile/")]))
    mirror = tmp_path_factory.mktemp("mirror") / "d"
    shutil.copytree(genuine, mirror)
    target = mirror / name
    spoiled = bytearray(target.read_bytes())
    how = data.draw(st.sampled_from(["flip", "truncate", "delete"]))
    if how == "delete" and name.endswith(".p/1"):
        return  # a partial of size 257, kept; size 300 does not need it (its prefix holds it)
    if how == "delete":
        target.unlink()
    elif how == "truncate":
        target.write_bytes(bytes(spoiled[: data.draw(st.integers(0, len(spoiled) - 1))]))
    else:
        offset = data.draw(st.integers(0, len(spoiled) - 1))
        spoiled[offset] ^= data.draw(st.integers(1, 255))
        target.write_bytes(bytes(spoiled))
    with pytest.raises((TileVerificationError, VerificationError)):
        check(mirror)


_GENUINE: list[Path] = []


def _genuine(factory: pytest.TempPathFactory) -> Path:
    """One published directory (checkpoints 10, 257, 300) for every example."""
    if not _GENUINE:
        directory = factory.mktemp("genuine") / "checkpoints"
        publish(directory, ENTRIES, (10, WIDTH + 1, WIDTH + 44))
        _GENUINE.append(directory)
    return _GENUINE[0]


def test_a_directory_in_place_of_a_tile_is_a_missing_tile_not_a_crash(tiles: Path) -> None:
    (tiles / "tile/0/000").unlink()
    (tiles / "tile/0/000").mkdir()
    assert tile_failure(tiles).kind is TileFailureKind.MISSING_TILE


def test_a_huge_file_in_place_of_a_tile_is_read_no_further_than_the_largest_file(
    tiles: Path,
) -> None:
    with (tiles / "tile/0/000").open("r+b") as tile:
        tile.truncate(1 << 30)  # sparse: 1 GiB that costs no disk
    assert tile_failure(tiles).kind is TileFailureKind.TAMPERED_TILE
