"""The professional side's edges through the real server (issue 16), on SQLite and
PostgreSQL: an author reads back what they wrote when the patient masks it, alone and in
their listings, pages and counts (and a colleague does not); designating
a blocked professional treating physician lifts the block, tells the holder and says so
in the journal, and a later change leaves the former one nothing; break-the-glass checks
the profession in the token."""

from __future__ import annotations

import pytest

from tests.conftest import PATIENT_INS, RunningVault
from tests.server.test_access import REPORT, Dmp, rpps
from vault.client import VaultClient
from vault.domain.model import (
    ActorKind,
    DocumentCategory,
    EmergencyReason,
    NotificationKind,
    Relation,
    Visibility,
)
from vault.errors import NotFoundError, PermissionDeniedError

AUTHOR = rpps("2000000001")
COLLEAGUE = rpps("2000000002")
FIRST_TREATING = rpps("2000000003")
NEXT_TREATING = rpps("2000000004")
PHARMACIST = rpps("2000000005")
OTHER_PHARMACIST = rpps("2000000006")


@pytest.fixture
def dossier(running_vault: RunningVault) -> Dmp:
    with running_vault.client() as patient:
        created = patient.create_dossier(PATIENT_INS)
    return Dmp(running_vault, str(created.dossier_id), "")


def _insurer(dmp: Dmp) -> VaultClient:
    return dmp.as_kind(ActorKind.INSURER, "cnam")


def _relations(dmp: Dmp) -> set[tuple[str, Relation]]:
    with dmp.as_patient() as patient:
        return {(e.subject, e.relation) for e in patient.list_access(dmp.dossier_id).entries}


def test_the_author_reads_back_a_report_the_patient_masked_and_a_colleague_does_not(
    dossier: Dmp,
) -> None:
    dmp = dossier
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, AUTHOR)
        patient.authorise(dmp.dossier_id, COLLEAGUE)
    with dmp.as_professional(AUTHOR) as author:
        written = author.put_document(dmp.dossier_id, REPORT, b"my report")
    with dmp.as_patient() as patient:
        patient.set_visibility(
            dmp.dossier_id, written.document_id, Visibility.MASKED_FROM_PROFESSIONALS
        )
    with dmp.as_professional(AUTHOR) as author:
        assert b"".join(author.get_document(dmp.dossier_id, written.document_id)) == b"my report"
    with dmp.as_professional(COLLEAGUE) as colleague, pytest.raises(NotFoundError):
        colleague.get_document(dmp.dossier_id, written.document_id)
    reads = [(h[0], h[2]) for h in dmp.history() if h[1] == "document.read"]
    assert reads == [(AUTHOR, "authorised"), (COLLEAGUE, "document-hidden")]


def _everything_listed(dmp: Dmp, client: VaultClient) -> tuple[set[str], set[int | None]]:
    """Every document `client` lists, one a page, and the totals the pages announced."""
    token, listed, totals = "", set[str](), set[int | None]()
    while True:
        page = client.list_documents(dmp.dossier_id, page_size=1, page_token=token)
        listed |= {str(d.document_id) for d in page.documents}
        totals.add(page.total)
        if not (token := page.next_page_token):
            return listed, totals


def test_an_author_lists_and_counts_the_report_the_patient_masked_and_a_colleague_does_not(
    dossier: Dmp,
) -> None:
    dmp = dossier
    masked = Visibility.MASKED_FROM_PROFESSIONALS
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, AUTHOR)
        patient.authorise(dmp.dossier_id, COLLEAGUE)
        open_report = str(patient.put_document(dmp.dossier_id, REPORT, b"open").document_id)
        patients_masked = patient.put_document(dmp.dossier_id, REPORT, b"mine").document_id
        patient.set_visibility(dmp.dossier_id, patients_masked, masked)
    with dmp.as_professional(AUTHOR) as author:
        written = str(author.put_document(dmp.dossier_id, REPORT, b"my report").document_id)
    with dmp.as_patient() as patient:
        patient.set_visibility(dmp.dossier_id, written, masked)
    with dmp.as_professional(AUTHOR) as author:
        assert _everything_listed(dmp, author) == ({open_report, written}, {2})
        assert author.count_documents(dmp.dossier_id) == {DocumentCategory.REPORTS: 2}
    with dmp.as_professional(COLLEAGUE) as colleague:
        assert _everything_listed(dmp, colleague) == ({open_report}, {1})
        assert colleague.count_documents(dmp.dossier_id) == {DocumentCategory.REPORTS: 1}
    listings = [(h[0], h[4]) for h in dmp.history() if h[1] == "document.list" and h[4]]
    assert (AUTHOR, (written,)) in listings  # the journal names what the author listed
    assert all(written not in documents for who, documents in listings if who == COLLEAGUE)


