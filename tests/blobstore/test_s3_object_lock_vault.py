"""WORM conservation through the whole vault (ADR 0024), on both real S3 servers: a
served vault on a bucket created with Object Lock, its serving credentials apart from
the governance pair. Closure protects a dossier's objects until its deadline, reopening
releases them, legal holds become the store's own, and the destroyer can delete only
what the store lets go: early (a deletion request) with the bypass, and never merely
because the index says the deadline has passed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from retention.destroyer import verify_destroyed
from tests.blobstore.support import admin_client
from tests.blobstore.test_s3_object_lock import lock_settings
from tests.conftest import RunningVault
from tests.retention.conftest import RetentionVault
from tests.s3_servers import S3Server
from tests.server.test_access import ins
from vault.auth import load_or_create_dev_issuer
from vault.composition import build_checkpointer, key_provider, open_journal, open_retention
from vault.config import Config
from vault.domain.model import ActorKind
from vault.errors import FailedPreconditionError
from vault.journal.certificate import open_certificate
from vault.server.app import BackgroundServer


@pytest.fixture
def locked_vault(s3_server: S3Server, tmp_path: Path) -> Iterator[RetentionVault]:
    admin = admin_client(s3_server.endpoint)
    bucket = f"vault-lock-{secrets.token_hex(8)}"
    admin.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    config = Config(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        workers=4,
        s3=lock_settings(s3_server, bucket),
    )
    issuer = load_or_create_dev_issuer(config.data_dir)
    server = BackgroundServer(config).start()
    try:
        yield RetentionVault(RunningVault(server, issuer), config, bucket, admin)
    finally:
        server.stop()


def _locks(vault: RetentionVault) -> list[tuple[str, datetime, str]]:
    """(mode, retain-until, legal hold) of every object version in the bucket."""
    found: list[tuple[str, datetime, str]] = []
    for page in vault.admin.get_paginator("list_object_versions").paginate(Bucket=vault.bucket):
        for version in page.get("Versions", []):
            head = vault.admin.head_object(
                Bucket=vault.bucket, Key=version["Key"], VersionId=version["VersionId"]
            )
            found.append(
                (
                    head.get("ObjectLockMode", ""),
                    head.get("ObjectLockRetainUntilDate", datetime.min.replace(tzinfo=UTC)),
                    _legal_hold(vault, version["Key"], version["VersionId"]),
                )
            )
    return found


def _legal_hold(vault: RetentionVault, key: str, version: str) -> str:
    """ON or OFF (SeaweedFS answers NoSuchObjectLegalHold for a version never held)."""
    try:
        answer = vault.admin.get_object_legal_hold(Bucket=vault.bucket, Key=key, VersionId=version)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") == "NoSuchObjectLegalHold":
            return "OFF"
        raise
    return answer.get("LegalHold", {}).get("Status", "OFF")


def _delete_every_object_as_the_server(vault: RetentionVault) -> None:
    with open_retention(vault.config) as adapters:
        for key in {k for k in vault.stored_object_keys() if len(k) == 32}:
            adapters.blobs.delete(key)


def test_closing_protects_every_object_until_the_deadline_and_reopening_releases(
    locked_vault: RetentionVault,
) -> None:
    dossier = locked_vault.closed_dossier(41)
    locks = _locks(locked_vault)
    nine_years = datetime.now(UTC) + timedelta(days=9 * 365)
    assert len(locks) == 2
    assert all(mode == "GOVERNANCE" and until > nine_years for mode, until, _ in locks)
    with pytest.raises(FailedPreconditionError):
        _delete_every_object_as_the_server(locked_vault)
    assert len(locked_vault.stored_object_keys()) == 2
    patient = locked_vault.vault.token(subject=_holder(41))
    with locked_vault.vault.client(patient) as client:
        client.reopen_dossier(dossier)
    soon = datetime.now(UTC) + timedelta(minutes=1)
    assert all(until < soon for _, until, _ in _locks(locked_vault))


def test_a_legal_hold_is_placed_on_the_stores_objects_and_released_with_it(
    locked_vault: RetentionVault,
) -> None:
    dossier = locked_vault.closed_dossier(42)
    operator = locked_vault.vault.token(kind=ActorKind.OPERATOR, subject="ops-1")
    with locked_vault.vault.client(operator) as client:
        hold = client.place_hold(dossier, "TJ Paris 26/00124")
        assert {status for _, _, status in _locks(locked_vault)} == {"ON"}
        client.release_hold(dossier, hold, "judgment final")
    assert {status for _, _, status in _locks(locked_vault)} == {"OFF"}


def test_the_destroyer_cannot_delete_before_the_stores_deadline_whatever_the_index_says(
    locked_vault: RetentionVault,
) -> None:
    dossier = locked_vault.closed_dossier(43)
    locked_vault.ten_years_pass(dossier)  # the index is wrong (or was tampered with)
    with open_retention(locked_vault.config) as adapters, pytest.raises(FailedPreconditionError):
        adapters.destroyer.run()
    assert len(locked_vault.stored_object_keys()) == 2


def test_a_deletion_request_is_destroyed_early_with_the_bypass_and_the_store_confirms(
    locked_vault: RetentionVault,
) -> None:
    dossier = locked_vault.closed_dossier(44)
    patient = locked_vault.vault.token(subject=_holder(44))
    with locked_vault.vault.client(patient) as client:
        client.request_deletion(dossier)
    with open_retention(locked_vault.config) as adapters:
        assert adapters.destroyer.run().dossiers == 1
        destruction = adapters.index.destruction(dossier)
        assert destruction is not None
        assert destruction.certificate is not None
        assert verify_destroyed(adapters.index, adapters.blobs, destruction) == []
    checkpointer = build_checkpointer(
        locked_vault.config, open_journal(locked_vault.config), key_provider(locked_vault.config)
    )
    certificate = open_certificate(destruction.certificate, checkpointer.verifier_key)
    assert certificate.store_confirmed == "object-lock"
    assert locked_vault.stored_object_keys() == set()


def _holder(number: int) -> str:
    """The INS `RetentionVault.closed_dossier(number)` gave its patient."""
    return ins(f"1{number:02d}0175{number:06d}"[:13])
