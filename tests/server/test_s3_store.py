"""The whole service on the S3 store: a real server, a real S3 server (moto) over HTTP."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.blobstore.support import s3_settings
from tests.conftest import PATIENT_INS, RunningVault
from tests.server.test_failures import iter_into
from tests.server.test_grpc import REPORT
from vault.config import Config
from vault.errors import FailedPreconditionError, IntegrityError
from vault.server.app import BackgroundServer

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

OPAQUE_KEY = re.compile(r"objects/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}")


def test_documents_round_trip_through_s3_under_opaque_keys(
    s3_vault: tuple[RunningVault, str], s3_admin: S3Client
) -> None:
    vault, bucket = s3_vault
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


def test_an_object_rotten_under_s3_ends_the_stream_with_data_loss(
    s3_vault: tuple[RunningVault, str], s3_admin: S3Client
) -> None:
    """S3 stores whatever checksum it is told (moto here): a stand-in for bit rot. The
    store does not re-hash what it reads; the object format's tags catch it."""
    vault, bucket = s3_vault
    with vault.client() as client:
        dossier = client.create_dossier(PATIENT_INS)
        stored = client.put_document(dossier.dossier_id, REPORT, os.urandom(3 * 1024 * 1024))
    (key,) = [o["Key"] for o in s3_admin.list_objects_v2(Bucket=bucket).get("Contents", [])]
    head = s3_admin.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    body = bytearray(s3_admin.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[-100] ^= 0x01  # inside the last segment; S3 keeps the checksum of the sound bytes
    s3_admin.put_object(
        Bucket=bucket,
        Key=key,
        Body=bytes(body),
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=head.get("ChecksumSHA256", ""),
    )
    received = bytearray()
    with vault.client() as client, pytest.raises(IntegrityError):
        b"".join(iter_into(client.get_document(dossier.dossier_id, stored.document_id), received))
    assert 0 < len(received) < 3 * 1024 * 1024  # authenticated segments only, then DATA_LOSS


def test_a_missing_bucket_stops_the_server_at_start(tmp_path: Path, s3_endpoint: str) -> None:
    config = Config(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        s3=s3_settings(s3_endpoint, "no-such-bucket-here"),
    )
    with pytest.raises(FailedPreconditionError):
        BackgroundServer(config).start()
