"""The DMP's access rules end to end over gRPC: the scenarios of a real dossier.

Each test plays a story with real tokens against a real server (SQLite and PostgreSQL):
consent, masking, blocking, break-the-glass, the insurer, the operator, a minor's
confidential care, expiry. What a caller may not see must not show in pages, counts or
errors; every request leaves one journal entry, denials included.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from sqlalchemy import text

from tests.conftest import OTHER_INS, PATIENT_INS, RunningVault
from vault import archive, wire
from vault.auth import key_id, load_or_create_dev_issuer
from vault.client import VaultClient
from vault.config import Config
from vault.domain.identifiers import ins_key, luhn_valid
from vault.domain.model import (
    ActorKind,
    DocumentCategory,
    DocumentMetadata,
    DossierState,
    EmergencyReason,
    NotificationKind,
    Relation,
    Visibility,
)
from vault.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
    VaultError,
)
from vault.journal.chain import JournalEvent
from vault.journal.sql import SqlJournal
from vault.server.app import BackgroundServer
from vault.sqlstore import make_engine
from vault.v1 import vault_pb2 as pb
from vault.v1.vault_pb2_grpc import DossierVaultStub


def rpps(stem: str) -> str:
    """A well-formed RPPS number: 10 digits and their Luhn check digit."""
    return next(stem + d for d in "0123456789" if luhn_valid(stem + d))


def ins(nir13: str) -> str:
    return f"{nir13}{ins_key(nir13):02d}"


CARDIOLOGIST = rpps("1000000001")
TREATING = rpps("1000000002")
PHARMACIST = rpps("1000000003")
REGULATOR = rpps("1000000004")
NURSE = rpps("1000000005")
MINOR, PARENT = ins("2150675123456"), ins("1780375111222")
REPORT = DocumentMetadata("Compte rendu", DocumentCategory.REPORTS, "application/pdf")
SCAN = DocumentMetadata("IRM", DocumentCategory.IMAGING, "image/jpeg")
REIMBURSEMENT = DocumentMetadata(
    "Remboursements", DocumentCategory.REIMBURSEMENT_HISTORY, "application/fhir+json"
)


@dataclass
class Dmp:
    """A running vault with one patient's dossier and a report in it."""

    vault: RunningVault
    dossier_id: str
    report_id: str

    def as_patient(self) -> VaultClient:
        return self.vault.client()

    def as_professional(
        self, number: str, profession: str = "physician", specialty: str = "cardiology"
    ) -> VaultClient:
        token = self.vault.token(
            ActorKind.PROFESSIONAL, number, profession=profession, specialty=specialty
        )
        return self.vault.client(token)

    def as_kind(self, kind: ActorKind, subject: str) -> VaultClient:
        return self.vault.client(self.vault.token(kind, subject))

    def listed(self, client: VaultClient) -> list[str]:
        return [str(d.document_id) for d in client.iter_documents(self.dossier_id)]

    def history(self) -> list[tuple[str, str, str, bool, tuple[str, ...]]]:
        """The dossier's access history as its patient reads it."""
        with self.as_patient() as patient:
            records, _ = patient.query_journal(dossier_id=self.dossier_id, page_size=1000)
        return [
            (e.actor_ref, e.action, e.reason, e.emergency, e.documents)
            for _, e in records
            if e.action != "journal.read"
        ]


@pytest.fixture
def dmp(running_vault: RunningVault) -> Dmp:
    with running_vault.client() as patient:
        dossier = patient.create_dossier(PATIENT_INS)
        report = patient.put_document(dossier.dossier_id, REPORT, b"report")
    with running_vault.client(running_vault.token(ActorKind.INSURER, "cnam")) as insurer:
        insurer.set_treating_physician(dossier.dossier_id, TREATING)
    return Dmp(running_vault, str(dossier.dossier_id), str(report.document_id))


def test_a_masked_report_disappears_for_the_cardiologist_but_not_the_treating_physician(
    dmp: Dmp,
) -> None:
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, CARDIOLOGIST)
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        assert dmp.listed(cardiologist) == [dmp.report_id]
        assert cardiologist.count_documents(dmp.dossier_id) == {DocumentCategory.REPORTS: 1}
        assert b"".join(cardiologist.get_document(dmp.dossier_id, dmp.report_id)) == b"report"
    with dmp.as_patient() as patient:
        masked = patient.set_visibility(
            dmp.dossier_id, dmp.report_id, Visibility.MASKED_FROM_PROFESSIONALS
        )
        assert masked.visibility is Visibility.MASKED_FROM_PROFESSIONALS
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        assert dmp.listed(cardiologist) == []
        assert cardiologist.count_documents(dmp.dossier_id) == {}
        with pytest.raises(NotFoundError, match="no such document"):
            cardiologist.get_document(dmp.dossier_id, dmp.report_id)
    with dmp.as_professional(TREATING, specialty="general_medicine") as treating:
        assert dmp.listed(treating) == [dmp.report_id]
        assert treating.count_documents(dmp.dossier_id) == {DocumentCategory.REPORTS: 1}
    hidden_read = [h for h in dmp.history() if h[0] == CARDIOLOGIST and h[2] == "document-hidden"]
    assert hidden_read == [
        (CARDIOLOGIST, "document.read", "document-hidden", False, (dmp.report_id,))
    ]


