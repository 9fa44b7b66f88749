"""WORM conservation on S3 Object Lock (vault/blobstore/s3/retention.py, ADR 0024), on
both real S3 servers: the store itself refuses to delete what the vault protected.

The store serves with its own credentials (on SeaweedFS an identity without Admin);
the retainer acts with the governance key pair (the admin identity). moto checks no
signatures, so there only the missing bypass header makes a deletion refused.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.blobstore.support import (
    DUMMY_KEY,
    REGION,
    admin_client,
    bucket_contents,
    payload,
    put,
    read_all,
    s3_settings,
)
from tests.s3_servers import SERVING_KEY, SERVING_SECRET, S3Server
from vault.blobstore.base import NO_LOCK, OBJECT_LOCK, NoRetainer
from vault.blobstore.s3.client import new_session
from vault.blobstore.s3.retention import RELEASE_GRACE
from vault.blobstore.s3.settings import S3Settings
from vault.blobstore.s3.store import S3BlobStore
from vault.cli.config import worm_mode
from vault.errors import ConfigurationError, FailedPreconditionError

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

A_DECADE = timedelta(days=3653)


def _lock_bucket(server: S3Server) -> str:
    name = f"vault-lock-{secrets.token_hex(8)}"
    admin_client(server.endpoint).create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def lock_settings(server: S3Server, bucket: str) -> S3Settings:
    """Serving credentials of their own; the governance pair is the admin identity."""
    return replace(
        s3_settings(server.endpoint, bucket),
        access_key_id=SERVING_KEY,
        secret_access_key=SERVING_SECRET,
        governance_access_key_id=DUMMY_KEY,
        governance_secret_access_key=DUMMY_KEY,
    )


@pytest.fixture
def locked(s3_server: S3Server) -> tuple[S3Server, str, S3BlobStore]:
    bucket = _lock_bucket(s3_server)
    return s3_server, bucket, S3BlobStore(lock_settings(s3_server, bucket))


def _serving_client(endpoint: str) -> S3Client:
    return new_session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=SERVING_KEY,
        aws_secret_access_key=SERVING_SECRET,
        config=Config(s3={"addressing_style": "path"}),
    )


def _until_released() -> None:
    """Waits out the grace a released (or short) retention keeps."""
    time.sleep(RELEASE_GRACE.total_seconds() + 0.5)


def test_a_bucket_created_with_object_lock_is_detected(
    locked: tuple[S3Server, str, S3BlobStore],
) -> None:
    assert locked[2].retainer().mode() == OBJECT_LOCK


def test_config_check_says_which_mode_the_store_runs_in(
    locked: tuple[S3Server, str, S3BlobStore],
) -> None:
    assert worm_mode(locked[2].retainer()).startswith("Object Lock")
    assert worm_mode(NoRetainer()).startswith("no Object Lock")


def test_a_bucket_without_object_lock_runs_as_today(s3_server: S3Server) -> None:
    bucket = f"vault-plain-{secrets.token_hex(8)}"
    admin_client(s3_server.endpoint).create_bucket(Bucket=bucket)
    store = S3BlobStore(lock_settings(s3_server, bucket))
    retainer = store.retainer()
    key = put(store, b"a closed dossier's document")
    retainer.protect([key], datetime.now(UTC) + A_DECADE)
    retainer.hold([key], on=True)
    assert retainer.mode() == NO_LOCK
    assert store.delete(key).existed


def test_a_protected_blob_cannot_be_deleted_with_the_serving_credentials(
    locked: tuple[S3Server, str, S3BlobStore],
) -> None:
    server, bucket, store = locked
    key = put(store, payload(1000))
    store.retainer().protect([key], datetime.now(UTC) + A_DECADE)
    with pytest.raises(FailedPreconditionError):
        store.delete(key)
    assert read_all(store.open(key)) == payload(1000)
    assert len(bucket_contents(admin_client(server.endpoint), bucket)) == 1


def test_the_serving_identity_cannot_bypass_governance_on_seaweedfs(
    locked: tuple[S3Server, str, S3BlobStore],
) -> None:
    """moto checks no identity: the bypass header alone is refused only by SeaweedFS."""
    server, bucket, store = locked
    if server.name != "seaweedfs":
        pytest.skip("moto grants the bypass to anyone (docs/s3-compatibility.md)")
    key = put(store, b"protected")
    store.retainer().protect([key], datetime.now(UTC) + A_DECADE)
    s3_key = "objects/" + f"{key[:2]}/{key[2:4]}/{key}"
    serving = _serving_client(server.endpoint)
    version = serving.head_object(Bucket=bucket, Key=s3_key)["VersionId"]
    with pytest.raises(ClientError, match="AccessDenied"):
        serving.delete_object(
            Bucket=bucket, Key=s3_key, VersionId=version, BypassGovernanceRetention=True
        )
    with pytest.raises(ClientError, match="AccessDenied"):
        serving.put_object_legal_hold(
            Bucket=bucket, Key=s3_key, VersionId=version, LegalHold={"Status": "OFF"}
        )


def test_reopening_releases_the_protection(locked: tuple[S3Server, str, S3BlobStore]) -> None:
    server, bucket, store = locked
    key = put(store, b"reopened")
    store.retainer().protect([key], datetime.now(UTC) + A_DECADE)
    store.retainer().release([key])
    _until_released()
    assert store.delete(key).versions_deleted == 1
    assert bucket_contents(admin_client(server.endpoint), bucket) == []


def test_past_the_deadline_the_serving_credentials_delete(
    locked: tuple[S3Server, str, S3BlobStore],
) -> None:
    _, _, store = locked
    key = put(store, b"conserved")
    store.retainer().protect([key], datetime.now(UTC) + RELEASE_GRACE)
    _until_released()
    assert store.delete(key).versions_deleted == 1


def test_a_lawful_early_deletion_bypasses_governance(
    locked: tuple[S3Server, str, S3BlobStore],
) -> None:
    server, bucket, store = locked
    key = put(store, b"deletion requested")
    store.retainer().protect([key], datetime.now(UTC) + A_DECADE)
    assert store.retainer().purge(key).versions_deleted == 1
    assert bucket_contents(admin_client(server.endpoint), bucket) == []


def test_a_legal_hold_blocks_deletion_at_the_store_until_released(
    locked: tuple[S3Server, str, S3BlobStore],
) -> None:
    _, _, store = locked
    key = put(store, b"held")
    store.retainer().hold([key], on=True)
    with pytest.raises(FailedPreconditionError):
        store.delete(key)
    with pytest.raises(FailedPreconditionError):
        store.retainer().purge(key)  # not even the governance bypass
    store.retainer().hold([key], on=False)
    assert store.delete(key).versions_deleted == 1


def test_protecting_a_destroyed_documents_key_is_a_no_op(
    locked: tuple[S3Server, str, S3BlobStore],
) -> None:
    _, _, store = locked
    key = put(store, b"gone")
    store.delete(key)
    store.retainer().protect([key], datetime.now(UTC) + A_DECADE)
    store.retainer().hold([key], on=True)


def test_the_governance_key_pair_goes_together() -> None:
    with pytest.raises(ConfigurationError, match="GOVERNANCE"):
        S3Settings(bucket="b", governance_access_key_id="only-the-id")


def test_the_governance_secret_is_not_shown() -> None:
    settings = S3Settings(
        bucket="b", governance_access_key_id="gov-id", governance_secret_access_key="gov-secret"
    )
    assert "gov-secret" not in repr(settings)
    assert "gov-id" not in repr(settings)
