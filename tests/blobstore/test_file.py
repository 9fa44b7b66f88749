"""`FileBlobStore` beyond the shared contract (test_conformance.py): its layout on disk
and its failures as VaultErrors, never as raw OSErrors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vault import durable
from vault.blobstore.file import FileBlobStore
from vault.domain.ids import new_object_key
from vault.errors import FailedPreconditionError, UnavailableError


@pytest.fixture
def store(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


def test_objects_are_sharded_under_opaque_names(store: FileBlobStore, tmp_path: Path) -> None:
    key = new_object_key()
    writer = store.create(key)
    writer.write(b"x")
    writer.commit()
    assert (tmp_path / "blobs" / "objects" / key[:2] / key[2:4] / key).is_file()


def test_a_new_shard_directory_is_fsynced_into_its_parent_before_the_commit_returns(
    store: FileBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Else a crash after the put was acknowledged could lose the directory, and the
    object in it: the object's own directory fsync does not make its entry durable."""
    synced: list[Path] = []
    real = durable.fsync_directory

    def recorded(path: Path) -> None:
        synced.append(path)
        real(path)

    monkeypatch.setattr("vault.blobstore.file.fsync_directory", recorded)
    objects = tmp_path / "blobs" / "objects"
    first = new_object_key()
    writer = store.create(first)
    writer.write(b"x")
    writer.commit()
    shard = objects / first[:2] / first[2:4]
    assert synced == [objects, objects / first[:2], shard]  # two new levels, then the link
    synced.clear()
    again = first[:4] + new_object_key()[4:]  # the same shard, now there
    writer = store.create(again)
    writer.write(b"y")
    writer.commit()
    assert synced == [shard]
    assert (shard / again).is_file()


def test_a_vanished_temporary_directory_is_unavailable_not_a_raw_oserror(
    store: FileBlobStore, tmp_path: Path
) -> None:
    shutil.rmtree(tmp_path / "blobs" / "tmp")
    with pytest.raises(UnavailableError):
        store.create(new_object_key())


def test_startup_check_fails_when_a_commit_could_not_work(
    store: FileBlobStore, tmp_path: Path
) -> None:
    shutil.rmtree(tmp_path / "blobs" / "tmp")
    (tmp_path / "blobs" / "tmp").write_bytes(b"")  # a file where the directory should be
    with pytest.raises(FailedPreconditionError):
        store.check()


def test_an_unusable_root_is_a_failed_precondition(tmp_path: Path) -> None:
    (tmp_path / "taken").write_bytes(b"")
    with pytest.raises(FailedPreconditionError):
        FileBlobStore(tmp_path / "taken")


def test_readinto_fills_a_buffer_within_the_range_and_then_returns_zero(
    store: FileBlobStore,
) -> None:
    key = new_object_key()
    writer = store.create(key)
    writer.write(bytes(range(200)))
    writer.commit()
    reader = store.open(key, 10, 50)
    buffer = bytearray(32)
    got = []
    while count := reader.readinto(memoryview(buffer)):
        got.append(bytes(buffer[:count]))
    reader.close()
    assert b"".join(got) == bytes(range(10, 60))
    whole = store.open(key)
    assert whole.readinto(memoryview(bytearray(300))) == 200
    assert whole.readinto(memoryview(buffer)) == 0
    whole.close()
