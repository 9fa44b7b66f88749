"""Where the two real S3 servers of the tests (moto, SeaweedFS: tests/s3_servers.py) agree
and where they differ, each test run on both; docs/s3-compatibility.md is the table.
Where they differ, the expectation is per server (`EXPECTED[...][server]`), so a server
that changes its behaviour fails here, and the doc is updated with it.

What it stops: the vault relying on one server's reading of S3 (checksums, conditional
writes, versioned deletes, multipart limits, error codes, authentication) without
anyone noticing, and the compatibility doc drifting from what the servers do.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from tests.blobstore.support import (
    PART_SIZE,
    REGION,
    admin_client,
    create_bucket,
    payload,
    read_all,
    s3_settings,
)
from tests.s3_servers import S3Server
from vault.blobstore.s3.client import new_session
from vault.blobstore.s3.store import S3BlobStore
from vault.domain.ids import new_object_key
from vault.errors import FailedPreconditionError

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

OK = "ok"

# What each server answers where they differ (docs/s3-compatibility.md).
EXPECTED: dict[str, dict[str, object]] = {
    "wrong sha256 on PutObject": {"moto": OK, "seaweedfs": "BadDigest"},
    "wrong sha256 on UploadPart": {"moto": OK, "seaweedfs": "BadDigest"},
    "composite checksum suffix": {"moto": "", "seaweedfs": "-2"},
    "part number 10001": {"moto": "InvalidArgument", "seaweedfs": "InvalidPart"},
    "second abort": {"moto": "NoSuchUpload", "seaweedfs": OK},
    "part of an unknown upload": {"moto": "500", "seaweedfs": "NoSuchUpload"},
    "deleting a delete marker says so": {"moto": False, "seaweedfs": True},
    "wrong secret": {"moto": OK, "seaweedfs": "SignatureDoesNotMatch"},
    "unknown access key": {"moto": OK, "seaweedfs": "InvalidAccessKeyId"},
}


def outcome(call: Callable[[], Any]) -> str:
    """ "ok", or the S3 error code of the refusal."""
    try:
        call()
    except ClientError as e:
        return str(e.response.get("Error", {}).get("Code"))
    return OK


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture
def admin(s3_server: S3Server) -> S3Client:
    return admin_client(s3_server.endpoint)


@pytest.fixture
def bucket(admin: S3Client) -> str:
    return create_bucket(admin, versioned=True)


# -- checksums ------------------------------------------------------------------------


def test_a_body_that_does_not_match_its_sha256_is_refused_by_seaweedfs_only(
    s3_server: S3Server, admin: S3Client, bucket: str
) -> None:
    wrong = sha256_b64(b"other bytes")
    put = outcome(lambda: admin.put_object(Bucket=bucket, Key="k", Body=b"x", ChecksumSHA256=wrong))
    assert put == EXPECTED["wrong sha256 on PutObject"][s3_server.name]
    upload = admin.create_multipart_upload(Bucket=bucket, Key="m", ChecksumAlgorithm="SHA256")
    part = outcome(
        lambda: admin.upload_part(
            Bucket=bucket,
            Key="m",
            UploadId=upload["UploadId"],
            PartNumber=1,
            Body=b"x",
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=wrong,
        )
    )
    assert part == EXPECTED["wrong sha256 on UploadPart"][s3_server.name]
    admin.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=upload["UploadId"])


def test_both_keep_the_sha256_of_a_single_put(admin: S3Client, bucket: str) -> None:
    admin.put_object(
        Bucket=bucket,
        Key="k",
        Body=b"x",
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=sha256_b64(b"x"),
    )
    head = admin.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head.get("ChecksumSHA256") == sha256_b64(b"x")


def _multipart(admin: S3Client, bucket: str, key: str, parts: list[bytes]) -> str:
    """Uploads `parts` with their SHA-256s and completes; returns the composite checksum
    the vault computes (SHA-256 of the parts' digests)."""
    upload_id = admin.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")[
        "UploadId"
    ]
    completed: list[Any] = []
    for number, body in enumerate(parts, start=1):
        sent = admin.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=sha256_b64(body),
        )
        completed.append(
            {"PartNumber": number, "ETag": sent["ETag"], "ChecksumSHA256": sha256_b64(body)}
        )
    admin.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": completed}
    )
    digests = b"".join(hashlib.sha256(body).digest() for body in parts)
    return sha256_b64(digests)