def test_a_masked_document_does_not_leak_through_paging(dmp: Dmp) -> None:
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, CARDIOLOGIST)
        for n in range(4):
            document = patient.put_document(dmp.dossier_id, REPORT, b"%d" % n)
            if n % 2:
                patient.set_visibility(
                    dmp.dossier_id, document.document_id, Visibility.MASKED_FROM_PROFESSIONALS
                )
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        first = cardiologist.list_documents(dmp.dossier_id, page_size=2)
        assert len(first.documents) == 2
        second = cardiologist.list_documents(
            dmp.dossier_id, page_size=2, page_token=first.next_page_token
        )
        assert (len(second.documents), second.next_page_token) == (1, "")
        assert cardiologist.count_documents(dmp.dossier_id) == {DocumentCategory.REPORTS: 3}


def test_the_journal_lists_every_document_a_listing_returned(dmp: Dmp) -> None:
    with dmp.as_patient() as patient:
        patient.put_document(dmp.dossier_id, SCAN, b"scan")
        listed = dmp.listed(patient)
    lists = [h for h in dmp.history() if h[1] == "document.list"]
    assert lists[-1][4] == tuple(listed)
    assert len(listed) == 2


def test_a_blocked_pharmacist_is_refused_even_in_an_emergency(dmp: Dmp) -> None:
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, PHARMACIST)
        patient.block(dmp.dossier_id, PHARMACIST)
        relations = {(e.subject, e.relation) for e in patient.list_access(dmp.dossier_id).entries}
        assert (PHARMACIST, Relation.BLOCKED) in relations
        assert (PHARMACIST, Relation.AUTHORISED) not in relations
    with dmp.as_professional(PHARMACIST, "pharmacist", "emergency_medicine") as pharmacist:
        with pytest.raises(PermissionDeniedError, match="blocked"):
            pharmacist.break_glass(dmp.dossier_id, EmergencyReason.VITAL_EMERGENCY)
        with pytest.raises(PermissionDeniedError, match="blocked"):
            pharmacist.list_documents(dmp.dossier_id)
    with dmp.as_patient() as patient:
        patient.unblock(dmp.dossier_id, PHARMACIST)
        with pytest.raises(NotFoundError):
            patient.unblock(dmp.dossier_id, PHARMACIST)


def test_the_treating_physician_cannot_be_blocked(dmp: Dmp) -> None:
    with dmp.as_patient() as patient, pytest.raises(FailedPreconditionError):
        patient.block(dmp.dossier_id, TREATING)


def test_a_samu_regulator_breaks_the_glass_and_the_patient_is_told(dmp: Dmp) -> None:
    with dmp.as_patient() as patient:
        masked = patient.put_document(
            dmp.dossier_id, SCAN, b"scan", visibility=Visibility.MASKED_FROM_PROFESSIONALS
        )
    with dmp.as_professional(REGULATOR, specialty="medical_regulation") as regulator:
        with pytest.raises(PermissionDeniedError, match="no-authorisation"):
            regulator.list_documents(dmp.dossier_id)
        assert str(regulator.get_dossier(ins=PATIENT_INS).dossier_id) == dmp.dossier_id
        window = regulator.break_glass(dmp.dossier_id, EmergencyReason.SAMU_REGULATION)
        assert window.expires_us is not None
        assert window.expires_us > time.time() * 1e6
        assert dmp.listed(regulator) == [dmp.report_id]  # the masked scan stays hidden
        with pytest.raises(NotFoundError):
            regulator.get_document(dmp.dossier_id, masked.document_id)
    with dmp.as_patient() as patient:
        notices = patient.notifications(dmp.dossier_id)
    assert [(n.kind, n.subject, n.detail) for n in notices] == [
        (NotificationKind.EMERGENCY_ACCESS, REGULATOR, "samu_regulation"),
        (NotificationKind.FIRST_ACCESS, REGULATOR, None),
    ]
    emergency = [h[1] for h in dmp.history() if h[0] == REGULATOR and h[3]]
    assert emergency == ["access.break-glass", "document.list", "document.read"]


def test_a_refused_emergency_access_stays_refused(dmp: Dmp) -> None:
    with dmp.as_patient() as patient:
        patient.set_emergency_access(dmp.dossier_id, allowed=False)
        assert patient.list_access(dmp.dossier_id).emergency_refused
    with (
        dmp.as_professional(REGULATOR, specialty="emergency_medicine") as regulator,
        pytest.raises(PermissionDeniedError, match="emergency-refused"),
    ):
        regulator.break_glass(dmp.dossier_id, EmergencyReason.UNCONSCIOUS_PATIENT)


def test_a_physiotherapist_cannot_break_the_glass(dmp: Dmp) -> None:
    """The matrix's emergency cell decides (a cardiologist may: any physician)."""
    with (
        dmp.as_professional(CARDIOLOGIST, "physiotherapist", "") as physiotherapist,
        pytest.raises(PermissionDeniedError, match="not-emergency-professional"),
    ):
        physiotherapist.break_glass(dmp.dossier_id, EmergencyReason.URGENT_CARE)


def test_the_insurer_writes_a_reimbursement_line_and_cannot_read_it_back(dmp: Dmp) -> None:
    with dmp.as_kind(ActorKind.INSURER, "cnam") as insurer:
        dossier = insurer.get_dossier(ins=PATIENT_INS)
        line = insurer.put_document(dossier.dossier_id, REIMBURSEMENT, b"{}")
        with pytest.raises(PermissionDeniedError, match="category-not-writable"):
            insurer.put_document(dossier.dossier_id, REPORT, b"report")
        with pytest.raises(PermissionDeniedError, match="actor-never-allowed"):
            insurer.get_document(dossier.dossier_id, line.document_id)
        with pytest.raises(PermissionDeniedError, match="actor-never-allowed"):
            insurer.list_documents(dossier.dossier_id)
        with pytest.raises(PermissionDeniedError, match="actor-never-allowed"):
            insurer.count_documents(dossier.dossier_id)
    with dmp.as_patient() as patient:
        assert str(line.document_id) in dmp.listed(patient)
        with pytest.raises(PermissionDeniedError, match="category-not-writable"):
            patient.put_document(dmp.dossier_id, REIMBURSEMENT, b"{}")


