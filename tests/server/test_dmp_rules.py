"""DMP rules at the edges (issue 15) through the real server, on SQLite and PostgreSQL:
a document held back from the patient reaches them once its month ran, whoever let their
authorisation lapse, or earlier when the treating physician releases it; a legal hold
refuses the deletion of a document, with its reason; the holder copies a closed dossier
and nothing else of it opens."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, update

from tests.conftest import PATIENT_INS, RunningVault
from tests.domain.test_lifecycle import A_DAY
from tests.server.test_access import CARDIOLOGIST, REPORT, TREATING, Dmp
from vault import archive
from vault.auth import load_or_create_dev_issuer
from vault.composition import open_journal
from vault.config import Config
from vault.domain.model import (
    ActorKind,
    ClosureReason,
    DocumentCategory,
    DossierState,
    Visibility,
)
from vault.errors import FailedPreconditionError, NotFoundError, PermissionDeniedError
from vault.index.schema import DocumentRow
from vault.journal.docset import document_set
from vault.journal.store import EntryFilter
from vault.server.app import BackgroundServer
from vault.sqlstore import make_engine


@pytest.fixture(name="dmp")
def a_dmp(running_vault: RunningVault) -> Dmp:
    """A dossier with a report and a treating physician, as tests/server/test_access.py's."""
    with running_vault.client() as patient:
        dossier = patient.create_dossier(PATIENT_INS)
        report = patient.put_document(dossier.dossier_id, REPORT, b"report")
    with running_vault.client(running_vault.token(ActorKind.INSURER, "cnam")) as insurer:
        insurer.set_treating_physician(dossier.dossier_id, TREATING)
    return Dmp(running_vault, str(dossier.dossier_id), str(report.document_id))


def deposited_days_ago(config: Config, document_id: uuid.UUID | str, days: int) -> None:
    """As if the document had been deposited `days` ago (its first version's time)."""
    engine = make_engine(config.index_url)
    documents = cast(Table, DocumentRow.__table__)
    with engine.begin() as conn:
        conn.execute(
            update(documents)
            .where(documents.c.id == uuid.UUID(str(document_id)))
            .values(created_us=documents.c.created_us - days * A_DAY)
        )
    engine.dispose()


def _exported(dmp: Dmp) -> set[str]:
    copy = io.BytesIO()
    with dmp.as_patient() as patient:
        patient.export_dossier(dmp.dossier_id, copy)
    with zipfile.ZipFile(copy) as zipped:
        metadata = json.loads(zipped.read(archive.METADATA))
    return {d["document_id"] for d in metadata["documents"]}


def test_a_held_back_document_reaches_the_patient_when_its_month_ran_though_its_author_left(
    dmp: Dmp,
) -> None:
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, CARDIOLOGIST)
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        diagnosis = cardiologist.put_document(
            dmp.dossier_id, REPORT, b"d", visibility=Visibility.HIDDEN_FROM_PATIENT
        )
    held = str(diagnosis.document_id)
    with dmp.as_patient() as patient:
        patient.revoke(dmp.dossier_id, CARDIOLOGIST)  # the author can release nothing now
    deposited_days_ago(dmp.vault.config, held, 27)  # two weeks on: still held back
    with dmp.as_patient() as patient:
        assert held not in dmp.listed(patient)
        assert patient.count_documents(dmp.dossier_id) == {DocumentCategory.REPORTS: 1}
        with pytest.raises(NotFoundError):
            patient.get_document(dmp.dossier_id, held)
    assert held not in _exported(dmp)
    deposited_days_ago(dmp.vault.config, held, 5)  # 32 days: its month ran
    with dmp.as_patient() as patient:
        assert held in dmp.listed(patient)
        assert patient.count_documents(dmp.dossier_id) == {DocumentCategory.REPORTS: 2}
        assert b"".join(patient.get_document(dmp.dossier_id, held)) == b"d"
    assert held in _exported(dmp)
    reads = [h for h in dmp.history() if h[1] == "document.read" and h[4] == (held,)]
    assert [h[2] for h in reads] == ["document-hidden", "holder"]  # both journaled


def test_the_treating_physician_releases_a_held_back_document_before_its_month(
    dmp: Dmp,
) -> None:
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, CARDIOLOGIST)
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        diagnosis = cardiologist.put_document(
            dmp.dossier_id, REPORT, b"d", visibility=Visibility.HIDDEN_FROM_PATIENT
        )
    held = str(diagnosis.document_id)
    with dmp.as_professional(TREATING, specialty="general_medicine") as treating:
        released = treating.set_visibility(dmp.dossier_id, held, Visibility.NORMAL)
        assert released.visibility is Visibility.NORMAL
    with dmp.as_patient() as patient:
        assert held in dmp.listed(patient)
    assert (TREATING, "document.visibility", "treating-physician", False, (held,)) in dmp.history()