def test_a_multipart_objects_checksum_is_the_composite_with_or_without_its_part_count(
    s3_server: S3Server, admin: S3Client, bucket: str
) -> None:
    composite = _multipart(admin, bucket, "m", [payload(PART_SIZE), b"tail"])
    stored = admin.head_object(Bucket=bucket, Key="m", ChecksumMode="ENABLED")["ChecksumSHA256"]
    suffix = EXPECTED["composite checksum suffix"][s3_server.name]
    assert stored == composite + str(suffix)


def test_a_retried_multipart_commit_that_meets_its_own_object_is_no_conflict(
    s3_server: S3Server, admin: S3Client, bucket: str
) -> None:
    """The writer's own-object check reads the composite checksum on both servers."""
    key, data = new_object_key(), payload(PART_SIZE + 1)
    s3_key = f"objects/{key[:2]}/{key[2:4]}/{key}"
    _multipart(admin, bucket, s3_key, [data[:PART_SIZE], data[PART_SIZE:]])
    store = S3BlobStore(s3_settings(s3_server.endpoint, bucket))
    writer = store.create(key)
    writer.write(data)
    writer.commit()
    assert read_all(store.open(key)) == data


# -- conditional writes ------------------------------------------------------------------


def test_both_refuse_to_overwrite_under_if_none_match(admin: S3Client, bucket: str) -> None:
    admin.put_object(Bucket=bucket, Key="k", Body=b"first")
    again = outcome(lambda: admin.put_object(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*"))
    assert again == "PreconditionFailed"
    upload_id = admin.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    part = admin.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"2")
    completed = outcome(
        lambda: admin.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
            IfNoneMatch="*",
        )
    )
    assert completed == "PreconditionFailed"
    pending = admin.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u.get("UploadId") for u in pending] == [upload_id]  # the writer must abort it
    admin.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
    assert admin.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"


# -- versioned deletes ---------------------------------------------------------------------


def test_versioned_deletes_markers_and_versions_alike(
    s3_server: S3Server, admin: S3Client, bucket: str
) -> None:
    admin.put_object(Bucket=bucket, Key="k", Body=b"1")
    admin.put_object(Bucket=bucket, Key="k", Body=b"2")
    assert admin.delete_object(Bucket=bucket, Key="k").get("DeleteMarker") is True
    listing = admin.list_object_versions(Bucket=bucket, Prefix="k")
    (marker,) = listing.get("DeleteMarkers", [])
    assert marker.get("IsLatest")
    assert len(listing.get("Versions", [])) == 2
    assert outcome(lambda: admin.get_object(Bucket=bucket, Key="k")) == "NoSuchKey"
    removed = admin.delete_object(Bucket=bucket, Key="k", VersionId=marker["VersionId"])
    says_marker = removed.get("DeleteMarker", False)
    assert says_marker == EXPECTED["deleting a delete marker says so"][s3_server.name]
    assert admin.get_object(Bucket=bucket, Key="k")["Body"].read() == b"2"  # back
    for version in listing.get("Versions", []):
        admin.delete_object(Bucket=bucket, Key="k", VersionId=version["VersionId"])
    after = admin.list_object_versions(Bucket=bucket, Prefix="k")
    assert after.get("Versions", []) == after.get("DeleteMarkers", []) == []


def test_an_unversioned_objects_version_id_is_null_on_both(admin: S3Client) -> None:
    plain = create_bucket(admin)
    admin.put_object(Bucket=plain, Key="k", Body=b"1")
    (version,) = admin.list_object_versions(Bucket=plain).get("Versions", [])
    assert version.get("VersionId") == "null"
    admin.delete_object(Bucket=plain, Key="k", VersionId="null")
    assert admin.list_object_versions(Bucket=plain).get("Versions", []) == []


# -- multipart limits ------------------------------------------------------------------------


