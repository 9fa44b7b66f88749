"""Blob-store fixtures: the stores under test, over the real S3 server on loopback.

`s3_endpoint` (tests/conftest.py) is moto in server mode: the S3 store talks HTTP to it
with dummy credentials, exactly as it would to MinIO. Every test gets fresh buckets with
unique names. `harness` runs a test over
the three stores: a local directory, an S3 bucket, and a versioned S3 bucket. Also here:
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
    create_bucket,
    file_harness,
    s3_harness,
)

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client


@pytest.fixture
def bucket(s3_admin: S3Client) -> str:
    return create_bucket(s3_admin)


@pytest.fixture
def versioned_bucket(s3_admin: S3Client) -> str:
    return create_bucket(s3_admin, versioned=True)


@pytest.fixture(params=["file", "s3", "s3-versioned"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    if request.param == "file":
        return file_harness(tmp_path / "blobs")
    endpoint: str = request.getfixturevalue("s3_endpoint")
    admin: S3Client = request.getfixturevalue("s3_admin")
    return s3_harness(endpoint, admin, versioned=request.param == "s3-versioned")


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
