"""The whole service on the S3 store: a real server, each real S3 server (moto and
SeaweedFS, tests/s3_servers.py) over HTTP."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.blobstore.support import admin_client, s3_settings
from tests.conftest import PATIENT_INS, RunningVault, vault_on_s3
from tests.s3_servers import S3Server
from tests.server.test_failures import iter_into
from tests.server.test_grpc import REPORT
from vault.config import Config
from vault.errors import FailedPreconditionError, IntegrityError
from vault.server.app import BackgroundServer

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

OPAQUE_KEY = re.compile(r"objects/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}")


@dataclass(frozen=True)
class OnS3:
    vault: RunningVault
    bucket: str
    admin: S3Client
    server: str  # "moto" or "seaweedfs"


@pytest.fixture
def on_s3(db_url: str, tmp_path: Path, s3_server: S3Server) -> Iterator[OnS3]:
    """A real server on a fresh versioned bucket of each S3 server, and an admin client."""
    with vault_on_s3(db_url, tmp_path / "data", s3_server.endpoint) as (vault, bucket):
        yield OnS3(vault, bucket, admin_client(s3_server.endpoint), s3_server.name)


def test_documents_round_trip_through_s3_under_opaque_keys(
    on_s3: OnS3,
) -> None:
    vault, bucket, s3_admin = on_s3.vault, on_s3.bucket, on_s3.admin
    marker = b"RESULTAT-BIOLOGIE-CONFIDENTIEL"
    content = marker + os.urandom(12 * 1024 * 1024)  # several multipart parts
    with vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        stored = client.put_document(dossier.dossier_id, REPORT, content)
        assert b"".join(client.get_document(dossier.dossier_id, stored.document_id)) == content
        middle = client.get_document(
            dossier.dossier_id, stored.document_id, offset=5 * 1024 * 1024 - 3, length=1024
        )
        assert b"".join(middle) == content[5 * 1024 * 1024 - 3 : 5 * 1024 * 1024 + 1021]
    keys = [o["Key"] for o in s3_admin.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert len(keys) == 1
    assert OPAQUE_KEY.fullmatch(keys[0])
    assert str(stored.document_id) not in keys[0]
    body = s3_admin.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    assert marker not in body
    assert REPORT.title.encode() not in body


def test_an_object_rotten_under_s3_ends_the_stream_with_data_loss(on_s3: OnS3) -> None:
    """Bytes changed under the vault's back, the version it wrote replaced. moto stores
    the rotten bytes with the sound bytes' checksum (a stand-in for bit rot); SeaweedFS
    refuses a body that does not match its checksum (docs/s3-compatibility.md), so there
    the rotten bytes are stored without one. The store does not re-hash what it reads;
    the object format's tags catch it."""
    vault, bucket, s3_admin = on_s3.vault, on_s3.bucket, on_s3.admin
    with vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        stored = client.put_document(dossier.dossier_id, REPORT, os.urandom(3 * 1024 * 1024))
    (key,) = [o["Key"] for o in s3_admin.list_objects_v2(Bucket=bucket).get("Contents", [])]
    head = s3_admin.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    body = bytearray(s3_admin.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[-100] ^= 0x01  # inside the last segment; S3 keeps the checksum of the sound bytes
    sound_checksum = head.get("ChecksumSHA256", "")
    if on_s3.server == "moto":
        s3_admin.put_object(Bucket=bucket, Key=key, Body=bytes(body), ChecksumSHA256=sound_checksum)
    else:
        s3_admin.put_object(Bucket=bucket, Key=key, Body=bytes(body))
    received = bytearray()
    with vault.client() as client, pytest.raises(IntegrityError):
        b"".join(iter_into(client.get_document(dossier.dossier_id, stored.document_id), received))
    assert 0 < len(received) < 3 * 1024 * 1024  # authenticated segments only, then DATA_LOSS


def test_a_missing_bucket_stops_the_server_at_start(tmp_path: Path, s3_server: S3Server) -> None:
    config = Config(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        s3=s3_settings(s3_server.endpoint, "no-such-bucket-here"),
    )
    with pytest.raises(FailedPreconditionError):
        BackgroundServer(config).start()


def test_an_object_deleted_under_s3_is_data_loss(on_s3: OnS3) -> None:
    """A delete behind the vault's back (a delete marker in the versioned bucket)."""
    with on_s3.vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        stored = client.put_document(dossier.dossier_id, REPORT, b"short report")
    listing = on_s3.admin.list_objects_v2(Bucket=on_s3.bucket).get("Contents", [])
    (key,) = [o["Key"] for o in listing]
    on_s3.admin.delete_object(Bucket=on_s3.bucket, Key=key)
    with on_s3.vault.client() as client, pytest.raises(IntegrityError):
        b"".join(client.get_document(dossier.dossier_id, stored.document_id))
