"""`S3BlobStore`: the `BlobStore` (vault/blobstore/base.py) in an S3 bucket.

Layout: `<prefix><k0k1>/<k2k3>/<key>` in one bucket (prefix default "objects/"); keys
are the vault's opaque ids, checked before any request. `create` hands out an `S3Writer`
(writer.py), `open` an `S3Reader` (reader.py). `delete` removes every version and delete
marker of the key (versioned buckets too). `check` verifies at startup that the bucket
exists, that the vault may write, list versions and delete under its prefix, and that
the endpoint honours conditional writes. Every failure is a VaultError (errors.py).

`probe` (the server's health probe) sends one HeadBucket, with one attempt and a read
timeout of at most `PROBE_READ_TIMEOUT` seconds, through a client of its own.

`retainer()` is the Object Lock port (retention.py, ADR 0024): in a bucket with Object
Lock, `delete` is refused by S3 while an object is retained or held.

`sweep_incomplete` aborts the multipart uploads a crash left pending (the GC's sweep,
vault/sweeper.py, calls it).

The vault needs s3:ListBucket (HeadBucket), s3:GetObject, s3:PutObject,
s3:AbortMultipartUpload, s3:ListBucketVersions, s3:ListBucketMultipartUploads,
s3:DeleteObject and s3:DeleteObjectVersion on the bucket and prefix. It does not create
the bucket or set its versioning or encryption; where the GC does not sweep
(VAULT_GC_INTERVAL_SECONDS=0), give the bucket a lifecycle rule
`AbortIncompleteMultipartUpload` (e.g. after 1 day). With Object Lock, the serving
principal must not hold s3:BypassGovernanceRetention; the governance principal
(VAULT_S3_GOVERNANCE_*) needs s3:GetBucketObjectLockConfiguration, s3:PutObjectRetention,
s3:PutObjectLegalHold, s3:BypassGovernanceRetention, s3:ListBucketVersions and
s3:DeleteObjectVersion (ADR 0024).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime

from vault.blobstore.base import DeleteResult, shard_path
from vault.blobstore.s3.client import make_client, new_session
from vault.blobstore.s3.errors import translated
from vault.blobstore.s3.reader import S3Reader, open_object
from vault.blobstore.s3.retention import S3Retainer
from vault.blobstore.s3.settings import S3Settings
from vault.blobstore.s3.writer import S3Writer, WriteTarget
from vault.errors import AlreadyExistsError, FailedPreconditionError, InvalidArgumentError

PROBE_READ_TIMEOUT = 2.0  # seconds: a health probe answers fast or counts as a failure


class S3BlobStore:
    """A `BlobStore` in an S3 bucket, under a key prefix."""

    def __init__(self, settings: S3Settings) -> None:
        session = new_session()
        self._client = make_client(settings, session=session)
        self._uploads = make_client(settings, sign_payloads=False, session=session)
        probing = replace(
            settings, read_timeout=min(settings.read_timeout, PROBE_READ_TIMEOUT), max_attempts=1
        )
        self._prober = make_client(probing, session=session)
        self._settings = settings
        self._retainer: S3Retainer | None = None
        self._bucket = settings.bucket
        self._prefix = settings.prefix
        self._target = WriteTarget(
            self._client,
            self._uploads,
            settings.bucket,
            settings.part_size,
            settings.parts_in_flight,
            ThreadPoolExecutor(settings.max_connections, thread_name_prefix="s3-part"),
        )

    def retainer(self) -> S3Retainer:
        """The store's Object Lock port (retention.py); reads the bucket's mode once."""
        if self._retainer is None:
            self._retainer = S3Retainer(self._settings, self._client, self._versions)
        return self._retainer

    def _s3_key(self, key: str) -> str:
        return self._prefix + shard_path(key)

    def create(self, key: str) -> S3Writer:
        return S3Writer(self._target, self._s3_key(key))

    def open(self, key: str, offset: int = 0, length: int | None = None) -> S3Reader:
        return open_object(self._client, self._bucket, self._s3_key(key), offset, length)

    def delete(self, key: str) -> DeleteResult:
        return self._delete_every_version(self._s3_key(key))

    def _delete_every_version(self, s3_key: str) -> DeleteResult:
        versions, markers, existed = self._versions(s3_key)
        with translated(self._bucket, "DeleteObject"):
            for version_id in versions + markers:
                self._client.delete_object(Bucket=self._bucket, Key=s3_key, VersionId=version_id)
        return DeleteResult(existed=existed, versions_deleted=len(versions))

    def stored_keys(self, older_than: datetime) -> Iterator[str]:
        """Every key with a version or delete marker older than `older_than`, once (so a
        key whose latest version was deleted behind our back is still found)."""
        seen: set[str] = set()
        pages = self._client.get_paginator("list_object_versions")
        with translated(self._bucket, "ListObjectVersions"):
            for page in pages.paginate(Bucket=self._bucket, Prefix=self._prefix):
                for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    name = self._key_of(item.get("Key", ""))
                    modified = item.get("LastModified")
                    if name and name not in seen and modified and modified < older_than:
                        seen.add(name)
                        yield name

    def _key_of(self, s3_key: str) -> str | None:
        """The vault key stored under `s3_key`, or None for anything else (probes...)."""
        name = s3_key.rsplit("/", 1)[-1]
        try:
            return name if self._s3_key(name) == s3_key else None
        except InvalidArgumentError:
            return None

    def sweep_incomplete(self, older_than: datetime, dry_run: bool = False) -> int:
        """Aborts multipart uploads begun before `older_than` and never completed."""
        swept = 0
        pages = self._client.get_paginator("list_multipart_uploads")
        with translated(self._bucket, "ListMultipartUploads"):
            for page in pages.paginate(Bucket=self._bucket, Prefix=self._prefix):
                for upload in page.get("Uploads", []):
                    initiated = upload.get("Initiated")
                    if initiated is None or initiated >= older_than:
                        continue
                    swept += 1
                    if not dry_run:
                        self._client.abort_multipart_upload(
                            Bucket=self._bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
        return swept

    def _versions(self, s3_key: str) -> tuple[list[str], list[str], bool]:
        """Version ids and delete-marker ids of exactly `s3_key`, and whether its latest
        version is readable ("null" is the id in an unversioned bucket)."""
        versions: list[str] = []
        markers: list[str] = []
        existed = False
        pages = self._client.get_paginator("list_object_versions")
        with translated(self._bucket, "ListObjectVersions"):
            for page in pages.paginate(Bucket=self._bucket, Prefix=s3_key):
                for version in page.get("Versions", []):
                    if version.get("Key") == s3_key:
                        versions.append(version.get("VersionId") or "null")
                        existed = existed or bool(version.get("IsLatest"))
                for marker in page.get("DeleteMarkers", []):
                    if marker.get("Key") == s3_key:
                        markers.append(marker.get("VersionId") or "null")
        return versions, markers, existed

    def probe(self) -> None:
        """Answers while the bucket does: one HeadBucket, one attempt (UnavailableError,
        or FailedPreconditionError for a bucket gone or credentials refused)."""
        with translated(self._bucket, "HeadBucket"):
            self._prober.head_bucket(Bucket=self._bucket)

    def check(self) -> None:
        """The bucket exists; the vault can write (with checksums and the no-overwrite
        condition), list versions and delete under its prefix. Leaves nothing behind."""
        with translated(self._bucket, "HeadBucket"):
            self._client.head_bucket(Bucket=self._bucket)
        probe = f"{self._prefix}probe/{secrets.token_hex(16)}"
        self._write(probe, b"probe")
        try:
            self._require_conditional_writes(probe)
        finally:
            self._delete_every_version(probe)

    def _write(self, s3_key: str, data: bytes) -> None:
        writer = S3Writer(self._target, s3_key)
        writer.write(data)
        writer.commit()

    def _require_conditional_writes(self, probe: str) -> None:
        try:
            self._write(probe, b"second probe")
        except AlreadyExistsError:
            return
        raise FailedPreconditionError(
            f"the S3 endpoint of bucket {self._bucket} ignores If-None-Match: the vault "
            "needs conditional writes never to overwrite an object"
        )
