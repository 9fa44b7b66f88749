"""ListDocuments' total over gRPC against a real server (SQLite and PostgreSQL): the
count a caller may see is exactly what it can page through, and never counts what the
consent-safe rules hide from it (masked, hidden from representatives, held back)."""

from __future__ import annotations

from tests.conftest import PATIENT_INS, RunningVault
from tests.server.test_access import CARDIOLOGIST, MINOR, NURSE, PARENT, REPORT, TREATING
from vault.client import VaultClient
from vault.domain.model import (
    ActorKind,
    DocumentCategory,
    DocumentMetadata,
    DocumentQuery,
    DocumentStatus,
    Replacement,
    Visibility,
)

NOTE = DocumentMetadata("Note", DocumentCategory.TREATMENTS_AND_CARE, "text/plain")


def paged(
    client: VaultClient, dossier: str, query: DocumentQuery | None = None
) -> tuple[int, set[int | None]]:
    """How many documents paging by twos yields, and the totals the pages announced."""
    seen, totals, token = 0, set(), ""
    while True:
        page = client.list_documents(dossier, query, page_size=2, page_token=token)
        seen += len(page.documents)
        totals.add(page.total)
        if not (token := page.next_page_token):
            return seen, totals


def test_the_patients_total_is_what_the_patient_pages_through_not_held_back_ones(
    running_vault: RunningVault,
) -> None:
    with running_vault.client() as patient:
        dossier = str(patient.create_dossier(PATIENT_INS).dossier_id)
        patient.authorise(dossier, CARDIOLOGIST)
        first = patient.put_document(dossier, REPORT, b"v1")
        patient.put_document(
            dossier, REPORT, b"v2", replaces=Replacement(str(first.document_id), 1)
        )
        for n in range(3):
            patient.put_document(dossier, NOTE, b"note %d" % n)
    cardiologist_token = running_vault.token(
        ActorKind.PROFESSIONAL, CARDIOLOGIST, profession="physician", specialty="cardiology"
    )
    with running_vault.client(cardiologist_token) as cardiologist:
        cardiologist.put_document(dossier, REPORT, b"d", visibility=Visibility.HIDDEN_FROM_PATIENT)
        assert paged(cardiologist, dossier) == (5, {5})  # the author sees what it held back
    every_version = DocumentQuery(statuses=frozenset(DocumentStatus))
    reports = DocumentQuery(categories=frozenset({DocumentCategory.REPORTS}))
    with running_vault.client() as patient:
        assert paged(patient, dossier) == (4, {4})
        assert paged(patient, dossier, every_version) == (5, {5})
        assert paged(patient, dossier, reports) == (1, {1})


def test_a_representatives_total_leaves_out_what_is_hidden_from_representatives(
    running_vault: RunningVault,
) -> None:
    with running_vault.client(running_vault.token(subject=MINOR)) as minor:
        dossier = str(minor.create_dossier(MINOR).dossier_id)
        minor.add_representative(dossier, PARENT)
        minor.authorise(dossier, NURSE)
        for n in range(3):
            minor.put_document(dossier, NOTE, b"note %d" % n)
    nurse_token = running_vault.token(ActorKind.PROFESSIONAL, NURSE, profession="nurse")
    with running_vault.client(nurse_token) as nurse:
        nurse.put_document(dossier, NOTE, b"c", visibility=Visibility.HIDDEN_FROM_REPRESENTATIVES)
    parent_token = running_vault.token(ActorKind.LEGAL_REPRESENTATIVE, PARENT)
    with running_vault.client(parent_token) as parent:
        assert paged(parent, dossier) == (3, {3})
    with running_vault.client(running_vault.token(subject=MINOR)) as minor:
        assert paged(minor, dossier) == (4, {4})


def test_a_professionals_total_leaves_out_a_masked_document(
    running_vault: RunningVault,
) -> None:
    with running_vault.client() as patient:
        dossier = str(patient.create_dossier(PATIENT_INS).dossier_id)
        patient.authorise(dossier, CARDIOLOGIST)
        documents = [patient.put_document(dossier, REPORT, b"%d" % n) for n in range(4)]
        patient.set_visibility(
            dossier, documents[1].document_id, Visibility.MASKED_FROM_PROFESSIONALS
        )
    with running_vault.client(running_vault.token(ActorKind.INSURER, "cnam")) as insurer:
        insurer.set_treating_physician(dossier, TREATING)
    cardiologist_token = running_vault.token(
        ActorKind.PROFESSIONAL, CARDIOLOGIST, profession="physician", specialty="cardiology"
    )
    with running_vault.client(cardiologist_token) as cardiologist:
        assert paged(cardiologist, dossier) == (3, {3})
        one = DocumentQuery(document_id=documents[1].document_id)
        assert paged(cardiologist, dossier, one) == (0, {0})
    treating_token = running_vault.token(
        ActorKind.PROFESSIONAL, TREATING, profession="physician", specialty="general_medicine"
    )
    with running_vault.client(treating_token) as treating:
        assert paged(treating, dossier) == (4, {4})
