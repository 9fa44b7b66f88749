"""Issue 16, item 6's last part, through the real server on SQLite and PostgreSQL: the
patient's overrides of the authorisation matrix for their dossier (ADR 0038). A category
opened to a named professional shows in their listings, counts and reads; one closed to
them disappears from all three; the treating physician is unaffected; the overrides show
in the access list, each change is journaled and kept in the access trail."""

from __future__ import annotations

import uuid

import pytest

from tests.server import test_access
from tests.server.test_access import PHARMACIST, SCAN, TREATING, Dmp
from vault.client import VaultClient
from vault.domain.model import DocumentCategory, DocumentMetadata, Visibility
from vault.errors import InvalidArgumentError, NotFoundError, PermissionDeniedError
from vault.index.records import OverrideTrail
from vault.index.sql import SqlIndex
from vault.sqlstore import make_engine

dmp = test_access.dmp  # the fixture: a dossier with a report and a treating physician
C = DocumentCategory
PREVENTION = DocumentMetadata("Bilan", C.PREVENTION, "text/plain")


def _pharmacist(dmp: Dmp) -> VaultClient:
    return dmp.as_professional(PHARMACIST, "pharmacist", "officine")


def test_a_category_opened_to_a_pharmacist_shows_in_listings_counts_and_reads(dmp: Dmp) -> None:
    with dmp.as_patient() as patient:
        scan = patient.put_document(dmp.dossier_id, SCAN, b"scan")
        masked = patient.put_document(
            dmp.dossier_id, SCAN, b"masked", visibility=Visibility.MASKED_FROM_PROFESSIONALS
        )
        bilan = patient.put_document(dmp.dossier_id, PREVENTION, b"bilan")
        patient.authorise(dmp.dossier_id, PHARMACIST)
    with _pharmacist(dmp) as pharmacist:  # the row: prevention, not imaging nor reports
        assert dmp.listed(pharmacist) == [str(bilan.document_id)]
    with dmp.as_patient() as patient:
        opened = patient.open_category(dmp.dossier_id, PHARMACIST, C.IMAGING)
        assert (opened.subject, opened.category, opened.opened) == (PHARMACIST, C.IMAGING, True)
    with _pharmacist(dmp) as pharmacist:
        assert sorted(dmp.listed(pharmacist)) == sorted(
            [str(scan.document_id), str(bilan.document_id)]
        )  # the masked scan stays masked
        assert pharmacist.count_documents(dmp.dossier_id) == {C.IMAGING: 1, C.PREVENTION: 1}
        assert b"".join(pharmacist.get_document(dmp.dossier_id, scan.document_id)) == b"scan"
        with pytest.raises(NotFoundError):
            b"".join(pharmacist.get_document(dmp.dossier_id, masked.document_id))
    with dmp.as_patient() as patient:
        patient.clear_category(dmp.dossier_id, PHARMACIST, C.IMAGING)
        with pytest.raises(NotFoundError):
            patient.clear_category(dmp.dossier_id, PHARMACIST, C.IMAGING)
    with _pharmacist(dmp) as pharmacist:
        assert dmp.listed(pharmacist) == [str(bilan.document_id)]


def test_a_category_closed_to_a_professional_disappears_but_not_for_the_treating_physician(
    dmp: Dmp,
) -> None:
    with dmp.as_patient() as patient:
        bilan = patient.put_document(dmp.dossier_id, PREVENTION, b"bilan")
        patient.authorise(dmp.dossier_id, PHARMACIST)
        patient.close_category(dmp.dossier_id, PHARMACIST, C.PREVENTION)
        patient.close_category(dmp.dossier_id, TREATING, C.REPORTS)
        listed = patient.list_access(dmp.dossier_id).overrides
        assert [(o.subject, o.category, o.opened) for o in listed] == sorted(
            [(PHARMACIST, C.PREVENTION, False), (TREATING, C.REPORTS, False)]
        )
    with _pharmacist(dmp) as pharmacist:
        assert dmp.listed(pharmacist) == []
        assert pharmacist.count_documents(dmp.dossier_id) == {}
        with pytest.raises(NotFoundError):
            b"".join(pharmacist.get_document(dmp.dossier_id, bilan.document_id))
    with dmp.as_professional(TREATING, "physician", "general_practice") as treating:
        assert b"".join(treating.get_document(dmp.dossier_id, dmp.report_id)) == b"report"


def test_only_the_patient_side_overrides_the_matrix_and_every_change_is_journaled(
    dmp: Dmp,
) -> None:
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, PHARMACIST)
    with _pharmacist(dmp) as pharmacist, pytest.raises(PermissionDeniedError):
        pharmacist.open_category(dmp.dossier_id, PHARMACIST, C.REPORTS)
    with dmp.as_patient() as patient:
        patient.open_category(dmp.dossier_id, PHARMACIST, C.REPORTS)
        patient.close_category(dmp.dossier_id, PHARMACIST, C.REPORTS)  # in place of the open
        assert len(patient.list_access(dmp.dossier_id).overrides) == 1
        patient.clear_category(dmp.dossier_id, PHARMACIST, C.REPORTS)
        with pytest.raises(InvalidArgumentError):
            patient.open_category(dmp.dossier_id, "not-an-rpps", C.REPORTS)
    changes = [(h[1], h[2]) for h in dmp.history() if h[1].startswith("access.category")]
    assert changes == [
        ("access.category-open", "action-not-permitted"),
        ("access.category-open", "holder"),
        ("access.category-close", "holder"),
        ("access.category-clear", "holder"),
        ("access.category-open", "invalid-argument"),
    ]


def test_every_override_change_is_in_the_access_trail_with_its_journal_entry(dmp: Dmp) -> None:
    """`access_changes` keeps the overrides' history as it keeps the relations': open,
    close in its place (the open removed), clear; each row's request id is that of the
    holder's allowed journal entry, in the history the holder reads."""
    with dmp.as_patient() as patient:
        patient.open_category(dmp.dossier_id, PHARMACIST, C.IMAGING)
        patient.close_category(dmp.dossier_id, PHARMACIST, C.IMAGING)
        patient.clear_category(dmp.dossier_id, PHARMACIST, C.IMAGING)
        with pytest.raises(NotFoundError):  # nothing to clear: no trail entry
            patient.clear_category(dmp.dossier_id, PHARMACIST, C.IMAGING)
        records, _ = patient.query_journal(dossier_id=dmp.dossier_id, page_size=1000)
    engine = make_engine(dmp.vault.config.index_url)
    try:
        trail = SqlIndex(engine).access_changes(uuid.UUID(dmp.dossier_id))
    finally:
        engine.dispose()
    overrides = [c for c in trail if isinstance(c.relation, OverrideTrail)]
    opened, closed = OverrideTrail.CATEGORY_OPENED, OverrideTrail.CATEGORY_CLOSED
    assert [(c.relation, c.subject, c.detail, c.change) for c in overrides] == [
        (opened, PHARMACIST, "imaging", "set"),
        (opened, PHARMACIST, "imaging", "removed"),
        (closed, PHARMACIST, "imaging", "set"),
        (closed, PHARMACIST, "imaging", "removed"),
    ]
    journaled = {e.request_id: (e.action, e.decision, e.reason) for _, e in records}
    assert [journaled[c.request_id] for c in overrides] == [
        ("access.category-open", "allow", "holder"),
        ("access.category-close", "allow", "holder"),
        ("access.category-close", "allow", "holder"),
        ("access.category-clear", "allow", "holder"),
    ]
