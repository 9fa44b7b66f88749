"""Retention fixtures: a vault on a versioned S3 bucket (moto over HTTP) and SQLite or
PostgreSQL, dossiers with documents, and ten years made to pass for a dossier."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import pytest
from sqlalchemy import Table, update

from tests.conftest import RunningVault
from tests.domain.test_lifecycle import A_DAY
from tests.server.test_access import ins
from tests.server.test_grpc import REPORT
from vault.config import Config
from vault.index.schema import DossierRow
from vault.sqlstore import make_engine

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client


@dataclass
class RetentionVault:
    vault: RunningVault
    config: Config
    bucket: str
    admin: S3Client

    def closed_dossier(self, number: int, documents: int = 2) -> uuid.UUID:
        """A dossier of a made-up patient, with documents, closed by the patient."""
        patient = ins(f"1{number:02d}0175{number:06d}"[:13])
        with self.vault.client(self.vault.token(subject=patient)) as client:
            dossier = client.create_dossier(patient).dossier_id
            for n in range(documents):
                client.put_document(dossier, REPORT, b"%d" % n * 1000)
            client.close_dossier(dossier)
        return dossier

    def ten_years_pass(self, dossier_id: uuid.UUID) -> None:
        """As if its conservation deadline were yesterday."""
        engine = make_engine(self.config.index_url)
        dossiers = cast(Table, DossierRow.__table__)
        with engine.begin() as conn:
            conn.execute(
                update(dossiers)
                .where(dossiers.c.id == dossier_id)
                .values(destroy_after_us=dossiers.c.closed_us - A_DAY)
            )
        engine.dispose()

    def stored_object_keys(self) -> set[str]:
        """Every key in the bucket, any version, delete markers included: the store's
        own listing."""
        keys: set[str] = set()
        paginator = self.admin.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket):
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                keys.add(item["Key"].rsplit("/", 1)[-1])
        return keys


@pytest.fixture
def retention_vault(s3_vault: tuple[RunningVault, str], s3_admin: S3Client) -> RetentionVault:
    vault, bucket = s3_vault
    return RetentionVault(vault, vault.config, bucket, s3_admin)