def test_a_legal_hold_refuses_the_deletion_of_a_document_and_says_why(dmp: Dmp) -> None:
    with dmp.as_kind(ActorKind.OPERATOR, "ops-1") as operator:
        hold = operator.place_hold(dmp.dossier_id, "TJ Paris 26/00123")
    with (
        dmp.as_patient() as patient,
        pytest.raises(FailedPreconditionError, match="legal-hold") as refused,
    ):
        patient.delete_document(dmp.dossier_id, dmp.report_id)
    assert dmp.report_id not in str(refused.value)  # no document, no dossier in it
    assert dmp.dossier_id not in str(refused.value)
    with dmp.as_patient() as patient:
        assert dmp.listed(patient) == [dmp.report_id]
    deletions = [h[1:] for h in dmp.history() if h[1] == "document.delete"]
    assert deletions == [("document.delete", "legal-hold", False, (dmp.report_id,))]
    with dmp.as_kind(ActorKind.OPERATOR, "ops-1") as operator:
        operator.release_hold(dmp.dossier_id, hold, "case closed")
    with dmp.as_patient() as patient:
        patient.delete_document(dmp.dossier_id, dmp.report_id)
        assert dmp.listed(patient) == []


def test_the_holder_copies_a_closed_dossier_and_nothing_else_of_it_opens(dmp: Dmp) -> None:
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, CARDIOLOGIST)
        patient.close_dossier(dmp.dossier_id)
    assert _exported(dmp) == {dmp.report_id}
    with dmp.as_patient() as patient:
        with pytest.raises(PermissionDeniedError, match="dossier-not-active"):
            patient.list_documents(dmp.dossier_id)
        with pytest.raises(PermissionDeniedError, match="dossier-not-active"):
            patient.get_document(dmp.dossier_id, dmp.report_id)
        assert patient.get_dossier(dossier_id=dmp.dossier_id).state is DossierState.CLOSED
    with (
        dmp.as_professional(CARDIOLOGIST) as cardiologist,
        pytest.raises(PermissionDeniedError, match="dossier-not-active"),
    ):
        cardiologist.export_dossier(dmp.dossier_id, io.BytesIO())
    journal = open_journal(dmp.vault.config)  # the patient's history is closed too
    entries = [e.event for e in journal.query(EntryFilter(dossier=dmp.dossier_id), 1000)]
    exports = [
        (e.actor_kind, e.decision, e.reason, e.documents, e.document_set)
        for e in entries
        if e.action == "dossier.export"
    ]
    assert exports == [  # the copy, journaled with its versions' count and digest
        ("patient", "allow", "holder", (), document_set([(dmp.report_id, 1)])),
        ("professional", "deny", "dossier-not-active", (), None),
    ]


def test_a_dossier_closed_for_death_gives_no_copy(dmp: Dmp) -> None:
    with dmp.as_kind(ActorKind.INSURER, "cnam") as insurer:
        insurer.close_dossier(dmp.dossier_id, ClosureReason.DEATH)
    with (
        dmp.as_patient() as patient,
        pytest.raises(PermissionDeniedError, match="dossier-not-active"),
    ):
        patient.export_dossier(dmp.dossier_id, io.BytesIO())


def test_a_longer_release_delay_set_by_the_operator_keeps_the_document_held_back(
    db_url: str, tmp_path: Path
) -> None:
    config = Config(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        database_url=db_url,
        workers=4,
        held_back_release_months=2,
    )
    issuer = load_or_create_dev_issuer(config.data_dir)
    server = BackgroundServer(config).start()
    try:
        vault = RunningVault(server, issuer)
        with vault.client() as patient:
            dossier = str(patient.create_dossier(PATIENT_INS).dossier_id)
            patient.authorise(dossier, CARDIOLOGIST)
        token = vault.token(ActorKind.PROFESSIONAL, CARDIOLOGIST, profession="physician")
        with vault.client(token) as cardiologist:
            held = cardiologist.put_document(
                dossier, REPORT, b"d", visibility=Visibility.HIDDEN_FROM_PATIENT
            ).document_id
        deposited_days_ago(config, held, 40)  # a month ran, not two
        with vault.client() as patient:
            assert patient.count_documents(dossier) == {}
        deposited_days_ago(config, held, 25)  # 65 days
        with vault.client() as patient:
            assert patient.count_documents(dossier) == {DocumentCategory.REPORTS: 1}
    finally:
        server.stop()
