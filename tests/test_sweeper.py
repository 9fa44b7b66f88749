"""The sweeper on real stores and indexes: it removes what interrupted uploads left, and
never a committed document's blob."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.blobstore.support import create_bucket, s3_settings
from tests.index.test_sql import add_dossier, reserve, version
from vault.blobstore.base import BlobStore
from vault.blobstore.file import FileBlobStore
from vault.blobstore.s3.store import S3BlobStore
from vault.domain.clock import to_us
from vault.domain.ids import new_object_key
from vault.errors import IntegrityError
from vault.index.base import VersionRecord
from vault.index.sql import SqlIndex
from vault.sqlstore import make_engine
from vault.sweeper import Sweeper

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client


class LaterClock:
    """Now, plus an offset: lets a test make everything older than the grace period."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Scene:
    index: SqlIndex
    blobs: BlobStore
    committed: VersionRecord
    pending_with_blob: VersionRecord
    pending_without_blob: VersionRecord
    orphan_key: str


def _write(blobs: BlobStore, key: str, data: bytes = b"sealed") -> None:
    writer = blobs.create(key)
    writer.write(data)
    writer.commit()


def _unfinished(blobs: BlobStore) -> None:
    writer = blobs.create(new_object_key())
    writer.write(b"x" * (6 * 1024 * 1024))  # one part sent: an unfinished multipart upload


@pytest.fixture(params=["file", "s3-versioned"])
def scene(
    request: pytest.FixtureRequest,
    db_url: str,
    tmp_path: Path,
) -> Scene:
    if request.param == "file":
        blobs: BlobStore = FileBlobStore(tmp_path / "blobs")
    else:
        endpoint: str = request.getfixturevalue("s3_endpoint")
        admin: S3Client = request.getfixturevalue("s3_admin")
        blobs = S3BlobStore(s3_settings(endpoint, create_bucket(admin, versioned=True)))
    index = SqlIndex(make_engine(db_url))
    index.create_schema()
    dossier = add_dossier(index)
    now_us = int(datetime.now(UTC).timestamp() * 1_000_000)
    committed, with_blob, without_blob = (version(dossier, now_us + t) for t in (1, 2, 3))
    for record in (committed, with_blob, without_blob):
        reserve(index, record)
    _write(blobs, committed.blob_key)
    index.commit_version(committed)
    _write(blobs, with_blob.blob_key)  # crash after the blob, before the commit
    orphan = new_object_key()
    _write(blobs, orphan)  # a blob whose row is gone (an interrupted sweep)
    _unfinished(blobs)  # crash in the middle of writing a blob
    return Scene(index, blobs, committed, with_blob, without_blob, orphan)


def _readable(blobs: BlobStore, key: str) -> bool:
    try:
        blobs.open(key).close()
    except IntegrityError:
        return False
    return True


def test_sweep_removes_leftovers_and_keeps_committed_documents(scene: Scene) -> None:
    sweeper = Sweeper(scene.index, scene.blobs, LaterClock(timedelta(hours=2)))
    report = sweeper.sweep(timedelta(hours=1))
    assert (report.pending_discarded, report.orphan_blobs_deleted) == (2, 1)
    assert report.incomplete_writes_removed == 1
    assert _readable(scene.blobs, scene.committed.blob_key)
    committed = scene.committed
    assert scene.index.version(committed.dossier_id, committed.document_id, None) is not None
    for key in (scene.pending_with_blob.blob_key, scene.orphan_key):
        assert not _readable(scene.blobs, key)
    assert scene.index.pending_versions(2**62, 10) == []
    far_future = datetime.now(UTC) + timedelta(days=1)
    assert list(scene.blobs.stored_keys(far_future)) == [committed.blob_key]
    assert scene.blobs.sweep_incomplete(far_future) == 0


def test_dry_run_counts_and_removes_nothing(scene: Scene) -> None:
    sweeper = Sweeper(scene.index, scene.blobs, LaterClock(timedelta(hours=2)))
    report = sweeper.sweep(timedelta(hours=1), dry_run=True)
    assert (report.pending_discarded, report.orphan_blobs_deleted) == (2, 1)
    assert _readable(scene.blobs, scene.orphan_key)
    assert len(scene.index.pending_versions(2**62, 10)) == 2


def test_the_grace_period_protects_uploads_in_progress(scene: Scene) -> None:
    report = Sweeper(scene.index, scene.blobs, LaterClock(timedelta(0))).sweep(timedelta(hours=1))
    assert (report.pending_discarded, report.orphan_blobs_deleted) == (0, 0)
    if isinstance(scene.blobs, FileBlobStore):  # moto dates every multipart upload 2010
        assert report.incomplete_writes_removed == 0
    assert _readable(scene.blobs, scene.pending_with_blob.blob_key)


class CommitsWhileSweeping:
    """An index whose pending upload commits right after the sweeper listed it."""

    def __init__(self, index: SqlIndex, record: VersionRecord) -> None:
        self._index, self._record = index, record

    def __getattr__(self, name: str) -> object:
        return getattr(self._index, name)

    def pending_versions(self, lapsed_before_us: int, limit: int) -> list[VersionRecord]:
        found = self._index.pending_versions(lapsed_before_us, limit)
        if any(r.document_id == self._record.document_id for r in found):
            self._index.commit_version(self._record)  # the upload finishes meanwhile
        return found


def test_an_upload_committing_during_the_sweep_keeps_its_blob(scene: Scene) -> None:
    racing = CommitsWhileSweeping(scene.index, scene.pending_with_blob)
    Sweeper(racing, scene.blobs, LaterClock(timedelta(hours=2))).sweep(  # type: ignore[arg-type]
        timedelta(hours=1)
    )
    record = scene.pending_with_blob
    assert scene.index.version(record.dossier_id, record.document_id, None) is not None
    assert _readable(scene.blobs, record.blob_key)


def test_a_pending_row_whose_upload_renews_its_lease_is_not_swept_however_old(
    scene: Scene,
) -> None:
    """A long upload keeps renewing its lease: the pending pass waits for it to lapse."""
    later = timedelta(hours=2)
    alive = scene.pending_without_blob
    assert scene.index.renew_reservation(alive, to_us(datetime.now(UTC) + later))
    report = Sweeper(scene.index, scene.blobs, LaterClock(later)).sweep(timedelta(hours=1))
    assert report.pending_discarded == 1  # the other one, whose lease lapsed
    assert [r.blob_key for r in scene.index.pending_versions(2**62, 10)] == [alive.blob_key]
