"""The `BlobStore` contract, held by every store: the local directory, an S3 bucket and a
versioned S3 bucket (`harness` in conftest.py).

What it stops: lost or reordered bytes at buffer and part boundaries, ranges that read
too much or too little, half-written objects becoming visible, aborted uploads left
behind, overwritten objects, versions surviving a delete, unchecked keys reaching a path
or an S3 key, and a missing object passing for an empty one.
"""

from __future__ import annotations

import pytest

from tests.blobstore.support import PART_SIZE, Harness, payload, put, read_all
from vault.blobstore.base import DeleteResult
from vault.domain.ids import new_object_key
from vault.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    IntegrityError,
    InvalidArgumentError,
)

SIZES = {"empty": 0, "small": 1000, "exactly one part": PART_SIZE, "three parts": 2 * PART_SIZE + 1}


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_round_trip_loses_no_byte_at_buffer_or_part_boundaries(harness: Harness, size: int) -> None:
    data = payload(size)
    key = put(harness.store, data)
    assert read_all(harness.store.open(key)) == data
    across_first_part_end = harness.store.open(key, offset=PART_SIZE - 5, length=10)
    assert read_all(across_first_part_end) == data[PART_SIZE - 5 : PART_SIZE + 5]


RANGES = [
    (0, None),
    (0, 1000),
    (10, None),
    (10, 20),
    (999, 1),
    (990, 100),  # runs past the end: cut short
    (1000, None),  # starts at the end: empty
    (1000, 5),
    (5000, None),  # starts past the end: empty
    (0, 0),
    (500, 0),
    (5000, 0),
]


@pytest.mark.parametrize(("offset", "length"), RANGES)
def test_ranged_read_returns_exactly_the_range(
    harness: Harness, offset: int, length: int | None
) -> None:
    data = payload(1000)
    key = put(harness.store, data)
    end = None if length is None else offset + length
    assert read_all(harness.store.open(key, offset, length), size=7) == data[offset:end]


@pytest.mark.parametrize(("offset", "length"), [(0, None), (0, 10), (3, None), (0, 0)])
def test_any_range_of_an_empty_object_is_empty(
    harness: Harness, offset: int, length: int | None
) -> None:
    key = put(harness.store, b"")
    assert read_all(harness.store.open(key, offset, length)) == b""


@pytest.mark.parametrize(("offset", "length"), [(-1, None), (0, -1)])
def test_negative_ranges_are_refused(harness: Harness, offset: int, length: int | None) -> None:
    key = put(harness.store, b"x")
    with pytest.raises(InvalidArgumentError):
        harness.store.open(key, offset, length)


@pytest.mark.parametrize(("offset", "length"), [(0, None), (10, 20), (5000, None), (0, 0)])
def test_a_missing_object_is_an_integrity_error_not_an_empty_one(
    harness: Harness, offset: int, length: int | None
) -> None:
    with pytest.raises(IntegrityError):
        harness.store.open(new_object_key(), offset, length)


def test_uncommitted_object_is_invisible(harness: Harness) -> None:
    key = new_object_key()
    writer = harness.store.create(key)
    writer.write(b"half")
    with pytest.raises(IntegrityError):
        harness.store.open(key)
    writer.commit()
    assert read_all(harness.store.open(key)) == b"half"


@pytest.mark.parametrize("size", [0, 10, PART_SIZE + 1], ids=["nothing", "small", "a part"])
def test_abort_leaves_nothing_behind(harness: Harness, size: int) -> None:
    key = new_object_key()
    writer = harness.store.create(key)
    writer.write(payload(size))
    writer.abort()
    writer.abort()  # idempotent, as after a failed write
    assert harness.leftovers() == []  # no object, temporary file or pending upload
    with pytest.raises(IntegrityError):
        harness.store.open(key)


def test_abort_after_commit_keeps_the_object(harness: Harness) -> None:
    key = new_object_key()
    writer = harness.store.create(key)
    writer.write(b"kept")
    writer.commit()
    writer.abort()
    assert read_all(harness.store.open(key)) == b"kept"


def test_a_finished_writer_takes_no_more_bytes(harness: Harness) -> None:
    writer = harness.store.create(new_object_key())
    writer.commit()
    with pytest.raises(FailedPreconditionError):
        writer.write(b"late")
    with pytest.raises(FailedPreconditionError):
        writer.commit()


def test_an_existing_object_is_never_overwritten(harness: Harness) -> None:
    key = put(harness.store, b"first")
    writer = harness.store.create(key)
    writer.write(b"second")
    with pytest.raises(AlreadyExistsError):
        writer.commit()
    writer.abort()
    assert read_all(harness.store.open(key)) == b"first"


def test_delete_removes_the_object_and_says_what_it_removed(harness: Harness) -> None:
    key = put(harness.store, b"to erase")
    assert harness.store.delete(key) == DeleteResult(existed=True, versions_deleted=1)
    assert harness.leftovers() == []  # in a versioned bucket: no version, no delete marker
    with pytest.raises(IntegrityError):
        harness.store.open(key)
    assert harness.store.delete(key) == DeleteResult(existed=False, versions_deleted=0)


BAD_KEYS = ["../../etc/passwd", "/etc/passwd", "AB" * 16, "a" * 31, "a" * 33, ""]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_keys_that_are_not_opaque_ids_are_refused(harness: Harness, key: str) -> None:
    with pytest.raises(InvalidArgumentError):
        harness.store.create(key)
    with pytest.raises(InvalidArgumentError):
        harness.store.open(key)
    with pytest.raises(InvalidArgumentError):
        harness.store.delete(key)


def test_startup_check_passes_and_leaves_nothing_behind(harness: Harness) -> None:
    harness.store.check()
    assert harness.leftovers() == []