@pytest.mark.parametrize(
    "kind",
    [
        ActorKind.OPERATOR,
        ActorKind.COMPLEMENTARY_INSURER,
        ActorKind.OCCUPATIONAL_PHYSICIAN,
        ActorKind.INSURANCE_PHYSICIAN,
        ActorKind.AUDITOR,
    ],
)
def test_outsiders_read_nothing(dmp: Dmp, kind: ActorKind) -> None:
    with dmp.as_kind(kind, "staff-7") as outsider:
        calls: list[Callable[[], object]] = [
            lambda: outsider.get_dossier(dossier_id=dmp.dossier_id),
            lambda: outsider.list_documents(dmp.dossier_id),
            lambda: outsider.count_documents(dmp.dossier_id),
            lambda: outsider.get_document(dmp.dossier_id, dmp.report_id),
            lambda: outsider.list_access(dmp.dossier_id),
            lambda: outsider.notifications(dmp.dossier_id),
            lambda: outsider.authorise(dmp.dossier_id, CARDIOLOGIST),
        ]
        for call in calls:
            with pytest.raises(PermissionDeniedError, match="actor-never-allowed"):
                call()


def test_a_minors_confidential_document_stays_invisible_to_the_parents(
    running_vault: RunningVault,
) -> None:
    with running_vault.client(running_vault.token(subject=MINOR)) as minor:
        dossier = minor.create_dossier(MINOR).dossier_id
        minor.add_representative(dossier, PARENT)
        minor.authorise(dossier, NURSE)
        vaccination = minor.put_document(
            dossier, DocumentMetadata("Vaccin", DocumentCategory.VACCINATION, "text/plain"), b"v"
        )
    nurse_token = running_vault.token(ActorKind.PROFESSIONAL, NURSE, profession="nurse")
    with running_vault.client(nurse_token) as nurse:
        confidential = nurse.put_document(
            dossier,
            DocumentMetadata("Contraception", DocumentCategory.TREATMENTS_AND_CARE, "text/plain"),
            b"c",
            visibility=Visibility.HIDDEN_FROM_REPRESENTATIVES,
        )
    parent_token = running_vault.token(ActorKind.LEGAL_REPRESENTATIVE, PARENT)
    with running_vault.client(parent_token) as parent:
        assert [d.document_id for d in parent.iter_documents(dossier)] == [vaccination.document_id]
        assert parent.count_documents(dossier) == {DocumentCategory.VACCINATION: 1}
        with pytest.raises(NotFoundError):
            parent.get_document(dossier, confidential.document_id)
        with pytest.raises(NotFoundError):
            parent.set_visibility(dossier, confidential.document_id, Visibility.NORMAL)
        parents_history, _ = parent.query_journal(dossier_id=dossier)
    with running_vault.client(running_vault.token(subject=MINOR)) as minor:
        minors_history, _ = minor.query_journal(dossier_id=dossier)
    secret = str(confidential.document_id)
    assert not [e for _, e in parents_history if secret in e.documents]
    assert [e.action for _, e in minors_history if secret in e.documents] == [
        "document.write",
        "document.read",
        "document.visibility",
    ]
    with running_vault.client(running_vault.token(subject=MINOR)) as minor:
        assert b"".join(minor.get_document(dossier, confidential.document_id)) == b"c"
        minor.remove_representative(dossier, PARENT)
    with (
        running_vault.client(parent_token) as parent,
        pytest.raises(PermissionDeniedError, match="not-representative"),
    ):
        parent.list_documents(dossier)


def test_a_document_held_back_by_its_author_appears_at_the_announcement(dmp: Dmp) -> None:
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, CARDIOLOGIST)
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        diagnosis = cardiologist.put_document(
            dmp.dossier_id, REPORT, b"d", visibility=Visibility.HIDDEN_FROM_PATIENT
        )
    with dmp.as_patient() as patient:
        assert str(diagnosis.document_id) not in dmp.listed(patient)
        patient.authorise(dmp.dossier_id, REGULATOR)
    with (  # another authorised physician, neither the author nor the treating physician
        dmp.as_professional(REGULATOR) as colleague,
        pytest.raises(PermissionDeniedError, match="visibility-not-settable"),
    ):
        colleague.set_visibility(dmp.dossier_id, diagnosis.document_id, Visibility.NORMAL)
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        cardiologist.set_visibility(dmp.dossier_id, diagnosis.document_id, Visibility.NORMAL)
    with dmp.as_patient() as patient:
        assert str(diagnosis.document_id) in dmp.listed(patient)


def test_an_expired_authorisation_is_refused_until_renewed(dmp: Dmp) -> None:
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, CARDIOLOGIST)
    engine = make_engine(dmp.vault.config.database_url)
    with engine.begin() as conn:  # a year passes for this authorisation
        conn.execute(text("UPDATE dossier_access SET expires_us = 1 WHERE relation = 'authorised'"))
    engine.dispose()
    with (
        dmp.as_professional(CARDIOLOGIST) as cardiologist,
        pytest.raises(PermissionDeniedError, match="authorisation-expired"),
    ):
        cardiologist.list_documents(dmp.dossier_id)
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, CARDIOLOGIST)
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        assert dmp.listed(cardiologist) == [dmp.report_id]


