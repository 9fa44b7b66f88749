"""Publishing checkpoints outside the database: atomic, write-once, never replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from vault.errors import IntegrityError
from vault.journal.checkpointer import DirectoryPublisher


def test_published_checkpoint_is_never_replaced_by_a_different_one(tmp_path: Path) -> None:
    publisher = DirectoryPublisher(tmp_path)
    publisher.publish(7, "genuine\n")
    with pytest.raises(IntegrityError):
        publisher.publish(7, "forged\n")
    assert (tmp_path / "checkpoint-00000000000000000007.txt").read_text() == "genuine\n"


def test_publishing_the_same_checkpoint_again_is_idempotent(tmp_path: Path) -> None:
    publisher = DirectoryPublisher(tmp_path)
    publisher.publish(7, "note \u2014 x\n")
    publisher.publish(7, "note \u2014 x\n")
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-00000000000000000007.txt"]


def test_no_temporary_or_partial_file_is_left_visible(tmp_path: Path) -> None:
    publisher = DirectoryPublisher(tmp_path)
    for size in (1, 2, 2):
        publisher.publish(size, f"note {size}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint-00000000000000000001.txt",
        "checkpoint-00000000000000000002.txt",
    ]


def test_latest_is_the_note_of_the_highest_size_ignoring_stray_files(tmp_path: Path) -> None:
    publisher = DirectoryPublisher(tmp_path / "pub")
    assert publisher.latest() is None  # no directory yet
    for size in (9, 10, 2):
        publisher.publish(size, f"note {size}\n")
    (tmp_path / "pub" / "checkpoint-99.txt").write_text("stray")
    (tmp_path / "pub" / ".checkpoint-00000000000000000099.x.tmp").write_text("partial")
    assert publisher.latest() == "note 10\n"
