"""Helpers for the blob-store tests (fixtures live in conftest.py): settings for the
test S3 server, a view of a bucket's whole contents, the `Harness` that puts every store
behind one interface, a fake overloaded S3, and writing and reading whole objects."""

from __future__ import annotations

import functools
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import cycle
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.config import Config

from vault.blobstore.base import BlobReader, BlobStore
from vault.blobstore.file import FileBlobStore
from vault.blobstore.s3.client import new_session
from vault.blobstore.s3.settings import MIN_PART_SIZE, S3Settings
from vault.blobstore.s3.store import S3BlobStore
from vault.domain.ids import new_object_key

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

    from tests.s3_servers import S3Server

MIB = 1024 * 1024
PART_SIZE = MIN_PART_SIZE  # 5 MiB: the smallest part S3 accepts, to keep tests small
REGION = "us-east-1"
DUMMY_KEY = "testing"

# -- S3 test server ---------------------------------------------------------------------


def s3_settings(endpoint: str, bucket: str) -> S3Settings:
    """Settings for the test server: dummy credentials, path style, 5 MiB parts."""
    return S3Settings(
        bucket=bucket,
        endpoint_url=endpoint,
        region=REGION,
        access_key_id=DUMMY_KEY,
        secret_access_key=DUMMY_KEY,
        path_style=True,
        part_size=PART_SIZE,
        connect_timeout=2.0,
        read_timeout=10.0,
        max_attempts=2,
    )


@functools.cache
def admin_client(endpoint: str) -> S3Client:
    """A plain boto3 client, to arrange and inspect what the store did; one per endpoint
    (clients are thread-safe, and building one costs 0.1 s on a loaded machine)."""
    return new_session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=DUMMY_KEY,
        aws_secret_access_key=DUMMY_KEY,
        config=Config(s3={"addressing_style": "path"}),
    )


def create_bucket(admin: S3Client, *, versioned: bool = False) -> str:
    name = f"vault-test-{secrets.token_hex(8)}"
    admin.create_bucket(Bucket=name)
    if versioned:
        admin.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def bucket_contents(admin: S3Client, bucket: str) -> list[str]:
    """Every object version, delete marker and pending multipart upload in the bucket."""
    found: list[str] = []
    for page in admin.get_paginator("list_object_versions").paginate(Bucket=bucket):
        found += [f"version {v.get('Key')}" for v in page.get("Versions", [])]
        found += [f"marker {m.get('Key')}" for m in page.get("DeleteMarkers", [])]
    uploads = admin.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    found += [f"upload {u.get('Key')}" for u in uploads]
    return found


def empty_bucket(admin: S3Client, bucket: str) -> None:
    """Removes every object version, delete marker and pending upload (for reuse)."""
    for page in admin.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            admin.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
    for upload in admin.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        admin.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    if bucket_contents(admin, bucket):
        raise AssertionError(f"bucket {bucket} could not be emptied")


# -- the stores under test ---------------------------------------------------------------


@dataclass
class Harness:
    """A store under test and a view of everything it holds, whatever its medium."""

    name: str
    store: BlobStore
    leftovers: Callable[[], list[str]]


def file_harness(root: Path) -> Harness:
    def leftovers() -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    return Harness("file", FileBlobStore(root), leftovers)


def s3_harness(server: S3Server, *, versioned: bool, bucket: str | None = None) -> Harness:
    """A store on `bucket` (empty, versioned as said), or on a fresh bucket."""
    admin = admin_client(server.endpoint)
    name = bucket or create_bucket(admin, versioned=versioned)
    store = S3BlobStore(s3_settings(server.endpoint, name))
    label = f"{server.name}-versioned" if versioned else server.name
    return Harness(label, store, lambda: bucket_contents(admin, name))


# -- an overloaded S3 ---------------------------------------------------------------------

_SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class SlowDownServer(ThreadingHTTPServer):
    """Answers every S3 request as an overloaded S3 does (503 SlowDown), and counts them."""

    requests = 0

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SlowDownHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _SlowDownHandler(BaseHTTPRequestHandler):
    server: SlowDownServer
    protocol_version = "HTTP/1.1"  # answers botocore's "Expect: 100-continue" at once

    def _refuse(self) -> None:
        self.server.requests += 1
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(_SLOWDOWN)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(_SLOWDOWN)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _refuse  # noqa: N815 (http.server names)

    def log_message(self, format: str, *args: object) -> None:
        """Silent."""


# -- whole objects --------------------------------------------------------------------------

# Uneven writes: smaller than, straddling and larger than a part.
CHUNK_SIZES = (MIB - 3, 7, 3 * MIB + 5, PART_SIZE + MIB)


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def put(store: BlobStore, data: bytes) -> str:
    """Writes `data` as memoryview chunks of uneven sizes and commits; returns the key."""
    key = new_object_key()
    writer = store.create(key)
    view, position = memoryview(data), 0
    for size in cycle(CHUNK_SIZES):
        if position >= len(data):
            break
        writer.write(view[position : position + size])
        position += size
    writer.commit()
    return key


def read_all(reader: BlobReader, size: int = 64 * 1024 - 1) -> bytes:
    """Reads to the end, checking that only the last read comes back short."""
    chunks: list[bytes] = []
    while chunk := reader.read(size):
        assert not chunks or len(chunks[-1]) == size, "a short read before the end"
        chunks.append(chunk)
    reader.close()
    return b"".join(chunks)
