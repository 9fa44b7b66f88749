"""Issue 16, items 4 to 6, through the real server on SQLite and PostgreSQL: break-the-glass
by the matrix's professions, the SAMU regulator's access and break-the-glass objected to
separately, the holder and the treating physician told, an objection closing an open
window for good; occupational physicians only under the holder's express grant; the
matrix's write cells and an unknown profession."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PATIENT_INS
from tests.server import test_access
from tests.server.test_access import (
    CARDIOLOGIST,
    PHARMACIST,
    REGULATOR,
    REPORT,
    SCAN,
    TREATING,
    Dmp,
    rpps,
    vault_with_matrix,
)
from vault.client import VaultClient
from vault.domain.model import (
    ActorKind,
    DocumentCategory,
    DocumentMetadata,
    EmergencyReason,
    NotificationKind,
    Relation,
)
from vault.errors import PermissionDeniedError

dmp = test_access.dmp  # the fixture: a dossier with a report and a treating physician
OCCUPATIONAL = rpps("3000000004")
STRANGER = rpps("3000000006")
PREVENTION = DocumentMetadata("Bilan", DocumentCategory.PREVENTION, "text/plain")
URGENT, SAMU = EmergencyReason.URGENT_CARE, EmergencyReason.SAMU_REGULATION


def _regulator(dmp: Dmp) -> VaultClient:
    return dmp.as_professional(REGULATOR, "physician", "medical_regulation")


def _occupational(dmp: Dmp) -> VaultClient:
    return dmp.as_professional(OCCUPATIONAL, "physician", "occupational_medicine")


def _reads_report(dmp: Dmp, client: VaultClient) -> bytes:
    return b"".join(client.get_document(dmp.dossier_id, dmp.report_id))


def test_any_physician_breaks_the_glass_and_the_holder_and_treating_physician_are_told(
    dmp: Dmp,
) -> None:
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        cardiologist.break_glass(dmp.dossier_id, URGENT)
        assert _reads_report(dmp, cardiologist) == b"report"
        with pytest.raises(PermissionDeniedError, match="action-not-permitted"):
            cardiologist.notifications(dmp.dossier_id)  # the outbox is not theirs
    with dmp.as_patient() as patient:
        told = [(n.kind, n.subject) for n in patient.notifications(dmp.dossier_id)]
    assert (NotificationKind.EMERGENCY_ACCESS, CARDIOLOGIST) in told
    with dmp.as_professional(TREATING) as treating:
        copies = treating.notifications(dmp.dossier_id)
    assert [(n.kind, n.subject, n.detail) for n in copies] == [
        (NotificationKind.EMERGENCY_ACCESS, CARDIOLOGIST, URGENT.value)
    ]


def test_the_regulators_access_and_break_the_glass_are_objected_to_separately(
    dmp: Dmp,
) -> None:
    with dmp.as_patient() as patient:
        patient.set_regulation_access(dmp.dossier_id, allowed=False)
        rules = patient.list_access(dmp.dossier_id)
        assert (rules.emergency_refused, rules.regulation_refused) == (False, True)
    with _regulator(dmp) as regulator, pytest.raises(PermissionDeniedError, match="regulation"):
        regulator.break_glass(dmp.dossier_id, SAMU)
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        cardiologist.break_glass(dmp.dossier_id, URGENT)
    with dmp.as_patient() as patient:
        patient.set_regulation_access(dmp.dossier_id, allowed=True)
        patient.set_break_glass(dmp.dossier_id, allowed=False)
        rules = patient.list_access(dmp.dossier_id)
        assert (rules.emergency_refused, rules.regulation_refused) == (True, False)
    with _regulator(dmp) as regulator:
        regulator.break_glass(dmp.dossier_id, SAMU)
        assert _reads_report(dmp, regulator) == b"report"
    with (
        dmp.as_professional(STRANGER) as stranger,
        pytest.raises(PermissionDeniedError, match="emergency-refused"),
    ):
        stranger.break_glass(dmp.dossier_id, URGENT)
    reasons = [(h[0], h[2], h[3]) for h in dmp.history() if h[1] == "access.break-glass"]
    assert reasons == [
        (REGULATOR, "regulation-refused", False),
        (CARDIOLOGIST, "emergency", True),
        (REGULATOR, "samu-regulation", True),
        (STRANGER, "emergency-refused", False),
    ]


def test_an_objection_closes_an_open_window_for_good(dmp: Dmp) -> None:
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        cardiologist.break_glass(dmp.dossier_id, URGENT)
        assert _reads_report(dmp, cardiologist) == b"report"
    with dmp.as_patient() as patient:
        patient.set_emergency_access(dmp.dossier_id, allowed=False)  # the older field: both
        rules = patient.list_access(dmp.dossier_id)
        assert (rules.emergency_refused, rules.regulation_refused) == (True, True)
        assert Relation.EMERGENCY not in {e.relation for e in rules.entries}
        patient.set_emergency_access(dmp.dossier_id, allowed=True)
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        with pytest.raises(PermissionDeniedError, match="no-authorisation"):
            _reads_report(dmp, cardiologist)  # allowing again reopened nothing
        cardiologist.break_glass(dmp.dossier_id, URGENT)  # a new glass, a new notice
        assert _reads_report(dmp, cardiologist) == b"report"
    with dmp.as_patient() as patient:
        notices = patient.notifications(dmp.dossier_id)
    emergencies = [n for n in notices if n.kind is NotificationKind.EMERGENCY_ACCESS]
    assert len(emergencies) == 2


def test_the_regulators_objection_closes_only_the_regulators_window(dmp: Dmp) -> None:
    with _regulator(dmp) as regulator:
        regulator.break_glass(dmp.dossier_id, SAMU)
    with dmp.as_professional(CARDIOLOGIST) as cardiologist:
        cardiologist.break_glass(dmp.dossier_id, URGENT)
    with dmp.as_patient() as patient:
        patient.set_regulation_access(dmp.dossier_id, allowed=False)
        windows = {
            e.subject
            for e in patient.list_access(dmp.dossier_id).entries
            if e.relation is Relation.EMERGENCY
        }
    assert windows == {CARDIOLOGIST}
    with _regulator(dmp) as regulator, pytest.raises(PermissionDeniedError):
        _reads_report(dmp, regulator)


def test_an_occupational_physician_reads_only_under_the_holders_express_grant(
    dmp: Dmp,
) -> None:
    with dmp.as_patient() as patient:
        prevention = patient.put_document(dmp.dossier_id, PREVENTION, b"bilan")
        patient.authorise(dmp.dossier_id, OCCUPATIONAL)  # an authorisation is not a grant
    with _occupational(dmp) as occupational:
        for attempt in (
            lambda: dmp.listed(occupational),
            lambda: occupational.record_consent(dmp.dossier_id),
            lambda: occupational.break_glass(dmp.dossier_id, URGENT),
        ):
            with pytest.raises(PermissionDeniedError, match="no-occupational-grant"):
                attempt()
    with dmp.as_patient() as patient:
        granted = patient.grant_occupational(dmp.dossier_id, OCCUPATIONAL)
        assert (granted.relation, granted.subject) == (Relation.OCCUPATIONAL, OCCUPATIONAL)
    with _occupational(dmp) as occupational:
        assert dmp.listed(occupational) == [str(prevention.document_id)]  # its matrix row
    with dmp.as_patient() as patient:
        patient.revoke_occupational(dmp.dossier_id, OCCUPATIONAL)
    with _occupational(dmp) as occupational, pytest.raises(PermissionDeniedError):
        dmp.listed(occupational)
    grants = [(h[1], h[2]) for h in dmp.history() if "occupational" in h[1]]
    assert grants == [
        ("access.occupational-grant", "holder"),
        ("access.occupational-revoke", "holder"),
    ]


def test_a_profession_writes_only_what_its_matrix_row_gives(dmp: Dmp) -> None:
    with dmp.as_patient() as patient:
        patient.authorise(dmp.dossier_id, PHARMACIST)
        patient.authorise(dmp.dossier_id, STRANGER)
    with dmp.as_professional(PHARMACIST, "pharmacist", "officine") as pharmacist:
        with pytest.raises(PermissionDeniedError, match="category-not-writable"):
            pharmacist.put_document(dmp.dossier_id, SCAN, b"scan")
        pharmacist.put_document(dmp.dossier_id, PREVENTION, b"bilan")
    with dmp.as_professional(STRANGER, "astrologer", "") as stranger:
        assert dmp.listed(stranger) == []  # an unknown profession reads nothing
        with pytest.raises(PermissionDeniedError, match="category-not-writable"):
            stranger.put_document(dmp.dossier_id, REPORT, b"report")


def test_the_operators_matrix_opens_break_the_glass_to_a_profession(
    db_url: str, tmp_path: Path
) -> None:
    nurses = '[professions.nurse]\nread = ["reports"]\nemergency = true\n'
    with vault_with_matrix(db_url, tmp_path, nurses) as vault:
        with vault.client() as patient:
            dossier = patient.create_dossier(PATIENT_INS).dossier_id
            patient.put_document(dossier, REPORT, b"r")
        nurse_token = vault.token(ActorKind.PROFESSIONAL, STRANGER, profession="nurse")
        with vault.client(nurse_token) as nurse:
            nurse.break_glass(dossier, URGENT)
            assert len(list(nurse.iter_documents(dossier))) == 1
        physician = vault.token(ActorKind.PROFESSIONAL, CARDIOLOGIST, profession="physician")
        with vault.client(physician) as cardiologist, pytest.raises(PermissionDeniedError):
            cardiologist.break_glass(dossier, URGENT)  # not in this matrix
