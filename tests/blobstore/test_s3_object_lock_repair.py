"""The retention run's repair pass on SeaweedFS with Object Lock (retention/protector.py,
ADR 0024): what the store failed to protect when the index changed, and documents
written into a held dossier after its hold, are protected from the index."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import cast

import pytest
from sqlalchemy import Table, update

from tests.blobstore.test_s3_object_lock_vault import (
    _delete_every_object_as_the_server,
    _holder,
    _locks,
    locked_vault,  # noqa: F401 (a fixture)
)
from tests.domain.test_lifecycle import A_DAY
from tests.retention.conftest import RetentionVault
from tests.retention.test_cli import environment, retention
from tests.s3_servers import S3Server
from tests.server.test_grpc import REPORT
from vault.blobstore.base import ObjectProtectedError
from vault.blobstore.s3.retention import S3Retainer
from vault.composition import open_retention
from vault.domain.model import ActorKind
from vault.errors import UnavailableError
from vault.index.schema import DossierRow
from vault.sqlstore import make_engine


@pytest.fixture
def s3_server(seaweedfs: S3Server) -> S3Server:
    """SeaweedFS only: the server whose identities are checked."""
    return seaweedfs


def _failing_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """`S3Retainer.protect` fails once as an outage would (the index change is done)."""
    calls: list[int] = []
    real: Callable[[S3Retainer, Sequence[str], datetime], None] = S3Retainer.protect

    def protect(self: S3Retainer, keys: Sequence[str], until: datetime) -> None:
        calls.append(len(keys))
        if len(calls) == 1:
            raise UnavailableError("S3 unavailable for PutObjectRetention (test)")
        real(self, keys, until)

    monkeypatch.setattr(S3Retainer, "protect", protect)
    return calls


def _dossier(vault: RetentionVault, number: int, documents: int) -> uuid.UUID:
    patient = vault.vault.token(subject=_holder(number))
    with vault.vault.client(patient) as client:
        dossier = client.create_dossier(_holder(number)).dossier_id
        for n in range(documents):
            client.put_document(dossier, REPORT, b"%d" % n * 1000)
    return dossier


def test_a_closure_the_store_failed_to_protect_is_protected_by_the_run(
    locked_vault: RetentionVault,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _failing_once(monkeypatch)
    dossier = _dossier(locked_vault, 51, documents=2)
    with locked_vault.vault.client(locked_vault.vault.token(subject=_holder(51))) as client:
        with pytest.raises(UnavailableError):
            client.close_dossier(dossier)
        assert client.get_dossier(dossier_id=dossier).state.value == "closed"
    assert {mode for mode, _, _ in _locks(locked_vault)} == {""}  # closed, unprotected
    with open_retention(locked_vault.config) as adapters:
        report = adapters.destroyer.run()
        assert (report.protection.retained, report.protection.held) == (1, 0)
        assert adapters.destroyer.protect().retained == 1  # idempotent: again, no error
    assert {mode for mode, _, _ in _locks(locked_vault)} == {"GOVERNANCE"}
    with pytest.raises(ObjectProtectedError):
        _delete_every_object_as_the_server(locked_vault)
    assert len(calls) == 3


def test_a_document_written_into_a_held_dossier_is_held_by_the_run(
    locked_vault: RetentionVault,  # noqa: F811
) -> None:
    dossier = _dossier(locked_vault, 52, documents=1)
    operator = locked_vault.vault.token(kind=ActorKind.OPERATOR, subject="ops-1")
    with locked_vault.vault.client(operator) as client:
        client.place_hold(dossier, "TJ Paris 26/00125")
    with locked_vault.vault.client(locked_vault.vault.token(subject=_holder(52))) as client:
        client.put_document(dossier, REPORT, b"after the hold")
    assert sorted(status for _, _, status in _locks(locked_vault)) == ["OFF", "ON"]
    with open_retention(locked_vault.config) as adapters:
        report = adapters.destroyer.protect()
    assert (report.retained, report.held) == (0, 1)
    assert {status for _, _, status in _locks(locked_vault)} == {"ON"}


def test_a_dossier_the_store_refuses_to_protect_is_counted_and_the_pass_goes_on(
    locked_vault: RetentionVault,  # noqa: F811
) -> None:
    """An index whose deadline went back a day (tampered, or the rules shortened) asks
    the store to shorten a GOVERNANCE retention without the bypass: SeaweedFS refuses."""
    shortened = locked_vault.closed_dossier(53, 1)
    locked_vault.closed_dossier(54, 1)  # protected as before
    engine = make_engine(locked_vault.config.index_url)
    dossiers = cast(Table, DossierRow.__table__)
    with engine.begin() as conn:
        conn.execute(
            update(dossiers)
            .where(dossiers.c.id == shortened)
            .values(destroy_after_us=dossiers.c.destroy_after_us - A_DAY)
        )
    engine.dispose()
    with open_retention(locked_vault.config) as adapters:
        report = adapters.destroyer.protect()
    assert (report.retained, report.refused) == (1, 1)


def test_protect_from_the_cli_reports_what_it_protected(
    locked_vault: RetentionVault,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _failing_once(monkeypatch)
    dossier = _dossier(locked_vault, 55, documents=1)
    patient = locked_vault.vault.token(subject=_holder(55))
    with locked_vault.vault.client(patient) as client, pytest.raises(UnavailableError):
        client.close_dossier(dossier)
    s3 = locked_vault.config.s3
    assert s3 is not None
    env = {
        **environment(locked_vault),
        "VAULT_S3_GOVERNANCE_ACCESS_KEY_ID": s3.governance_access_key_id or "",
        "VAULT_S3_GOVERNANCE_SECRET_ACCESS_KEY": s3.governance_secret_access_key or "",
    }
    done = retention(env, "protect", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"retained": 1, "held": 0, "refused": 0}
    assert {mode for mode, _, _ in _locks(locked_vault)} == {"GOVERNANCE"}