def test_consent_recorded_at_a_consultation_authorises_the_professional(dmp: Dmp) -> None:
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        entry = cardiologist.record_consent(dmp.dossier_id)
        assert (entry.relation, entry.subject, entry.profession) == (
            Relation.AUTHORISED,
            CARDIOLOGIST,
            "physician",
        )
        assert dmp.listed(cardiologist) == [dmp.report_id]
        dmp.listed(cardiologist)
    with dmp.as_patient() as patient:
        first_access = patient.notifications(dmp.dossier_id)
    assert [(n.kind, n.subject) for n in first_access] == [
        (NotificationKind.FIRST_ACCESS, CARDIOLOGIST)
    ]


def test_the_patient_deletes_a_document_for_good(dmp: Dmp) -> None:
    with dmp.as_patient() as patient:
        patient.delete_document(dmp.dossier_id, dmp.report_id)
        assert dmp.listed(patient) == []
        with pytest.raises(NotFoundError):
            patient.get_document(dmp.dossier_id, dmp.report_id)
    with dmp.as_professional(TREATING) as treating, pytest.raises(PermissionDeniedError):
        treating.delete_document(dmp.dossier_id, dmp.report_id)


def _unknown_kind_token(vault: RunningVault) -> str:
    now = int(time.time())
    claims = {
        "iss": "dossier-vault-dev",
        "aud": "dossier-vault",
        "sub": "x",
        "kind": "pharma_marketing",
        "iat": now,
        "exp": now + 60,
    }
    kid = key_id(vault.issuer.public_key())
    return jwt.encode(claims, vault.issuer, algorithm="EdDSA", headers={"kid": kid})


def _forged_rpps_token(vault: RunningVault) -> str:
    now = int(time.time())
    claims = {
        "iss": "dossier-vault-dev",
        "aud": "dossier-vault",
        "sub": CARDIOLOGIST[:-1] + str((int(CARDIOLOGIST[-1]) + 1) % 10),
        "kind": "professional",
        "iat": now,
        "exp": now + 60,
    }
    kid = key_id(vault.issuer.public_key())
    return jwt.encode(claims, vault.issuer, algorithm="EdDSA", headers={"kid": kid})


@pytest.mark.parametrize(
    "bad_token", [_unknown_kind_token, _forged_rpps_token, lambda _: "not-a-token"]
)
def test_bad_tokens_are_unauthenticated_and_change_nothing(
    dmp: Dmp, bad_token: Callable[[RunningVault], str]
) -> None:
    with dmp.vault.client(bad_token(dmp.vault)) as caller:
        with pytest.raises(UnauthenticatedError):
            caller.authorise(dmp.dossier_id, CARDIOLOGIST)
        with pytest.raises(UnauthenticatedError):
            caller.list_documents(dmp.dossier_id)
    with dmp.as_patient() as patient:
        assert {e.relation for e in patient.list_access(dmp.dossier_id).entries} == {
            Relation.TREATING
        }


def test_malformed_access_changes_are_invalid_and_change_nothing(dmp: Dmp) -> None:
    forged = CARDIOLOGIST[:-1] + str((int(CARDIOLOGIST[-1]) + 1) % 10)
    with dmp.as_patient() as patient:
        with pytest.raises(InvalidArgumentError, match="RPPS"):
            patient.authorise(dmp.dossier_id, forged)
        with pytest.raises(InvalidArgumentError, match="INS"):
            patient.add_representative(dmp.dossier_id, "123")
    regulator = dmp.vault.token(
        ActorKind.PROFESSIONAL, REGULATOR, profession="physician", specialty="medical_regulation"
    )
    with grpc.insecure_channel(dmp.vault.server.target) as channel:
        stub = DossierVaultStub(channel)
        with pytest.raises(grpc.RpcError) as no_change:
            stub.ChangeAccess(
                pb.ChangeAccessRequest(dossier_id=dmp.dossier_id),
                metadata=(("authorization", f"Bearer {dmp.vault.token()}"),),
            )
        with pytest.raises(grpc.RpcError) as no_reason:
            stub.BreakGlass(
                pb.BreakGlassRequest(dossier_id=dmp.dossier_id),
                metadata=(("authorization", f"Bearer {regulator}"),),
            )
    assert no_change.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert no_reason.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    with dmp.as_patient() as patient:
        assert {e.relation for e in patient.list_access(dmp.dossier_id).entries} == {
            Relation.TREATING
        }


@contextlib.contextmanager
def vault_with_matrix(db_url: str, tmp_path: Path, matrix_text: str) -> Iterator[RunningVault]:
    """A running vault whose operator's matrix file holds `matrix_text`."""
    matrix = tmp_path / "matrix.toml"
    matrix.write_text(matrix_text)
    config = Config(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        database_url=db_url,
        access_matrix=matrix,
    )
    issuer = load_or_create_dev_issuer(config.data_dir)
    server = BackgroundServer(config).start()
    try:
        yield RunningVault(server, issuer)
    finally:
        server.stop()


