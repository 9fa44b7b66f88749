"""`FileBlobStore`: atomic, opaque, and confined to its root."""

from __future__ import annotations

from pathlib import Path

import pytest

from vault.blobstore.file import FileBlobStore
from vault.domain.ids import new_object_key
from vault.errors import AlreadyExistsError, IntegrityError, InvalidArgumentError


@pytest.fixture
def store(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


def write(store: FileBlobStore, key: str, data: bytes) -> None:
    writer = store.create(key)
    writer.write(data)
    writer.commit()


def test_committed_object_reads_back(store: FileBlobStore) -> None:
    key = new_object_key()
    write(store, key, b"sealed bytes")
    reader = store.open(key)
    assert reader.read(100) == b"sealed bytes"
    reader.close()


def test_uncommitted_object_is_invisible_and_aborting_leaves_nothing(
    store: FileBlobStore, tmp_path: Path
) -> None:
    key = new_object_key()
    writer = store.create(key)
    writer.write(b"half")
    with pytest.raises(IntegrityError):
        store.open(key)
    writer.abort()
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []


def test_objects_are_sharded_under_opaque_names(store: FileBlobStore, tmp_path: Path) -> None:
    key = new_object_key()
    write(store, key, b"x")
    assert (tmp_path / "blobs" / "objects" / key[:2] / key[2:4] / key).is_file()


def test_an_existing_object_is_never_overwritten(store: FileBlobStore) -> None:
    key = new_object_key()
    write(store, key, b"first")
    with pytest.raises(AlreadyExistsError):
        write(store, key, b"second")
    assert store.open(key).read(10) == b"first"


@pytest.mark.parametrize("key", ["../../etc/passwd", "/etc/passwd", "AB" * 16, "a" * 31, ""])
def test_keys_that_could_escape_the_root_are_refused(store: FileBlobStore, key: str) -> None:
    with pytest.raises(InvalidArgumentError):
        store.create(key)
    with pytest.raises(InvalidArgumentError):
        store.open(key)


def test_delete_reports_whether_there_was_an_object(store: FileBlobStore) -> None:
    key = new_object_key()
    write(store, key, b"x")
    assert store.delete(key) is True
    assert store.delete(key) is False
