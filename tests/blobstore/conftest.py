"""Blob-store fixtures: the stores under test, over the real S3 server on loopback.

`s3_endpoint` (tests/conftest.py) is moto in server mode: the S3 store talks HTTP to it
with dummy credentials, exactly as it would to MinIO. Every test gets fresh buckets with
unique names. `harness` runs a test over five stores: a local directory, and a bucket
and a versioned bucket on each real S3 server (moto, SeaweedFS: tests/s3_servers.py). Also here:
endpoints that misbehave (closed port, silent listener, a server that only says 503
SlowDown). Helpers are in support.py.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.blobstore.support import (
    Harness,
    SlowDownServer,
    admin_client,
    create_bucket,
    empty_bucket,
    file_harness,
    s3_harness,
)
from tests.s3_servers import SERVERS, S3Server

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client


@pytest.fixture
def bucket(s3_admin: S3Client) -> str:
    return create_bucket(s3_admin)


@pytest.fixture
def versioned_bucket(s3_admin: S3Client) -> str:
    return create_bucket(s3_admin, versioned=True)


HARNESSES = ["file"] + [f"{server}{kind}" for server in SERVERS for kind in ("", "-versioned")]


@pytest.fixture(scope="session")
def empty_buckets() -> dict[tuple[str, bool], list[str]]:
    """Buckets emptied after a test, by server and versioning, for the next one: a new
    bucket costs SeaweedFS 0.2 s at its first write (it grows a volume for it)."""
    return {}


@pytest.fixture(params=HARNESSES)
def harness(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    empty_buckets: dict[tuple[str, bool], list[str]],
) -> Iterator[Harness]:
    if request.param == "file":
        yield file_harness(tmp_path / "blobs")
        return
    name, _, versioned = request.param.partition("-")
    server: S3Server = request.getfixturevalue(name)
    pool = empty_buckets.setdefault((name, bool(versioned)), [])
    admin = admin_client(server.endpoint)
    bucket = pool.pop() if pool else create_bucket(admin, versioned=bool(versioned))
    yield s3_harness(server, versioned=bool(versioned), bucket=bucket)
    empty_bucket(admin, bucket)  # a failure here fails the test's teardown: never reused
    pool.append(bucket)


@pytest.fixture
def closed_port_endpoint() -> str:
    """A loopback URL on which nothing listens (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A loopback URL that accepts connections (in the kernel) but never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture
def slowdown_server() -> Iterator[SlowDownServer]:
    server = SlowDownServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
