"""The sweeper on a SeaweedFS bucket with Object Lock (ADR 0024): a blob the store
refuses to delete (retained or held) is counted and left, and never stops the sweep."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.blobstore.support import admin_client, put
from tests.blobstore.test_s3_object_lock import lock_settings
from tests.s3_servers import S3Server
from tests.test_sweeper import LaterClock
from vault.blobstore.base import ObjectProtectedError
from vault.blobstore.s3.errors import map_s3_error
from vault.blobstore.s3.store import S3BlobStore
from vault.errors import FailedPreconditionError, IntegrityError
from vault.index.sql import SqlIndex
from vault.sqlstore import make_engine
from vault.sweeper import Sweeper


def _locked_store(server: S3Server) -> S3BlobStore:
    bucket = f"vault-lock-{secrets.token_hex(8)}"
    admin_client(server.endpoint).create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    return S3BlobStore(lock_settings(server, bucket))


def _readable(store: S3BlobStore, key: str) -> bool:
    try:
        store.open(key).close()
    except IntegrityError:
        return False
    return True


def test_deleting_a_retained_version_is_refused_as_object_protected(
    seaweedfs: S3Server,
) -> None:
    store = _locked_store(seaweedfs)
    key = put(store, b"a closed dossier's document")
    store.retainer().protect([key], datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(ObjectProtectedError) as refused:
        store.delete(key)
    assert key not in str(refused.value)


def test_a_protected_orphan_is_counted_and_left_and_the_sweep_goes_on(
    seaweedfs: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _locked_store(seaweedfs)
    index = SqlIndex(make_engine(f"sqlite:///{tmp_path / 'index.db'}"))
    index.create_schema()
    held, retained, free = (put(store, b"orphan %d" % n) for n in range(3))
    store.retainer().protect([retained], datetime.now(UTC) + timedelta(days=1))
    store.retainer().hold([held], on=True)
    try:
        with caplog.at_level(logging.INFO, logger="vault.sweeper"):
            report = Sweeper(index, store, LaterClock(timedelta(hours=2))).sweep(timedelta(hours=1))
        assert (report.orphan_blobs_deleted, report.blobs_protected) == (1, 2)
        assert not _readable(store, free)
        assert _readable(store, held)
        assert _readable(store, retained)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert not any(k in line for k in (held, retained) for line in caplog.messages)
    finally:
        store.retainer().hold([held], on=False)


def _refusal(code: str, status: int, operation: str) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "operation", "protected"),
    [
        ("AccessDenied", "DeleteObject", True),
        ("403", "DeleteObject", True),
        ("InvalidAccessKeyId", "DeleteObject", False),  # credentials: stop, do not skip
        ("SignatureDoesNotMatch", "DeleteObject", False),
        ("AccessDenied", "PutObjectRetention", False),
        ("AccessDenied", "GetObject", False),
    ],
)
def test_only_a_refused_delete_reads_as_a_protected_object(
    code: str, operation: str, protected: bool
) -> None:
    error = map_s3_error(_refusal(code, 403, operation), "bucket")
    assert isinstance(error, FailedPreconditionError)
    assert isinstance(error, ObjectProtectedError) is protected