def test_a_pharmacist_lists_the_report_they_wrote_outside_their_row_and_no_other(
    dossier: Dmp,
) -> None:
    dmp = dossier
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, PHARMACIST)
        patient.authorise(dmp.dossier_id, OTHER_PHARMACIST)
        patient.put_document(dmp.dossier_id, REPORT, b"the patient's report")
    with dmp.as_professional(PHARMACIST, "pharmacist", "officine") as pharmacist:
        written = str(pharmacist.put_document(dmp.dossier_id, REPORT, b"review").document_id)
        assert _everything_listed(dmp, pharmacist) == ({written}, {1})
        assert pharmacist.count_documents(dmp.dossier_id) == {DocumentCategory.REPORTS: 1}
    with dmp.as_professional(OTHER_PHARMACIST, "pharmacist", "officine") as other:
        assert _everything_listed(dmp, other) == (set(), {0})
        assert other.count_documents(dmp.dossier_id) == {}


def test_a_pharmacist_reads_back_a_report_they_wrote_though_the_matrix_gives_them_none(
    dossier: Dmp,
) -> None:
    dmp = dossier
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, PHARMACIST)
        patient.authorise(dmp.dossier_id, OTHER_PHARMACIST)
    with dmp.as_professional(PHARMACIST, "pharmacist", "officine") as pharmacist:
        written = pharmacist.put_document(dmp.dossier_id, REPORT, b"medication review")
        read = b"".join(pharmacist.get_document(dmp.dossier_id, written.document_id))
        assert read == b"medication review"  # pharmacists write reports, read none
    with (
        dmp.as_professional(OTHER_PHARMACIST, "pharmacist", "officine") as other,
        pytest.raises(NotFoundError),
    ):
        other.get_document(dmp.dossier_id, written.document_id)


def test_designating_a_blocked_professional_treating_physician_lifts_the_block_and_says_so(
    dossier: Dmp,
) -> None:
    dmp = dossier
    with dmp.as_patient() as patient:
        patient.put_document(dmp.dossier_id, REPORT, b"report")
        patient.block(dmp.dossier_id, FIRST_TREATING)
    with (
        dmp.as_professional(FIRST_TREATING) as blocked,
        pytest.raises(PermissionDeniedError, match="blocked"),
    ):
        blocked.list_documents(dmp.dossier_id)
    with _insurer(dmp) as insurer:
        insurer.set_treating_physician(dmp.dossier_id, FIRST_TREATING)
    assert _relations(dmp) == {(FIRST_TREATING, Relation.TREATING)}
    with dmp.as_patient() as patient:
        notices = patient.notifications(dmp.dossier_id)
    assert [(n.kind, n.subject) for n in notices] == [
        (NotificationKind.BLOCK_LIFTED, FIRST_TREATING)
    ]
    designations = [h for h in dmp.history() if h[1] == "access.treating-physician"]
    assert [(h[0], h[2]) for h in designations] == [("cnam", "block-lifted")]
    with dmp.as_professional(FIRST_TREATING) as treating:
        assert len(dmp.listed(treating)) == 1
    # the treating physician changes: the former one keeps nothing, and is not blocked again
    with _insurer(dmp) as insurer:
        insurer.set_treating_physician(dmp.dossier_id, NEXT_TREATING)
    assert _relations(dmp) == {(NEXT_TREATING, Relation.TREATING)}
    with (
        dmp.as_professional(FIRST_TREATING) as former,
        pytest.raises(PermissionDeniedError, match="no-authorisation"),
    ):
        former.list_documents(dmp.dossier_id)
    designations = [h for h in dmp.history() if h[1] == "access.treating-physician"]
    assert [h[2] for h in designations] == ["block-lifted", "insurer"]
    with dmp.as_patient() as patient:
        assert len(patient.notifications(dmp.dossier_id)) == 2  # the block lifted, first access


def test_a_pharmacist_claiming_a_regulation_specialty_cannot_break_the_glass(
    dossier: Dmp,
) -> None:
    dmp = dossier
    with (
        dmp.as_professional(PHARMACIST, "pharmacist", "medical_regulation") as pharmacist,
        pytest.raises(PermissionDeniedError, match="not-emergency-professional"),
    ):
        pharmacist.break_glass(dmp.dossier_id, EmergencyReason.SAMU_REGULATION)
    assert (PHARMACIST, Relation.EMERGENCY) not in _relations(dmp)
    with dmp.as_patient() as patient:
        assert patient.notifications(dmp.dossier_id) == []