def test_the_operators_matrix_limits_what_a_profession_reads(db_url: str, tmp_path: Path) -> None:
    with vault_with_matrix(db_url, tmp_path, '[professions]\nphysician = ["biology"]\n') as vault:
        with vault.client() as patient:
            dossier = patient.create_dossier(PATIENT_INS).dossier_id
            patient.put_document(dossier, REPORT, b"r")
            lab = DocumentMetadata("NFS", DocumentCategory.BIOLOGY, "text/plain")
            result = patient.put_document(dossier, lab, b"b")
            patient.authorise(dossier, CARDIOLOGIST)
        token = vault.token(ActorKind.PROFESSIONAL, CARDIOLOGIST, profession="physician")
        with vault.client(token) as cardiologist:
            assert [d.document_id for d in cardiologist.iter_documents(dossier)] == [
                result.document_id
            ]


# -- effects never outrun their journal entry -------------------------------------------


@contextlib.contextmanager
def refusing(url: str, table: str, when: str) -> Iterator[None]:
    """The database refuses inserts into `table` of rows matching `when` (a condition on
    NEW), as a full disk or a revoked grant would: a real trigger, removed on exit."""
    engine = make_engine(url)
    postgres = engine.dialect.name == "postgresql"
    name = f"refuse_{table}"
    create = (
        [
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW "
            f"WHEN ({when}) EXECUTE FUNCTION {name}()",
        ]
        if postgres
        else [
            f"CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN {when} "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        ]
    )
    drop = [f"DROP TRIGGER {name} ON {table}", f"DROP FUNCTION {name}()"]
    try:
        with engine.begin() as conn:
            for statement in create:
                conn.execute(text(statement))
        yield
    finally:
        with engine.begin() as conn:
            for statement in drop if postgres else [f"DROP TRIGGER {name}"]:
                conn.execute(text(statement))
        engine.dispose()


def refusing_notices(url: str) -> contextlib.AbstractContextManager[None]:
    return refusing(url, "notifications", "1 = 1")


def _no_allow_entry(dmp: Dmp) -> contextlib.AbstractContextManager[None]:
    return refusing(dmp.vault.config.journal_url, "journal_entries", "NEW.decision = 'allow'")


@contextlib.contextmanager
def _journal(vault: RunningVault) -> Iterator[SqlJournal]:
    """The vault's journal, read directly (its engine disposed after)."""
    engine = make_engine(vault.config.journal_url)
    try:
        yield SqlJournal(engine)
    finally:
        engine.dispose()


def _last_entry(vault: RunningVault) -> tuple[str, str, str]:
    with _journal(vault) as journal:
        *_, last = journal.entries()
    return last.event.action, last.event.decision, last.event.reason


def _state(dmp: Dmp) -> tuple[object, ...]:
    """Everything the access changes and lifecycle requests below could change."""
    with dmp.as_patient() as patient:
        rules = patient.list_access(dmp.dossier_id)
        documents = [(d.document_id, d.visibility) for d in patient.iter_documents(dmp.dossier_id)]
        notices = patient.notifications(dmp.dossier_id)
        dossier = patient.get_dossier(dossier_id=dmp.dossier_id)
    engine = make_engine(dmp.vault.config.index_url)
    with engine.connect() as conn:
        holds = conn.execute(text("SELECT id, released_us FROM legal_holds ORDER BY id")).all()
        changes = conn.execute(text("SELECT count(*) FROM access_changes")).scalar_one()
    engine.dispose()
    entries = sorted((e.relation, e.subject, e.expires_us) for e in rules.entries)
    return entries, rules.emergency_refused, documents, notices, dossier, holds, changes


def test_nothing_changes_when_the_journal_refuses_the_allow_entry(dmp: Dmp) -> None:
    """ADR 0003: a write is journaled at the decision, before any effect. When the allow
    entry cannot be written, the request fails, is journaled as a denial, and nothing
    changed: no access change, visibility, deletion, lifecycle move, hold or release."""
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, CARDIOLOGIST)
        patient.block(dmp.dossier_id, PHARMACIST)
        patient.add_representative(dmp.dossier_id, PARENT)
    with dmp.as_kind(ActorKind.OPERATOR, "ops-1") as operator:
        hold = operator.place_hold(dmp.dossier_id, "TJ Paris 26/00123")
    patient = dmp.as_patient()
    cardiologist = dmp.as_professional(NURSE)
    regulator = dmp.as_professional(REGULATOR, specialty="medical_regulation")
    insurer = dmp.as_kind(ActorKind.INSURER, "cnam")
    operator = dmp.as_kind(ActorKind.OPERATOR, "ops-1")
    dossier, report = dmp.dossier_id, dmp.report_id
    changes: list[tuple[str, Callable[[], object]]] = [
        ("access.authorise", lambda: patient.authorise(dossier, NURSE)),
        ("access.revoke", lambda: patient.revoke(dossier, CARDIOLOGIST)),
        ("access.block", lambda: patient.block(dossier, CARDIOLOGIST)),
        ("access.unblock", lambda: patient.unblock(dossier, PHARMACIST)),
        ("access.representative-add", lambda: patient.add_representative(dossier, MINOR)),
        ("access.representative-remove", lambda: patient.remove_representative(dossier, PARENT)),
        ("access.emergency-setting", lambda: patient.set_emergency_access(dossier, False)),
        ("access.treating-physician", lambda: insurer.set_treating_physician(dossier, NURSE)),
        ("access.treating-physician", lambda: insurer.set_treating_physician(dossier, None)),
        ("access.consent", lambda: cardiologist.record_consent(dossier)),
        (
            "access.break-glass",
            lambda: regulator.break_glass(dossier, EmergencyReason.VITAL_EMERGENCY),
        ),
        (
            "document.visibility",
            lambda: patient.set_visibility(dossier, report, Visibility.MASKED_FROM_PROFESSIONALS),
        ),
        ("document.delete", lambda: patient.delete_document(dossier, report)),
        ("dossier.close", lambda: patient.close_dossier(dossier)),
        ("dossier.deletion-request", lambda: patient.request_deletion(dossier)),
        ("dossier.hold", lambda: operator.place_hold(dossier, "TJ Lyon 26/00456")),
        ("dossier.release", lambda: operator.release_hold(dossier, hold, "case closed")),
    ]
    before = _state(dmp)
    try:
        for action, change in changes:
            with _no_allow_entry(dmp), pytest.raises(VaultError):
                change()
            # the hold this test places refuses a document's deletion before the journal
            reason = "legal-hold" if action == "document.delete" else "failed"
            assert _last_entry(dmp.vault) == (action, "deny", reason)
            assert _state(dmp) == before, action
        with dmp.as_patient() as holder:
            holder.close_dossier(dossier)
        with _no_allow_entry(dmp), pytest.raises(VaultError):
            patient.reopen_dossier(dossier)
        assert patient.get_dossier(dossier_id=dossier).state is DossierState.CLOSED
    finally:
        for client in (patient, cardiologist, regulator, insurer, operator):
            client.close()


