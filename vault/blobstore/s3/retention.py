"""`S3Retainer`: the `Retainer` port (vault/blobstore/base.py) on S3 Object Lock.

In a bucket created with Object Lock, every version of a dossier's objects gets a
GOVERNANCE retention until the dossier's conservation deadline (`protect`), or a legal
hold (`hold`); S3 itself then refuses to delete it. Lifting either, and deleting early,
take the governance principal: the VAULT_S3_GOVERNANCE_* key pair, a client of its own,
never the serving one. Without that pair the serving credentials are used, which an
S3 policy may allow to extend protection but should refuse to bypass.

`release` shortens the retention to `RELEASE_GRACE` from now with the bypass header
rather than removing it: SeaweedFS 4.48 refuses an empty retention (docs/s3-compatibility.md).

`detect_mode` reads the bucket's Object Lock configuration once, at startup: OBJECT_LOCK
when it is enabled, NO_LOCK when the bucket has none (every method then does nothing,
as without this module).

What it does not: decide which keys or which deadline (the dossier use cases do), or
delete without the bypass (the store does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import BotoCoreError, ClientError

from vault.blobstore.base import NO_LOCK, OBJECT_LOCK, DeleteResult, shard_path
from vault.blobstore.s3.client import make_client, new_session
from vault.blobstore.s3.errors import map_s3_error, translated
from vault.blobstore.s3.settings import S3Settings

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client
    from types_boto3_s3.type_defs import ObjectLockLegalHoldTypeDef, ObjectLockRetentionTypeDef

RELEASE_GRACE = timedelta(seconds=1)
MODE: Literal["GOVERNANCE"] = "GOVERNANCE"


def governance_client(settings: S3Settings, serving: S3Client) -> S3Client:
    """A client signed by the governance key pair, or `serving` when none is set."""
    if settings.governance_access_key_id is None:
        return serving
    governance = replace(
        settings,
        access_key_id=settings.governance_access_key_id,
        secret_access_key=settings.governance_secret_access_key,
    )
    return make_client(governance, session=new_session())


def detect_mode(client: S3Client, bucket: str, *, strict: bool) -> str:
    """OBJECT_LOCK if the bucket was created with Object Lock, else NO_LOCK. A principal
    refused the configuration counts as NO_LOCK unless `strict` (a governance key pair
    was given: the operator meant Object Lock, so a refusal is theirs to fix)."""
    try:
        answer = client.get_object_lock_configuration(Bucket=bucket)
    except ClientError as e:
        code = str(e.response.get("Error", {}).get("Code", ""))
        if code == "ObjectLockConfigurationNotFoundError":
            return NO_LOCK
        if code == "AccessDenied" and not strict:
            return NO_LOCK
        raise map_s3_error(e, bucket, "GetObjectLockConfiguration") from e
    except BotoCoreError as e:
        raise map_s3_error(e, bucket, "GetObjectLockConfiguration") from e
    enabled = answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
    return OBJECT_LOCK if enabled == "Enabled" else NO_LOCK


class S3Retainer:
    """Object Lock on one bucket's objects, under the store's key prefix."""

    def __init__(
        self,
        settings: S3Settings,
        serving: S3Client,
        versions: Callable[[str], tuple[list[str], list[str], bool]],
    ) -> None:
        self._bucket = settings.bucket
        self._prefix = settings.prefix
        self._serving = serving
        self._governance = governance_client(settings, serving)
        self._versions = versions  # the store's listing: (versions, markers, existed)
        self._mode = detect_mode(
            self._governance, self._bucket, strict=settings.governance_access_key_id is not None
        )

    def mode(self) -> str:
        return self._mode

    def _each_version(self, keys: Sequence[str]) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for key in keys:
            s3_key = self._prefix + shard_path(key)
            found += [(s3_key, version) for version in self._versions(s3_key)[0]]
        return found

    def protect(self, keys: Sequence[str], until: datetime) -> None:
        if self._mode == NO_LOCK:
            return
        retention: ObjectLockRetentionTypeDef = {
            "Mode": MODE,
            "RetainUntilDate": until.astimezone(UTC),
        }
        with translated(self._bucket, "PutObjectRetention"):
            for s3_key, version in self._each_version(keys):
                self._governance.put_object_retention(
                    Bucket=self._bucket, Key=s3_key, VersionId=version, Retention=retention
                )

    def release(self, keys: Sequence[str]) -> None:
        if self._mode == NO_LOCK:
            return
        soon: ObjectLockRetentionTypeDef = {
            "Mode": MODE,
            "RetainUntilDate": datetime.now(UTC) + RELEASE_GRACE,
        }
        with translated(self._bucket, "PutObjectRetention"):
            for s3_key, version in self._each_version(keys):
                self._governance.put_object_retention(
                    Bucket=self._bucket,
                    Key=s3_key,
                    VersionId=version,
                    Retention=soon,
                    BypassGovernanceRetention=True,
                )

    def hold(self, keys: Sequence[str], on: bool) -> None:
        if self._mode == NO_LOCK:
            return
        status: ObjectLockLegalHoldTypeDef = {"Status": "ON" if on else "OFF"}
        with translated(self._bucket, "PutObjectLegalHold"):
            for s3_key, version in self._each_version(keys):
                self._governance.put_object_legal_hold(
                    Bucket=self._bucket, Key=s3_key, VersionId=version, LegalHold=status
                )

    def purge(self, key: str) -> DeleteResult:
        """Every version and marker of `key`, deleted with the governance bypass (a legal
        hold still refuses: release it first)."""
        s3_key = self._prefix + shard_path(key)
        versions, markers, existed = self._versions(s3_key)
        with translated(self._bucket, "DeleteObject"):
            for version in versions + markers:
                self._governance.delete_object(
                    Bucket=self._bucket,
                    Key=s3_key,
                    VersionId=version,
                    BypassGovernanceRetention=True,
                )
        return DeleteResult(existed=existed, versions_deleted=len(versions))