def test_multipart_limits(s3_server: S3Server, admin: S3Client, bucket: str) -> None:
    upload_id = admin.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    parts = [
        admin.upload_part(Bucket=bucket, Key="m", UploadId=upload_id, PartNumber=n, Body=b"x")
        for n in (1, 2)
    ]
    too_small = outcome(
        lambda: admin.complete_multipart_upload(
            Bucket=bucket,
            Key="m",
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": p["ETag"]} for n, p in enumerate(parts, 1)]
            },
        )
    )
    assert too_small == "EntityTooSmall"  # both: every part but the last is >= 5 MiB
    beyond = outcome(
        lambda: admin.upload_part(
            Bucket=bucket, Key="m", UploadId=upload_id, PartNumber=10_001, Body=b"x"
        )
    )
    assert beyond == EXPECTED["part number 10001"][s3_server.name]
    admin.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=upload_id)
    again = outcome(
        lambda: admin.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=upload_id)
    )
    assert again == EXPECTED["second abort"][s3_server.name]


def test_a_part_of_an_unknown_upload(s3_server: S3Server, admin: S3Client, bucket: str) -> None:
    unknown = secrets.token_hex(16)
    answer = outcome(
        lambda: admin.upload_part(Bucket=bucket, Key="m", UploadId=unknown, PartNumber=1, Body=b"x")
    )
    assert answer == EXPECTED["part of an unknown upload"][s3_server.name]


# -- error codes ------------------------------------------------------------------------------


def test_both_answer_missing_things_with_the_same_codes(admin: S3Client, bucket: str) -> None:
    absent = f"vault-absent-{secrets.token_hex(6)}"
    admin.put_object(Bucket=bucket, Key="ten", Body=b"0123456789")
    admin.put_object(Bucket=bucket, Key="empty", Body=b"")
    answers = {
        "get missing key": outcome(lambda: admin.get_object(Bucket=bucket, Key="nope")),
        "head missing key": outcome(lambda: admin.head_object(Bucket=bucket, Key="nope")),
        "get missing bucket": outcome(lambda: admin.get_object(Bucket=absent, Key="k")),
        "head missing bucket": outcome(lambda: admin.head_bucket(Bucket=absent)),
        "list missing bucket": outcome(lambda: admin.list_object_versions(Bucket=absent)),
        "range past the end": outcome(
            lambda: admin.get_object(Bucket=bucket, Key="ten", Range="bytes=10-20")
        ),
        "range of an empty object": outcome(
            lambda: admin.get_object(Bucket=bucket, Key="empty", Range="bytes=0-0")
        ),
    }
    assert answers == {
        "get missing key": "NoSuchKey",
        "head missing key": "404",  # a HEAD has no body, so no code
        "get missing bucket": "NoSuchBucket",
        "head missing bucket": "404",
        "list missing bucket": "NoSuchBucket",
        "range past the end": "InvalidRange",
        "range of an empty object": "InvalidRange",  # the reader never asks for one
    }


# -- authentication ------------------------------------------------------------------------------


def _client(endpoint: str, access_key: str, secret_key: str) -> S3Client:
    return new_session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
    )


def test_seaweedfs_checks_signatures_moto_only_once_told_to(
    s3_server: S3Server, admin: S3Client, bucket: str
) -> None:
    """moto checks them only under `enable_iam_authentication` (test_s3.py)."""
    admin.put_object(Bucket=bucket, Key="k", Body=b"x")
    wrong_secret = _client(s3_server.endpoint, "testing", "not-the-secret")
    unknown_key = _client(s3_server.endpoint, "AKIAUNKNOWNUNKNOWN00", "whatever")
    assert (
        outcome(lambda: wrong_secret.get_object(Bucket=bucket, Key="k"))
        == (EXPECTED["wrong secret"][s3_server.name])
    )
    assert (
        outcome(lambda: unknown_key.get_object(Bucket=bucket, Key="k"))
        == (EXPECTED["unknown access key"][s3_server.name])
    )


def test_wrong_credentials_on_seaweedfs_are_a_failed_precondition(
    seaweedfs: S3Server,
) -> None:
    bucket = create_bucket(admin_client(seaweedfs.endpoint))
    for code, (access_key, secret_key) in {
        "InvalidAccessKeyId": ("AKIAUNKNOWNUNKNOWN00", "whatever"),
        "SignatureDoesNotMatch": ("testing", "not-the-secret"),
    }.items():
        settings = replace(
            s3_settings(seaweedfs.endpoint, bucket),
            access_key_id=access_key,
            secret_access_key=secret_key,
        )
        store = S3BlobStore(settings)
        with pytest.raises(FailedPreconditionError):
            store.check()
        with pytest.raises(FailedPreconditionError, match=code):
            store.open(new_object_key())