def test_a_break_glass_window_never_opens_without_its_notification(dmp: Dmp) -> None:
    """The window and the patient's notice are one transaction: if the notice cannot be
    queued, no window opens (an emergency access the patient is never told of)."""
    refused = "NEW.kind = 'emergency_access'"
    with (
        dmp.as_professional(REGULATOR, specialty="medical_regulation") as regulator,
        refusing(dmp.vault.config.index_url, "notifications", refused),
        pytest.raises(VaultError),
    ):
        regulator.break_glass(dmp.dossier_id, EmergencyReason.VITAL_EMERGENCY)
    with dmp.as_patient() as patient:
        relations = {e.relation for e in patient.list_access(dmp.dossier_id).entries}
        assert Relation.EMERGENCY not in relations
        assert patient.notifications(dmp.dossier_id) == []
    with (
        dmp.as_professional(REGULATOR, specialty="medical_regulation") as regulator,
        pytest.raises(PermissionDeniedError, match="no-authorisation"),
    ):
        regulator.list_documents(dmp.dossier_id)


# -- first-access notifications ------------------------------------------------------------


def test_a_held_back_document_does_not_announce_its_author_to_the_patient(dmp: Dmp) -> None:
    """The first-access notice would tell the patient (or the parents) that this
    professional wrote or read something they may not see; a later visible access tells."""
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, CARDIOLOGIST)
        patient.authorise(dmp.dossier_id, NURSE)
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        diagnosis = cardiologist.put_document(
            dmp.dossier_id, REPORT, b"d", visibility=Visibility.HIDDEN_FROM_PATIENT
        )
    with dmp.as_professional(NURSE, profession="nurse") as nurse:
        nurse.put_document(
            dmp.dossier_id,
            DocumentMetadata("Contraception", DocumentCategory.TREATMENTS_AND_CARE, "text/plain"),
            b"c",
            visibility=Visibility.HIDDEN_FROM_REPRESENTATIVES,
        )
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        assert b"".join(cardiologist.get_document(dmp.dossier_id, diagnosis.document_id)) == b"d"
    with dmp.as_patient() as patient:
        assert patient.notifications(dmp.dossier_id) == []
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        cardiologist.count_documents(dmp.dossier_id)
    with dmp.as_patient() as patient:
        notices = patient.notifications(dmp.dossier_id)
    assert [(n.kind, n.subject) for n in notices] == [(NotificationKind.FIRST_ACCESS, CARDIOLOGIST)]


def test_a_professional_seen_before_reads_without_writing_to_the_index(dmp: Dmp) -> None:
    """After the first access, reads, listings and counts write nothing (no transaction
    per read, no unique violation in the database's log): here the index refuses any
    new relation or notice, and the professional still reads."""
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, CARDIOLOGIST)
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        assert dmp.listed(cardiologist) == [dmp.report_id]
        url = dmp.vault.config.index_url
        with refusing(url, "dossier_access", "1 = 1"), refusing_notices(url):
            assert dmp.listed(cardiologist) == [dmp.report_id]
            assert cardiologist.count_documents(dmp.dossier_id) == {DocumentCategory.REPORTS: 1}
            assert b"".join(cardiologist.get_document(dmp.dossier_id, dmp.report_id)) == b"report"
    with dmp.as_patient() as patient:
        assert len(patient.notifications(dmp.dossier_id)) == 1


# -- lookups by INS ------------------------------------------------------------------------

INS_ORACLE_CALLERS = [
    (ActorKind.COMPLEMENTARY_INSURER, "mutuelle-1", "actor-never-allowed"),
    (ActorKind.OCCUPATIONAL_PHYSICIAN, "mdt-1", "actor-never-allowed"),
    (ActorKind.INSURANCE_PHYSICIAN, "medassur-1", "actor-never-allowed"),
    (ActorKind.OPERATOR, "ops-1", "actor-never-allowed"),
    (ActorKind.AUDITOR, "audit-1", "actor-never-allowed"),
    (ActorKind.LEGAL_REPRESENTATIVE, PARENT, "not-representative"),
    (ActorKind.PROFESSIONAL, PHARMACIST, "blocked"),
    (ActorKind.PATIENT, MINOR, "action-not-permitted"),
]


