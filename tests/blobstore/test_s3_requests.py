"""How many S3 requests each store operation sends, and that connections are reused,
on both test servers (moto, SeaweedFS). docs/performance.md ("Requests and CPU per put")
and docs/s3-compatibility.md say why it matters.

What it stops: a small put growing a second request (a HEAD before writing, a
multipart upload for one part, a checksum read back, a retention call), a read growing
one, and a server (or a urllib3 upgrade) that makes every request after a refusal open
a new connection, none of which a functional test would notice.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import urllib3.connectionpool
from botocore.exceptions import ClientError

from tests.blobstore.support import (
    PART_SIZE,
    admin_client,
    create_bucket,
    payload,
    put,
    read_all,
    s3_settings,
)
from tests.s3_servers import S3Server
from vault.blobstore.s3 import store as s3_store
from vault.blobstore.s3.client import new_session
from vault.errors import AlreadyExistsError

if TYPE_CHECKING:
    from vault.blobstore.s3.store import S3BlobStore


def counting_store(
    server: S3Server, monkeypatch: pytest.MonkeyPatch, bucket: str
) -> tuple[S3BlobStore, Counter[str]]:
    """A store on `bucket` whose sessions count every request they send, by operation
    (a retried attempt counts again)."""
    sent: Counter[str] = Counter()

    def record(event_name: str = "", **_: Any) -> None:
        sent[event_name.rsplit(".", 1)[-1]] += 1

    def counting_session() -> boto3.session.Session:
        session = new_session()
        session.events.register("before-send.s3", record)
        return session

    monkeypatch.setattr(s3_store, "new_session", counting_session)
    return s3_store.S3BlobStore(s3_settings(server.endpoint, bucket)), sent


def test_a_small_put_is_one_put_object_and_a_read_one_get_object(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = create_bucket(admin_client(s3_server.endpoint))
    store, sent = counting_store(s3_server, monkeypatch, bucket)
    data = payload(64 * 1024)
    key = put(store, data)
    assert sent == {"PutObject": 1}
    sent.clear()
    reader = store.open(key)
    try:
        assert read_all(reader) == data
    finally:
        reader.close()
    assert sent == {"GetObject": 1}


def test_a_refused_overwrite_costs_one_put_and_one_head(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The HEAD only follows a refusal (is the object there our own retried write?)."""
    bucket = create_bucket(admin_client(s3_server.endpoint))
    store, sent = counting_store(s3_server, monkeypatch, bucket)
    key = put(store, b"first")
    sent.clear()
    writer = store.create(key)
    writer.write(b"second")
    with pytest.raises(AlreadyExistsError):
        writer.commit()
    assert sent == {"PutObject": 1, "HeadObject": 1}


def test_a_put_of_two_parts_is_one_multipart_upload(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = create_bucket(admin_client(s3_server.endpoint))
    store, sent = counting_store(s3_server, monkeypatch, bucket)
    put(store, payload(PART_SIZE + 1024))
    assert sent == {"CreateMultipartUpload": 1, "UploadPart": 2, "CompleteMultipartUpload": 1}


def test_both_keep_the_connection_after_a_refusal_and_a_missing_key(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = admin_client(s3_server.endpoint)
    bucket = create_bucket(admin)
    admin.put_object(Bucket=bucket, Key="there", Body=b"x")  # a connection is open
    opened: list[object] = []
    new_connection = urllib3.connectionpool.HTTPConnectionPool._new_conn

    def counted(pool: urllib3.connectionpool.HTTPConnectionPool) -> Any:
        opened.append(pool)
        return new_connection(pool)

    monkeypatch.setattr(urllib3.connectionpool.HTTPConnectionPool, "_new_conn", counted)
    for _ in range(3):
        with pytest.raises(ClientError, match="PreconditionFailed"):
            admin.put_object(Bucket=bucket, Key="there", Body=b"y", IfNoneMatch="*")
        with pytest.raises(ClientError, match="NoSuchKey"):
            admin.get_object(Bucket=bucket, Key="missing")
        admin.head_object(Bucket=bucket, Key="there")
    assert opened == []
