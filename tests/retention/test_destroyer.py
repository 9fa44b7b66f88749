"""Destruction for good: nothing left in any object version, no key, a tombstone, a
certificate anchored in the journal, and a run killed at any step finished by the next
without destroying anything twice."""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

import pytest
from sqlalchemy import Table, update

from retention.destroyer import Destroyer, verify_destroyed
from tests.conftest import PATIENT_INS
from tests.domain.test_lifecycle import A_DAY
from tests.retention.conftest import RetentionVault
from tests.server.test_access import REIMBURSEMENT, REPORT
from vault.composition import build_checkpointer, key_provider, open_journal, open_retention
from vault.crypto import sealed
from vault.crypto.localkeys import (
    LocalKeyFileProvider,
    add_master_version,
    retire_master_version,
)
from vault.domain.model import ActorKind, DossierState
from vault.domain.policy import Action
from vault.errors import FailedPreconditionError
from vault.index.schema import DocumentRow
from vault.journal.certificate import open_certificate
from vault.journal.store import EntryFilter
from vault.rotation import retire_allowed, rewrap_all
from vault.sqlstore import make_engine


class CrashError(Exception):
    """Stands for a SIGKILL at one step of a run."""


def _journal_actions(retention_vault: RetentionVault, dossier: uuid.UUID) -> list[str]:
    journal = open_journal(retention_vault.config)
    entries = journal.query(EntryFilter(dossier=str(dossier)), 1000)
    return [e.event.action for e in entries if e.event.actor_ref == "retention-job"]


def _check_destroyed(retention_vault: RetentionVault, dossier: uuid.UUID) -> None:
    with open_retention(retention_vault.config) as adapters:
        destruction = adapters.index.destruction(dossier)
        assert destruction is not None
        assert verify_destroyed(adapters.index, adapters.blobs, destruction) == []
        record = adapters.index.dossier(dossier)
        assert record is not None
        assert record.state is DossierState.DESTROYED
        assert destruction.certificate is not None
    checkpointer = build_checkpointer(
        retention_vault.config,
        open_journal(retention_vault.config),
        key_provider(retention_vault.config),
    )
    certificate = open_certificate(destruction.certificate, checkpointer.verifier_key)
    assert certificate.dossier_id == dossier
    assert {o.object_key for o in certificate.objects}.isdisjoint(
        retention_vault.stored_object_keys()
    )
    assert _journal_actions(retention_vault, dossier) == [
        Action.DOSSIER_DESTROY.value,
        Action.DOSSIER_DESTROYED.value,
    ]


def test_a_due_dossier_is_destroyed_in_every_version_with_its_keys(
    retention_vault: RetentionVault,
) -> None:
    dossier = retention_vault.closed_dossier(1)
    kept = retention_vault.closed_dossier(2)  # closed, not yet due
    before = retention_vault.stored_object_keys()
    assert len(before) == 4
    retention_vault.ten_years_pass(dossier)
    with open_retention(retention_vault.config) as adapters:
        report = adapters.destroyer.run()
    assert (report.dossiers, report.objects) == (1, 2)
    assert report.object_versions >= 2
    _check_destroyed(retention_vault, dossier)
    assert len(retention_vault.stored_object_keys()) == 2
    with open_retention(retention_vault.config) as adapters:
        assert adapters.index.dossier(kept) is not None
        assert adapters.destroyer.run().dossiers == 0  # idempotent


def test_a_held_dossier_is_kept_past_its_deadline(retention_vault: RetentionVault) -> None:
    dossier = retention_vault.closed_dossier(3)
    retention_vault.ten_years_pass(dossier)
    operator = retention_vault.vault.token(kind=ActorKind.OPERATOR, subject="ops-1")
    with retention_vault.vault.client(operator) as client:
        hold = client.place_hold(dossier, "TJ Paris 26/00123")
    with open_retention(retention_vault.config) as adapters:
        assert adapters.destroyer.run().dossiers == 0
    with retention_vault.vault.client(operator) as client:
        client.release_hold(dossier, hold, "judgment final")
    with open_retention(retention_vault.config) as adapters:
        assert adapters.destroyer.run().dossiers == 1