@pytest.mark.parametrize(
    ("kind", "subject", "reason"), INS_ORACLE_CALLERS, ids=[c[0].value for c in INS_ORACLE_CALLERS]
)
def test_an_ins_lookup_does_not_tell_an_outsider_who_has_a_dossier(
    dmp: Dmp, kind: ActorKind, subject: str, reason: str
) -> None:
    """Refused by INS answers exactly like a missing dossier (NOT_FOUND, same message);
    only the journal, which the caller cannot read, keeps the real reason."""
    with dmp.as_patient() as patient:
        patient.block(dmp.dossier_id, PHARMACIST)
    with dmp.as_kind(kind, subject) as caller:
        with pytest.raises(NotFoundError) as existing:
            caller.get_dossier(ins=PATIENT_INS)
        refused = _last_entry(dmp.vault)
        with pytest.raises(NotFoundError) as missing:
            caller.get_dossier(ins=OTHER_INS)
    assert str(existing.value) == str(missing.value)
    assert refused == ("dossier.read", "deny", reason)
    looked = "not-found" if kind is not ActorKind.PATIENT else reason  # patients: not even
    assert _last_entry(dmp.vault) == ("dossier.read", "deny", looked)


# -- the access history ----------------------------------------------------------------------


def _paged_history(client: VaultClient, dossier_id: str) -> list[tuple[int, JournalEvent]]:
    """Every page of size 1; a query that kept chasing its own entries would never end."""
    records, token = client.query_journal(dossier_id=dossier_id, page_size=1)
    for _ in range(500):
        if not token:
            return records
        page, token = client.query_journal(dossier_id=dossier_id, page_size=1, page_token=token)
        assert len(page) == 1  # full pages: nothing is dropped, so no page comes out short
        records += page
    raise AssertionError("the history never ended")


def test_the_history_redacts_a_held_back_document_but_keeps_the_access(dmp: Dmp) -> None:
    """Dropping the entries that name a hidden document would hide real accesses (the
    professional's listing) and leak through short pages; the id is redacted instead."""
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, CARDIOLOGIST)
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        diagnosis = cardiologist.put_document(
            dmp.dossier_id, REPORT, b"d", visibility=Visibility.HIDDEN_FROM_PATIENT
        )
        assert len(dmp.listed(cardiologist)) == 2
    secret = str(diagnosis.document_id)
    with dmp.as_patient() as patient:
        records, _ = patient.query_journal(dossier_id=dmp.dossier_id, page_size=1000)
        paged = _paged_history(patient, dmp.dossier_id)
        copy = io.BytesIO()
        patient.export_dossier(dmp.dossier_id, copy)
    with zipfile.ZipFile(copy) as zipped:
        exported = json.loads(zipped.read(archive.HISTORY))
    assert paged[: len(records)] == records
    for history in ([e for _, e in records], [e for _, e in paged]):
        assert not [e for e in history if secret in e.documents]
        by_cardiologist = [(e.action, e.documents) for e in history if e.actor_ref == CARDIOLOGIST]
        assert by_cardiologist == [("document.write", ()), ("document.list", (dmp.report_id,))]
    assert secret not in json.dumps(exported)
    listing = [
        e for e in exported if e["actor_ref"] == CARDIOLOGIST and e["action"] == "document.list"
    ]
    assert [e["documents"] for e in listing] == [[dmp.report_id]]


# -- bounds and one journal entry per request ------------------------------------------------


def test_a_notification_id_beyond_64_bits_is_invalid_not_internal(dmp: Dmp) -> None:
    with dmp.as_patient() as patient:
        assert patient.notifications(dmp.dossier_id, after_id=2**63 - 1) == []
        with pytest.raises(InvalidArgumentError, match="after_id"):
            patient.notifications(dmp.dossier_id, after_id=2**63)
    assert _last_entry(dmp.vault) == ("notifications.read", "deny", "invalid-argument")


def _journal_size(vault: RunningVault) -> int:
    with _journal(vault) as journal:
        return journal.head().seq


