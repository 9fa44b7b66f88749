"""The notices the holder asks for (issue 15, item 9) through the real server, on SQLite
and PostgreSQL: a new document deposited, once opted in (not the holder's own, not one
held back, not a new version), kept from representatives when it is a minor's secret
care; a representative's rights ended."""

from __future__ import annotations

import pytest

from tests.conftest import PATIENT_INS, RunningVault
from tests.server.test_access import CARDIOLOGIST, REPORT, Dmp, ins
from vault.domain.model import ActorKind, NotificationKind, Replacement, Visibility

PARENT_INS = ins("1750675123457")


@pytest.fixture(name="dmp")
def a_dmp(running_vault: RunningVault) -> Dmp:
    with running_vault.client() as patient:
        dossier = patient.create_dossier(PATIENT_INS)
    return Dmp(running_vault, str(dossier.dossier_id), "")


def _kinds(dmp: Dmp, token: str | None = None) -> list[tuple[NotificationKind, str]]:
    with dmp.vault.client(token) as reader:
        return [(n.kind, n.subject) for n in reader.notifications(dmp.dossier_id)]


def test_a_holder_who_opted_in_is_told_of_each_new_document_someone_else_deposits(
    dmp: Dmp,
) -> None:
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, CARDIOLOGIST)
        patient.add_representative(dmp.dossier_id, PARENT_INS)
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        before = cardiologist.put_document(dmp.dossier_id, REPORT, b"before")  # not opted in
    with dmp.as_patient() as patient:
        patient.set_notification_preferences(dmp.dossier_id, new_documents=True)
        patient.put_document(dmp.dossier_id, REPORT, b"mine")  # their own: no notice
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        new = cardiologist.put_document(dmp.dossier_id, REPORT, b"new")
        cardiologist.put_document(
            dmp.dossier_id, REPORT, b"held", visibility=Visibility.HIDDEN_FROM_PATIENT
        )
        secret = cardiologist.put_document(
            dmp.dossier_id, REPORT, b"s", visibility=Visibility.HIDDEN_FROM_REPRESENTATIVES
        )
        cardiologist.put_document(
            dmp.dossier_id, REPORT, b"v2", replaces=Replacement(str(new.document_id), 1)
        )
    deposited = [s for k, s in _kinds(dmp) if k is NotificationKind.DOCUMENT_DEPOSITED]
    assert deposited == [str(new.document_id), str(secret.document_id)]
    assert str(before.document_id) not in deposited
    parent = dmp.vault.token(ActorKind.LEGAL_REPRESENTATIVE, PARENT_INS)
    seen_by_parent = [s for k, s in _kinds(dmp, parent) if k is NotificationKind.DOCUMENT_DEPOSITED]
    assert seen_by_parent == [str(new.document_id)]  # the minor's secret stays theirs
    with dmp.as_patient() as patient:
        patient.set_notification_preferences(dmp.dossier_id, new_documents=False)
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        cardiologist.put_document(dmp.dossier_id, REPORT, b"after")
    assert len([k for k, _ in _kinds(dmp) if k is NotificationKind.DOCUMENT_DEPOSITED]) == 2


def test_the_holder_is_told_when_a_representatives_rights_end(dmp: Dmp) -> None:
    with dmp.as_patient() as patient:
        added = patient.add_representative(dmp.dossier_id, PARENT_INS)
        patient.remove_representative(dmp.dossier_id, PARENT_INS)
    assert (NotificationKind.REPRESENTATIVE_ENDED, added.subject) in _kinds(dmp)