STEPS = [
    ("_entry", 1),  # manifest recorded, before the decision entry
    ("_delete_objects", 1),  # after deleting one object of two
    ("_certificate", 1),  # objects and keys gone, before the completion entry
    ("_sign", 1),  # completion journaled, before the tombstone
]


@pytest.mark.parametrize(("step", "call"), STEPS, ids=[f"{s}-{c}" for s, c in STEPS])
def test_a_run_killed_at_any_step_is_finished_by_the_next_with_nothing_destroyed_twice(
    retention_vault: RetentionVault, monkeypatch: pytest.MonkeyPatch, step: str, call: int
) -> None:
    dossier = retention_vault.closed_dossier(4)
    retention_vault.ten_years_pass(dossier)
    original = getattr(Destroyer, step)
    calls = 0

    def crashing(self: Destroyer, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == call:
            if step == "_delete_objects":  # half of the objects go, then the crash
                destruction = args[0]
                objects = json.loads(destruction.manifest)["objects"]
                self._blobs.delete(objects[0]["object"])
            raise CrashError
        return original(self, *args)

    monkeypatch.setattr(Destroyer, step, crashing)
    with open_retention(retention_vault.config) as adapters, pytest.raises(CrashError):
        adapters.destroyer.run()
    monkeypatch.setattr(Destroyer, step, original)
    with open_retention(retention_vault.config) as adapters:
        report = adapters.destroyer.run()
        assert report.dossiers == 1
        assert adapters.destroyer.run().dossiers == 0
    _check_destroyed(retention_vault, dossier)


def test_a_database_copy_from_before_the_destruction_no_longer_opens_once_retired(
    retention_vault: RetentionVault,
) -> None:
    dossier = retention_vault.closed_dossier(5)
    retention_vault.ten_years_pass(dossier)
    config = retention_vault.config
    with open_retention(config) as adapters:
        backup = adapters.index.dossier_key(dossier, 1)  # what a backup of the index holds
        adapters.destroyer.run()
    keys = LocalKeyFileProvider(config.dev_master_key_file)
    context = sealed.dossier_key_context(dossier, 1)
    assert len(keys.unwrap(backup.wrapped, context)) == sealed.KEY_SIZE  # not yet
    add_master_version(config.dev_master_key_file)
    keys.refresh()
    with open_retention(config) as adapters:
        rewrap_all(adapters.index, keys)
        retire_allowed(adapters.index, keys, 1)
    retire_master_version(config.dev_master_key_file, 1)
    keys.refresh()
    with pytest.raises(FailedPreconditionError, match="not available"):
        keys.unwrap(backup.wrapped, context)


def test_the_reimbursement_history_keeps_only_its_last_24_months(
    retention_vault: RetentionVault,
) -> None:
    vault = retention_vault.vault
    with vault.client() as patient:
        dossier = patient.create_dossier(PATIENT_INS).dossier_id
        report = patient.put_document(dossier, REPORT, b"kept")
    with vault.client(vault.token(ActorKind.INSURER, "cnam")) as insurer:
        old = insurer.put_document(dossier, REIMBURSEMENT, b"2023")
        recent = insurer.put_document(dossier, REIMBURSEMENT, b"2026")
    engine = make_engine(retention_vault.config.index_url)
    documents = cast(Table, DocumentRow.__table__)
    with engine.begin() as conn:  # 25 months ago, for the old line and the report
        for document_id in (old.document_id, report.document_id):
            conn.execute(
                update(documents)
                .where(documents.c.id == document_id)
                .values(created_us=documents.c.created_us - 25 * 31 * A_DAY)
            )
    engine.dispose()
    objects_before = retention_vault.stored_object_keys()
    with open_retention(retention_vault.config) as adapters:
        assert adapters.destroyer.run().expired_documents == 1
        assert adapters.destroyer.run().expired_documents == 0
    with vault.client() as patient:
        left = {d.document_id for d in patient.iter_documents(dossier)}
    assert left == {report.document_id, recent.document_id}
    assert len(objects_before - retention_vault.stored_object_keys()) == 1
    assert _journal_actions(retention_vault, dossier) == [Action.DOCUMENT_EXPIRE.value]