def test_each_access_request_leaves_exactly_one_journal_entry_denials_included(
    dmp: Dmp,
) -> None:
    """CountDocuments, DeleteDocument, SetDocumentVisibility, ChangeAccess, ListAccess,
    BreakGlass and ListNotifications: allowed, refused by the policy, refused as
    malformed by the service or by the edge, each request is one entry."""
    patient = dmp.as_patient()
    stranger = dmp.as_kind(ActorKind.PATIENT, OTHER_INS)
    regulator = dmp.as_professional(REGULATOR, specialty="medical_regulation")
    cardiologist = dmp.as_professional(CARDIOLOGIST)
    dossier, report = dmp.dossier_id, dmp.report_id
    masked = Visibility.MASKED_FROM_PROFESSIONALS
    calls: list[tuple[str, str, Callable[[], object]]] = [
        ("document.list", "allow", lambda: patient.count_documents(dossier)),
        ("document.list", "deny", lambda: stranger.count_documents(dossier)),
        ("document.visibility", "allow", lambda: patient.set_visibility(dossier, report, masked)),
        ("document.visibility", "deny", lambda: stranger.set_visibility(dossier, report, masked)),
        ("document.visibility", "deny", lambda: patient.set_visibility(dossier, "x", masked)),
        ("access.authorise", "allow", lambda: patient.authorise(dossier, CARDIOLOGIST)),
        ("access.authorise", "deny", lambda: stranger.authorise(dossier, CARDIOLOGIST)),
        ("access.authorise", "deny", lambda: patient.authorise(dossier, "123")),
        ("access.revoke", "deny", lambda: patient.revoke(dossier, NURSE)),
        ("access.consent", "allow", lambda: cardiologist.record_consent(dossier)),
        ("access.read", "allow", lambda: patient.list_access(dossier)),
        ("access.read", "deny", lambda: stranger.list_access(dossier)),
        ("access.read", "deny", lambda: regulator.list_access(dossier)),
        (
            "access.break-glass",
            "allow",
            lambda: regulator.break_glass(dossier, EmergencyReason.SAMU_REGULATION),
        ),
        (
            "access.break-glass",
            "deny",
            lambda: cardiologist.break_glass(dossier, EmergencyReason.SAMU_REGULATION),
        ),
        ("notifications.read", "allow", lambda: patient.notifications(dossier)),
        ("notifications.read", "deny", lambda: stranger.notifications(dossier)),
        ("notifications.read", "deny", lambda: patient.notifications(dossier, page_size=5000)),
        ("document.delete", "deny", lambda: stranger.delete_document(dossier, report)),
        ("document.delete", "deny", lambda: cardiologist.delete_document(dossier, report)),
        ("document.delete", "allow", lambda: patient.delete_document(dossier, report)),
        ("document.delete", "deny", lambda: patient.delete_document(dossier, report)),
    ]
    try:
        for action, decision, call in calls:
            before = _journal_size(dmp.vault)
            with contextlib.suppress(VaultError):
                call()
            assert _journal_size(dmp.vault) == before + 1, action
            assert _last_entry(dmp.vault)[:2] == (action, decision), action
    finally:
        for client in (patient, stranger, regulator, cardiologist):
            client.close()
    token = dmp.vault.token()
    with grpc.insecure_channel(dmp.vault.server.target) as channel:
        stub = DossierVaultStub(channel)
        metadata = (("authorization", f"Bearer {token}"),)
        malformed: list[tuple[str, Callable[[], object]]] = [
            (
                "access.change",
                lambda: stub.ChangeAccess(
                    pb.ChangeAccessRequest(dossier_id=dossier), metadata=metadata
                ),
            ),
            (
                "access.break-glass",
                lambda: stub.BreakGlass(
                    pb.BreakGlassRequest(dossier_id=dossier), metadata=metadata
                ),
            ),
            (
                "document.list",
                lambda: stub.CountDocuments(
                    pb.CountDocumentsRequest(dossier_id="x"), metadata=metadata
                ),
            ),
        ]
        for action, rpc in malformed:
            before = _journal_size(dmp.vault)
            with pytest.raises(grpc.RpcError):
                rpc()
            assert _journal_size(dmp.vault) == before + 1, action
            assert _last_entry(dmp.vault)[:2] == (action, "deny"), action


UNKNOWN: Any = 99  # an enum number this version does not know


@pytest.mark.parametrize(
    "decode",
    [
        lambda: wire.access_entry_from_proto(uuid.uuid4(), pb.AccessEntry(relation=UNKNOWN)),
        lambda: wire.access_entry_from_proto(
            uuid.uuid4(),
            pb.AccessEntry(relation=pb.RELATION_EMERGENCY, emergency_reason=UNKNOWN),
        ),
        lambda: wire.notification_from_proto(uuid.uuid4(), pb.Notification(kind=UNKNOWN)),
        lambda: wire.dossier_from_proto(pb.Dossier(dossier_id=str(uuid.uuid4()), state=UNKNOWN)),
        lambda: wire.dossier_from_proto(
            pb.Dossier(
                dossier_id=str(uuid.uuid4()),
                state=pb.DOSSIER_STATE_CLOSED,
                closure_reason=UNKNOWN,
            )
        ),
    ],
    ids=["relation", "emergency-reason", "notification-kind", "state", "closure-reason"],
)
def test_an_unknown_enum_value_from_a_newer_peer_is_a_vault_error(
    decode: Callable[[], object],
) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown"):
        decode()


def test_the_notification_outbox_survives_a_server_restart(db_url: str, tmp_path: Path) -> None:
    """The outbox lives in the index, not in the server's memory: a restart on the same
    data directory and database loses no notice and sends no first-access notice twice."""
    config = Config(listen="127.0.0.1:0", data_dir=tmp_path / "data", database_url=db_url)
    issuer = load_or_create_dev_issuer(config.data_dir)
    before = BackgroundServer(config).start()
    try:
        vault = RunningVault(before, issuer)
        with vault.client() as patient:
            dossier = patient.create_dossier(PATIENT_INS).dossier_id
            patient.put_document(dossier, REPORT, b"r")
            patient.authorise(dossier, CARDIOLOGIST)
        token = vault.token(ActorKind.PROFESSIONAL, CARDIOLOGIST, profession="physician")
        with vault.client(token) as cardiologist:
            cardiologist.count_documents(dossier)
        regulator = vault.token(
            ActorKind.PROFESSIONAL,
            REGULATOR,
            profession="physician",
            specialty="medical_regulation",
        )
        with vault.client(regulator) as samu:
            samu.break_glass(dossier, EmergencyReason.VITAL_EMERGENCY)
        with vault.client() as patient:
            queued = patient.notifications(dossier)
    finally:
        before.stop()
    assert [(n.kind, n.subject) for n in queued] == [
        (NotificationKind.FIRST_ACCESS, CARDIOLOGIST),
        (NotificationKind.EMERGENCY_ACCESS, REGULATOR),
    ]
    after = BackgroundServer(config).start()
    try:
        vault = RunningVault(after, issuer)
        with vault.client(token) as cardiologist:
            cardiologist.count_documents(dossier)  # seen before the restart: no new notice
        with vault.client() as patient:
            assert patient.notifications(dossier) == queued
            assert patient.notifications(dossier, after_id=queued[0].notification_id) == queued[1:]
    finally:
        after.stop()
