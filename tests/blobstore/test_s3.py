"""`S3BlobStore` beyond the shared contract (test_conformance.py): layout in the bucket,
checksums, streaming parts, versions, and real endpoints' failures as the right
VaultError (the mapping alone: test_s3_errors.py; the settings: test_s3_settings.py).

What it stops: whole documents held in memory, uploads without an integrity checksum,
versions or delete markers outliving a delete, pending multipart uploads after a failed
commit, raw botocore exceptions (or S3's own messages) reaching callers, and failures
reported as the wrong kind (retryable versus operator-must-act).

Most run on moto (`store`, `s3_endpoint`); the version, missing-bucket and tampering
tests run on each real S3 server (`s3_server`: moto and SeaweedFS).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from io import BytesIO
from typing import TYPE_CHECKING, cast

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import EndpointConnectionError
from moto.core import enable_iam_authentication

from tests.blobstore.support import (
    DUMMY_KEY,
    PART_SIZE,
    REGION,
    SlowDownServer,
    admin_client,
    bucket_contents,
    create_bucket,
    payload,
    put,
    read_all,
    s3_settings,
)
from tests.s3_servers import S3Server
from vault.blobstore.base import BlobWriter, DeleteResult
from vault.blobstore.s3 import writer as s3_writer
from vault.blobstore.s3.settings import S3Settings
from vault.blobstore.s3.store import S3BlobStore
from vault.domain.ids import new_object_key
from vault.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    IntegrityError,
    InvalidArgumentError,
    UnavailableError,
)

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client


@pytest.fixture
def store(s3_endpoint: str, bucket: str) -> S3BlobStore:
    return S3BlobStore(s3_settings(s3_endpoint, bucket))


def s3_key(key: str, prefix: str = "objects/") -> str:
    return f"{prefix}{key[:2]}/{key[2:4]}/{key}"


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


# -- layout and uploads -------------------------------------------------------------


def test_objects_live_sharded_under_the_prefix_and_nowhere_else(
    s3_endpoint: str, bucket: str, s3_admin: S3Client
) -> None:
    store = S3BlobStore(replace(s3_settings(s3_endpoint, bucket), prefix="vault-a/"))
    key = put(store, b"sealed")
    assert bucket_contents(s3_admin, bucket) == [f"version {s3_key(key, 'vault-a/')}"]


class Wire:
    """What the store's clients sent: each upload request, whether its SHA-256 header
    matches its body, and how each operation's payload was signed."""

    def __init__(self, store: S3BlobStore) -> None:
        self.uploads: list[tuple[str, int, bool]] = []
        self.payload_signing: dict[str, str] = {}
        for client in (store._client, store._uploads):
            client.meta.events.register("before-send.s3.*", self._seen)

    def _seen(self, request: AWSPreparedRequest, event_name: str, **_: object) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        self.payload_signing[operation] = _text(request.headers.get("X-Amz-Content-SHA256"))
        if operation in ("PutObject", "UploadPart"):
            body = request.body
            sent = body.getvalue() if isinstance(body, BytesIO) else bytes(cast(bytes, body or b""))
            header = _text(request.headers.get("x-amz-checksum-sha256"))
            self.uploads.append((operation, len(sent), header == sha256_b64(sent)))

    def wait_for_uploads(self, count: int) -> None:
        deadline = time.monotonic() + 10
        while len(self.uploads) < count and time.monotonic() < deadline:
            time.sleep(0.01)


def _text(header: str | bytes | None) -> str:
    return header.decode() if isinstance(header, bytes) else header or ""


def test_a_document_of_one_part_is_one_put_with_its_sha256(
    store: S3BlobStore, bucket: str, s3_admin: S3Client
) -> None:
    wire = Wire(store)
    data = payload(PART_SIZE)
    key = put(store, data)
    assert wire.uploads == [("PutObject", PART_SIZE, True)]
    head = s3_admin.head_object(Bucket=bucket, Key=s3_key(key), ChecksumMode="ENABLED")
    assert head.get("ChecksumSHA256") == sha256_b64(data)


