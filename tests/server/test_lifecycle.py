"""The dossier lifecycle over gRPC: closure, reopening, deletion requests, legal holds and
the patient's copy, with the tokens of who may ask for each."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest

from tests.conftest import PATIENT_INS, RunningVault
from tests.server.test_access import CARDIOLOGIST, REPORT, SCAN, TREATING
from vault import archive
from vault.domain.model import (
    ActorKind,
    ClosureReason,
    DossierState,
    Visibility,
)
from vault.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)


@pytest.fixture
def dossier(running_vault: RunningVault) -> str:
    with running_vault.client() as patient:
        dossier_id = str(patient.create_dossier(PATIENT_INS).dossier_id)
        patient.put_document(dossier_id, REPORT, b"report")
    return dossier_id


def test_a_closed_dossier_is_closed_to_everyone_until_the_patient_reopens_it(
    running_vault: RunningVault, dossier: str
) -> None:
    with running_vault.client() as patient:
        patient.authorise(dossier, CARDIOLOGIST)
        closed = patient.close_dossier(dossier)
        assert closed.state is DossierState.CLOSED
        assert closed.closure_reason is ClosureReason.PATIENT_REQUEST
        assert closed.closed_at is not None
        assert closed.destroy_after is not None
        assert closed.destroy_after - closed.closed_at >= timedelta(days=3652)
        assert patient.get_dossier(dossier_id=dossier).state is DossierState.CLOSED
        with pytest.raises(PermissionDeniedError, match="dossier-not-active"):
            patient.list_documents(dossier)
        with pytest.raises(PermissionDeniedError, match="dossier-not-active"):
            patient.put_document(dossier, REPORT, b"late")
    professional = running_vault.token(ActorKind.PROFESSIONAL, CARDIOLOGIST, profession="physician")
    with running_vault.client(professional) as cardiologist:
        with pytest.raises(PermissionDeniedError, match="dossier-not-active"):
            cardiologist.list_documents(dossier)
        with pytest.raises(PermissionDeniedError):
            cardiologist.reopen_dossier(dossier)
    with running_vault.client() as patient:
        reopened = patient.reopen_dossier(dossier)
        assert (reopened.state, reopened.closed_at, reopened.destroy_after) == (
            DossierState.ACTIVE,
            None,
            None,
        )
        assert [d.metadata.title for d in patient.iter_documents(dossier)] == ["Compte rendu"]
        with pytest.raises(PermissionDeniedError, match="dossier-not-active"):
            patient.reopen_dossier(dossier)


def test_the_insurer_declares_a_death_and_the_patient_cannot(
    running_vault: RunningVault, dossier: str
) -> None:
    with running_vault.client() as patient, pytest.raises(PermissionDeniedError):
        patient.close_dossier(dossier, ClosureReason.DEATH)
    with running_vault.client(running_vault.token(ActorKind.INSURER, "cnam")) as insurer:
        with pytest.raises(PermissionDeniedError):
            insurer.close_dossier(dossier, ClosureReason.PATIENT_REQUEST)
        closed = insurer.close_dossier(dossier, ClosureReason.DEATH)
    assert closed.closure_reason is ClosureReason.DEATH


def test_a_deletion_request_closes_at_once_and_cannot_be_undone(
    running_vault: RunningVault, dossier: str
) -> None:
    with running_vault.client() as patient:
        with pytest.raises(InvalidArgumentError):
            patient.close_dossier(dossier, ClosureReason.DELETION_REQUEST)
        asked = patient.request_deletion(dossier)
        assert asked.state is DossierState.CLOSED
        assert asked.closure_reason is ClosureReason.DELETION_REQUEST
        assert asked.destroy_after == asked.closed_at
        with pytest.raises(FailedPreconditionError, match="deletion"):
            patient.reopen_dossier(dossier)


def test_operators_hold_and_release_with_a_reason_and_nobody_else_can(
    running_vault: RunningVault, dossier: str
) -> None:
    with running_vault.client(running_vault.token(ActorKind.OPERATOR, "ops-1")) as operator:
        hold = operator.place_hold(dossier, "TJ Paris 26/00123")
        with pytest.raises(InvalidArgumentError, match="reason"):
            operator.place_hold(dossier, " ")
        with pytest.raises(NotFoundError):
            operator.release_hold(dossier, hold + 1, "done")
        with pytest.raises(PermissionDeniedError, match="actor-never-allowed"):
            operator.list_documents(dossier)
        operator.release_hold(dossier, hold, "case closed")
        with pytest.raises(NotFoundError):
            operator.release_hold(dossier, hold, "twice")
    with running_vault.client() as patient, pytest.raises(PermissionDeniedError):
        patient.place_hold(dossier, "mine")


def test_operators_and_auditors_list_the_holds_that_release_needs_and_nobody_else_can(
    running_vault: RunningVault, dossier: str
) -> None:
    with running_vault.client(running_vault.token(ActorKind.OPERATOR, "ops-1")) as operator:
        assert operator.list_holds(dossier) == []
        first = operator.place_hold(dossier, "TJ Paris 26/00123")
        second = operator.place_hold(dossier, "TJ Lyon 26/00456")
        operator.release_hold(dossier, first, "case closed")
        listed = operator.list_holds(dossier)
    assert [h.hold_id for h in listed] == [first, second]  # oldest first
    released, in_force = listed
    assert (released.reason, released.release_reason) == ("TJ Paris 26/00123", "case closed")
    assert released.released_us is not None
    assert released.released_us >= released.placed_us
    assert (in_force.reason, in_force.released_us, in_force.release_reason) == (
        "TJ Lyon 26/00456",
        None,
        None,
    )
    assert {h.placed_by for h in listed} == {""}  # who placed it is the journal's
    auditor_token = running_vault.token(ActorKind.AUDITOR, "cnil-1")
    with running_vault.client(auditor_token) as auditor:
        assert auditor.list_holds(dossier) == listed
        with pytest.raises(NotFoundError):
            auditor.list_holds("00000000-0000-4000-8000-000000000000")
    with running_vault.client() as patient, pytest.raises(PermissionDeniedError):
        patient.list_holds(dossier)
    with running_vault.client(auditor_token) as auditor:
        history, _ = auditor.query_journal(dossier_id=dossier, page_size=1000)
    decided = [(e.decision, e.reason) for _, e in history if e.action == "dossier.hold-list"]
    assert sorted(decided) == sorted(
        [("allow", "operator")] * 2 + [("allow", "auditor"), ("deny", "action-not-permitted")]
    )


def test_the_patients_copy_holds_what_the_patient_may_see_and_its_history(
    running_vault: RunningVault, dossier: str
) -> None:
    with running_vault.client() as patient:
        patient.authorise(dossier, CARDIOLOGIST)
        scan = patient.put_document(dossier, SCAN, b"scan" * 1000)
    professional = running_vault.token(ActorKind.PROFESSIONAL, CARDIOLOGIST, profession="physician")
    with running_vault.client(professional) as cardiologist:
        held_back = cardiologist.put_document(
            dossier, REPORT, b"d", visibility=Visibility.HIDDEN_FROM_PATIENT
        )
        with pytest.raises(PermissionDeniedError):
            cardiologist.export_dossier(dossier, io.BytesIO())
    with running_vault.client() as patient:
        visible = {str(d.document_id) for d in patient.iter_documents(dossier)}
        copy = io.BytesIO()
        patient.export_dossier(dossier, copy)
        history, _ = patient.query_journal(dossier_id=dossier, page_size=1000)
    with zipfile.ZipFile(copy) as zipped:
        assert zipped.testzip() is None
        metadata = json.loads(zipped.read(archive.METADATA))
        exported = {d["document_id"] for d in metadata["documents"]}
        assert exported == visible
        assert str(scan.document_id) in exported
        assert str(held_back.document_id) not in exported
        contents = [zipped.read(n) for n in zipped.namelist() if "/DOC" in n]
        assert sorted(contents) == sorted([b"report", b"scan" * 1000])
        logged = zipped.read(archive.HISTORY).decode()
        assert str(held_back.document_id) not in logged
    exports = [e for _, e in history if e.action == "dossier.export" and e.decision == "allow"]
    assert [e.documents for e in exports] == [()]  # a count and digest instead (ADR 0045)
    assert TREATING not in logged