def test_parts_are_sent_as_they_fill_each_with_its_sha256(
    store: S3BlobStore, bucket: str, s3_admin: S3Client
) -> None:
    wire = Wire(store)
    data = payload(2 * PART_SIZE + 1)
    key = new_object_key()
    writer = store.create(key)
    writer.write(data)
    # the first two parts leave before commit; the last byte waits in the buffer
    wire.wait_for_uploads(2)
    assert wire.uploads == [("UploadPart", PART_SIZE, True)] * 2
    assert bucket_contents(s3_admin, bucket) == [f"upload {s3_key(key)}"]  # nothing visible
    writer.commit()
    assert wire.uploads[2:] == [("UploadPart", 1, True)]
    head = s3_admin.head_object(Bucket=bucket, Key=s3_key(key), ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-3"')
    digests = b"".join(hashlib.sha256(part).digest() for part in wire_parts(data))
    assert head.get("ChecksumSHA256", "").split("-")[0] == sha256_b64(digests)
    assert bucket_contents(s3_admin, bucket) == [f"version {s3_key(key)}"]


def wire_parts(data: bytes) -> list[bytes]:
    return [data[i : i + PART_SIZE] for i in range(0, len(data), PART_SIZE)]


def test_only_bodies_sent_with_their_sha256_skip_payload_signing(store: S3BlobStore) -> None:
    """Their signed checksum header binds the body; the part list of the commit, which has
    no checksum, keeps its SigV4 payload hash."""
    wire = Wire(store)
    put(store, payload(PART_SIZE + 1))
    put(store, b"small")
    signing = wire.payload_signing
    assert signing["UploadPart"] == signing["PutObject"] == "UNSIGNED-PAYLOAD"
    assert re.fullmatch("[0-9a-f]{64}", signing["CompleteMultipartUpload"])


@pytest.mark.parametrize("in_flight", [1, 2])
def test_at_most_parts_in_flight_upload_while_the_next_one_fills(
    s3_endpoint: str, bucket: str, in_flight: int
) -> None:
    """Full parts upload in the background, `parts_in_flight` at most: the next full part
    waits for the oldest (memory: `parts_in_flight` + 1 parts)."""
    store = S3BlobStore(replace(s3_settings(s3_endpoint, bucket), parts_in_flight=in_flight))
    sending, release = threading.Semaphore(0), threading.Event()

    def hold_back(**_: object) -> None:
        sending.release()
        release.wait(10)

    store._uploads.meta.events.register("before-send.s3.UploadPart", hold_back)
    key, data = new_object_key(), payload((in_flight + 1) * PART_SIZE + 2)
    writer = store.create(key)
    writer.write(data[: in_flight * PART_SIZE + 1])  # returns while its parts are on their way
    for _ in range(in_flight):
        assert sending.acquire(timeout=10)
    writer.write(data[in_flight * PART_SIZE + 1 : (in_flight + 1) * PART_SIZE])  # fills one more
    last = threading.Thread(target=writer.write, args=(data[(in_flight + 1) * PART_SIZE :],))
    last.start()  # must send the part just filled, so waits for the oldest
    last.join(0.3)
    assert last.is_alive()
    release.set()
    last.join(10)
    writer.commit()
    assert read_all(store.open(key)) == data


def test_an_object_needing_more_parts_than_s3_allows_is_refused(
    store: S3BlobStore, bucket: str, s3_admin: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_writer, "MAX_PARTS", 3)
    put(store, payload(2 * PART_SIZE + 1))  # three parts: the most allowed
    writer = store.create(new_object_key())
    with pytest.raises(InvalidArgumentError):
        writer.write(payload(3 * PART_SIZE + 1))
    writer.abort()
    assert s3_admin.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_a_refused_multipart_commit_leaves_no_pending_upload(
    store: S3BlobStore, bucket: str, s3_admin: S3Client
) -> None:
    key = new_object_key()
    s3_admin.put_object(Bucket=bucket, Key=s3_key(key), Body=b"already here")
    writer = store.create(key)
    writer.write(payload(PART_SIZE + 1))
    with pytest.raises(AlreadyExistsError):
        writer.commit()
    assert s3_admin.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert read_all(store.open(key)) == b"already here"


def test_a_retried_commit_that_meets_its_own_object_is_no_conflict(
    store: S3BlobStore, bucket: str, s3_admin: S3Client
) -> None:
    """As when PutObject succeeded but its response was lost and botocore retried."""
    key, data = new_object_key(), b"sealed bytes"
    s3_admin.put_object(
        Bucket=bucket,
        Key=s3_key(key),
        Body=data,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=sha256_b64(data),
    )
    writer = store.create(key)
    writer.write(data)
    writer.commit()
    assert read_all(store.open(key)) == data


# -- versions -------------------------------------------------------------------------


def versions_of(admin: S3Client, bucket: str, key: str) -> list[str]:
    listing = admin.list_object_versions(Bucket=bucket, Prefix=key)
    return [v.get("VersionId", "") for v in listing.get("Versions", [])] + [
        m.get("VersionId", "") for m in listing.get("DeleteMarkers", [])
    ]


@pytest.fixture
def on_each_server(s3_server: S3Server) -> tuple[S3Server, S3Client]:
    """Each real S3 server (moto, SeaweedFS) and an admin client of it."""
    return s3_server, admin_client(s3_server.endpoint)


def test_delete_removes_every_version_and_delete_marker(
    on_each_server: tuple[S3Server, S3Client],
) -> None:
    server, s3_admin = on_each_server
    versioned_bucket = create_bucket(s3_admin, versioned=True)
    store = S3BlobStore(s3_settings(server.endpoint, versioned_bucket))
    key = put(store, b"v1")
    name = s3_key(key)
    s3_admin.put_object(Bucket=versioned_bucket, Key=name, Body=b"v2")
    s3_admin.delete_object(Bucket=versioned_bucket, Key=name)  # a delete marker
    s3_admin.put_object(Bucket=versioned_bucket, Key=name, Body=b"v3")
    assert len(versions_of(s3_admin, versioned_bucket, name)) == 4
    assert store.delete(key) == DeleteResult(existed=True, versions_deleted=3)
    assert versions_of(s3_admin, versioned_bucket, name) == []


def test_delete_under_a_delete_marker_still_removes_the_old_versions(
    on_each_server: tuple[S3Server, S3Client],
) -> None:
    server, s3_admin = on_each_server
    versioned_bucket = create_bucket(s3_admin, versioned=True)
    store = S3BlobStore(s3_settings(server.endpoint, versioned_bucket))
    key = put(store, b"v1")
    s3_admin.delete_object(Bucket=versioned_bucket, Key=s3_key(key))
    assert store.delete(key) == DeleteResult(existed=False, versions_deleted=1)
    assert bucket_contents(s3_admin, versioned_bucket) == []


def test_delete_spares_keys_that_merely_start_with_the_same_name(
    on_each_server: tuple[S3Server, S3Client],
) -> None:
    server, s3_admin = on_each_server
    bucket = create_bucket(s3_admin)
    store = S3BlobStore(s3_settings(server.endpoint, bucket))
    key = put(store, b"mine")
    s3_admin.put_object(Bucket=bucket, Key=s3_key(key) + "-other", Body=b"not mine")
    assert store.delete(key) == DeleteResult(existed=True, versions_deleted=1)
    assert bucket_contents(s3_admin, bucket) == [f"version {s3_key(key)}-other"]


# -- failures from real endpoints -------------------------------------------------------


def quick_settings(endpoint: str, bucket: str = "vault-test") -> S3Settings:
    return replace(
        s3_settings(endpoint, bucket), max_attempts=1, connect_timeout=0.5, read_timeout=0.5
    )


def every_operation(store: S3BlobStore) -> Iterator[tuple[str, Callable[[], object]]]:
    """Each public operation as a thunk, to show that none lets a raw error escape."""

    def write() -> None:
        writer = store.create(new_object_key())
        writer.write(b"x")
        writer.commit()

    yield "check", store.check
    yield "write", write
    yield "read", lambda: store.open(new_object_key()).read(10)
    yield "ranged read", lambda: store.open(new_object_key(), 5, 0)
    yield "delete", lambda: store.delete(new_object_key())


def test_an_unreachable_endpoint_is_unavailable_quickly(closed_port_endpoint: str) -> None:
    store = S3BlobStore(quick_settings(closed_port_endpoint))
    started = time.monotonic()
    for name, operation in every_operation(store):
        with pytest.raises(UnavailableError):
            operation()
        assert time.monotonic() - started < 5, name


def test_a_silent_endpoint_times_out_as_unavailable(silent_endpoint: str) -> None:
    store = S3BlobStore(quick_settings(silent_endpoint))
    with pytest.raises(UnavailableError, match="ReadTimeoutError"):
        store.open(new_object_key())


def test_503_slowdown_is_unavailable(slowdown_server: SlowDownServer) -> None:
    store = S3BlobStore(quick_settings(slowdown_server.url))
    for _, operation in every_operation(store):
        with pytest.raises(UnavailableError):
            operation()
    with pytest.raises(UnavailableError, match="SlowDown"):
        store.open(new_object_key())


def test_a_write_that_lost_a_part_takes_no_more_bytes(store: S3BlobStore) -> None:
    def unreachable(**_: object) -> None:
        raise EndpointConnectionError(endpoint_url="http://s3.invalid")

    store._uploads.meta.events.register("before-send.s3.UploadPart", unreachable)
    writer = store.create(new_object_key())
    writer.write(payload(PART_SIZE))
    writer.write(b"the byte that sends the first part, in the background")
    with pytest.raises(UnavailableError):  # the part's failure, at a later write
        write_until_it_fails(writer)
    with pytest.raises(FailedPreconditionError):
        writer.write(b"more")
    with pytest.raises(FailedPreconditionError):
        writer.commit()
    writer.abort()


def write_until_it_fails(writer: BlobWriter) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        writer.write(b"more")
        time.sleep(0.01)


@pytest.mark.parametrize("attempts", [1, 2])
def test_max_attempts_counts_the_first_try(slowdown_server: SlowDownServer, attempts: int) -> None:
    """botocore's own `max_attempts` would not: it counts retries only."""
    store = S3BlobStore(replace(quick_settings(slowdown_server.url), max_attempts=attempts))
    with pytest.raises(UnavailableError):
        store.open(new_object_key())
    assert slowdown_server.requests == attempts


def test_a_missing_bucket_fails_the_startup_check(s3_server: S3Server) -> None:
    store = S3BlobStore(s3_settings(s3_server.endpoint, f"vault-absent-{secrets.token_hex(6)}"))
    with pytest.raises(FailedPreconditionError, match="vault-absent-"):
        store.check()
    with pytest.raises(FailedPreconditionError, match="does not exist"):
        store.open(new_object_key())


@pytest.fixture
def iam_user(s3_endpoint: str) -> tuple[str, str]:
    """Access key id and secret of a fresh IAM user with no permission at all."""
    iam = boto3.session.Session().client(
        "iam",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=DUMMY_KEY,
        aws_secret_access_key=DUMMY_KEY,
    )
    name = f"vault-{secrets.token_hex(6)}"
    iam.create_user(UserName=name)
    created = iam.create_access_key(UserName=name)["AccessKey"]
    return created["AccessKeyId"], created["SecretAccessKey"]


def test_wrong_credentials_are_a_failed_precondition(
    s3_endpoint: str, bucket: str, iam_user: tuple[str, str]
) -> None:
    """moto checks signatures once IAM authentication is on (in this process)."""
    key_id, secret = iam_user
    cases = {
        "InvalidAccessKeyId": ("AKIAUNKNOWNUNKNOWN00", "whatever"),
        "SignatureDoesNotMatch": (key_id, "not-the-secret"),
        "AccessDenied": (key_id, secret),  # a real user, but no policy
    }
    with enable_iam_authentication():
        for code, (access_key, secret_key) in cases.items():
            settings = replace(
                s3_settings(s3_endpoint, bucket),
                access_key_id=access_key,
                secret_access_key=secret_key,
            )
            store = S3BlobStore(settings)
            with pytest.raises(FailedPreconditionError):
                store.check()
            with pytest.raises(FailedPreconditionError, match=code):
                store.open(new_object_key())


def test_a_tampered_with_bucket_reads_as_an_integrity_error(
    on_each_server: tuple[S3Server, S3Client],
) -> None:
    server, s3_admin = on_each_server
    bucket = create_bucket(s3_admin)
    store = S3BlobStore(s3_settings(server.endpoint, bucket))
    key = put(store, b"sealed")
    s3_admin.delete_object(Bucket=bucket, Key=s3_key(key))  # behind the vault's back
    with pytest.raises(IntegrityError, match=bucket):
        store.open(key)
