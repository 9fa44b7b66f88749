"""Care teams and consent for one consultation (issue 16, items 1 and 2) through the real
server, on SQLite and PostgreSQL: a team's members read by RPPS or by the structure in
their token, under the matrix, until the patient refuses the team; a block wins over
the team; the name is sealed in the index; a declared consent opens the day only, is
journaled, announced, and counted per professional for auditors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.conftest import PATIENT_INS, RunningVault
from tests.server.test_access import REPORT, SCAN, Dmp, ins, rpps
from vault.auth import mint_token
from vault.client import VaultClient
from vault.domain.clock import france_date, to_us
from vault.domain.model import (
    DECLARED_CONSENT,
    ActorKind,
    NotificationKind,
    Relation,
)
from vault.domain.policy.consent import THE_DAY
from vault.errors import (
    IntegrityError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from vault.journal.consents import day_bounds, declared_consents
from vault.sqlstore import make_engine

CARDIOLOGIST = rpps("3000000001")
HOSPITAL_NURSE = rpps("3000000002")  # not listed: a member through her structure
STRANGER = rpps("3000000003")
PHARMACIST = rpps("3000000004")
HOSPITAL = "750712184"  # a FINESS
OTHER_HOSPITAL = "130783293"
TEAM_NAME = "Service d'addictologie, CHU"


def _professional(
    dmp: Dmp, number: str, profession: str = "physician", structure: str | None = None
) -> VaultClient:
    token = mint_token(
        dmp.vault.issuer,
        kind=ActorKind.PROFESSIONAL,
        subject=number,
        ttl_seconds=600,
        profession=profession,
        structure=structure,
    )
    return dmp.vault.client(token)


@pytest.fixture
def dossier(running_vault: RunningVault) -> Dmp:
    """A dossier holding a report and a scan (`report_id`: the scan's id)."""
    with running_vault.client() as patient:
        created = patient.create_dossier(PATIENT_INS)
        patient.put_document(created.dossier_id, REPORT, b"report")
        scan = patient.put_document(created.dossier_id, SCAN, b"scan")
    return Dmp(running_vault, str(created.dossier_id), str(scan.document_id))


def _reasons(dmp: Dmp, action: str) -> list[tuple[str, str]]:
    return [(h[0], h[2]) for h in dmp.history() if h[1] == action]


def test_a_team_lets_its_members_in_by_rpps_and_by_structure_until_the_patient_refuses_it(
    dossier: Dmp,
) -> None:
    dmp = dossier
    with dmp.as_patient() as patient:
        team = patient.add_care_team(dmp.dossier_id, TEAM_NAME, [CARDIOLOGIST, HOSPITAL])
        rules = patient.list_access(dmp.dossier_id)
    assert [(t.team_id, t.name, t.members) for t in rules.teams] == [
        (team.team_id, TEAM_NAME, tuple(sorted([CARDIOLOGIST, HOSPITAL])))
    ]
    assert team.expires_us > team.created_us
    with _professional(dmp, CARDIOLOGIST) as cardiologist:
        assert len(dmp.listed(cardiologist)) == 2
    with _professional(dmp, HOSPITAL_NURSE, "nurse", structure=HOSPITAL) as nurse:
        nurse.list_documents(dmp.dossier_id)
    for outsider in (
        _professional(dmp, STRANGER),
        _professional(dmp, HOSPITAL_NURSE, "nurse", structure=OTHER_HOSPITAL),
    ):
        with outsider, pytest.raises(PermissionDeniedError, match="no-authorisation"):
            outsider.list_documents(dmp.dossier_id)
    with dmp.as_patient() as patient:
        patient.remove_care_team(dmp.dossier_id, team.team_id)
        assert patient.list_access(dmp.dossier_id).teams == ()
        with pytest.raises(NotFoundError):
            patient.remove_care_team(dmp.dossier_id, team.team_id)
    with (
        _professional(dmp, CARDIOLOGIST) as cardiologist,
        pytest.raises(PermissionDeniedError, match="no-authorisation"),
    ):
        cardiologist.list_documents(dmp.dossier_id)
    assert _reasons(dmp, "document.list") == [
        (CARDIOLOGIST, "care-team"),
        (HOSPITAL_NURSE, "care-team"),
        (STRANGER, "no-authorisation"),
        (HOSPITAL_NURSE, "no-authorisation"),
        (CARDIOLOGIST, "no-authorisation"),
    ]
    assert [h[2] for h in dmp.history() if h[1] == "access.team-add"] == ["holder"]
    assert [h[2] for h in dmp.history() if h[1] == "access.team-remove"] == ["holder", "not-found"]
    with dmp.as_patient() as patient:
        notices = patient.notifications(dmp.dossier_id)
    first = [n.subject for n in notices if n.kind is NotificationKind.FIRST_ACCESS]
    assert first == [CARDIOLOGIST, HOSPITAL_NURSE]


def test_a_team_never_gives_more_than_the_matrix_nor_beats_a_block(dossier: Dmp) -> None:
    dmp = dossier
    with dmp.as_patient() as patient:
        patient.add_care_team(dmp.dossier_id, "Pharmacie", [PHARMACIST, CARDIOLOGIST])
        patient.block(dmp.dossier_id, CARDIOLOGIST)
    with _professional(dmp, PHARMACIST, "pharmacist") as pharmacist:
        assert dmp.listed(pharmacist) == []  # reports and imaging: not a pharmacist's
        with pytest.raises(NotFoundError):
            pharmacist.get_document(dmp.dossier_id, dmp.report_id)  # the scan
    with (
        _professional(dmp, CARDIOLOGIST) as cardiologist,
        pytest.raises(PermissionDeniedError, match="blocked"),
    ):
        cardiologist.list_documents(dmp.dossier_id)


def test_only_the_patient_side_adds_or_refuses_a_team_and_bad_teams_are_refused(
    dossier: Dmp,
) -> None:
    dmp = dossier
    with dmp.as_patient() as patient:
        team = patient.add_care_team(dmp.dossier_id, "Cabinet", [CARDIOLOGIST])
        bad_luhn = STRANGER[:-1] + str((int(STRANGER[-1]) + 1) % 10)
        for members in ([], ["not-an-id"], [bad_luhn]):
            with pytest.raises(InvalidArgumentError):
                patient.add_care_team(dmp.dossier_id, "Cabinet", members)
        past = datetime.now(UTC) - timedelta(days=1)
        with pytest.raises(InvalidArgumentError):
            patient.add_care_team(dmp.dossier_id, "Cabinet", [CARDIOLOGIST], expires=past)
    with _professional(dmp, CARDIOLOGIST) as member:
        with pytest.raises(PermissionDeniedError, match="action-not-permitted"):
            member.add_care_team(dmp.dossier_id, "Mine", [STRANGER])
        with pytest.raises(PermissionDeniedError, match="action-not-permitted"):
            member.remove_care_team(dmp.dossier_id, team.team_id)
        with pytest.raises(PermissionDeniedError, match="action-not-permitted"):
            member.list_access(dmp.dossier_id)


def test_a_team_lapses_at_its_expiry(dossier: Dmp) -> None:
    dmp = dossier
    soon = datetime.now(UTC) + timedelta(days=30)
    with dmp.as_patient() as patient:
        team = patient.add_care_team(dmp.dossier_id, "Cabinet", [CARDIOLOGIST], expires=soon)
    assert team.expires_us == to_us(soon)
    engine = make_engine(dmp.vault.config.index_url)
    with engine.begin() as conn:  # the month passes
        conn.execute(text("UPDATE care_teams SET expires_us = 1"))
    engine.dispose()
    with (
        _professional(dmp, CARDIOLOGIST) as cardiologist,
        pytest.raises(PermissionDeniedError, match="no-authorisation"),
    ):
        cardiologist.list_documents(dmp.dossier_id)


def test_a_teams_name_is_sealed_in_the_index_and_bound_to_its_team(dossier: Dmp) -> None:
    dmp = dossier
    with dmp.as_patient() as patient:
        first = patient.add_care_team(dmp.dossier_id, TEAM_NAME, [CARDIOLOGIST])
        patient.add_care_team(dmp.dossier_id, "Cabinet dentaire", [STRANGER])
    engine = make_engine(dmp.vault.config.index_url)
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT id, sealed_name FROM care_teams")).all()
        boxes: dict[object, bytes] = {row[0]: bytes(row[1]) for row in rows}
        assert all(TEAM_NAME.encode() not in bytes(box) for box in boxes.values())
        assert all(b"addictologie" not in bytes(box) for box in boxes.values())
        # a name moved onto another team does not open: swap the two boxes
        one, other = list(boxes)
        swap = "UPDATE care_teams SET sealed_name = :box WHERE id = :id"
        conn.execute(text(swap), {"box": boxes[other], "id": one})
        conn.execute(text(swap), {"box": boxes[one], "id": other})
    engine.dispose()
    with dmp.as_patient() as patient, pytest.raises(IntegrityError) as failed:
        patient.list_access(dmp.dossier_id)
    assert TEAM_NAME not in str(failed.value)
    assert str(first.team_id) not in str(failed.value)


def test_a_declared_consent_opens_the_day_is_announced_and_keeps_a_longer_authorisation(
    dossier: Dmp,
) -> None:
    dmp = dossier
    with _professional(dmp, STRANGER) as stranger:
        entry = stranger.record_consent(dmp.dossier_id)
        assert len(dmp.listed(stranger)) == 2
    assert entry.expires_us == THE_DAY.until_us(entry.created_us)
    assert entry.expires_us is not None
    assert entry.expires_us - entry.created_us <= 25 * 3600 * 1_000_000
    assert entry.detail == DECLARED_CONSENT
    with dmp.as_patient() as patient:
        listed = [
            (e.subject, e.detail)
            for e in patient.list_access(dmp.dossier_id).entries
            if e.relation is Relation.AUTHORISED
        ]
        notices = [(n.kind, n.subject) for n in patient.notifications(dmp.dossier_id)]
        patient.authorise(dmp.dossier_id, CARDIOLOGIST)
    assert listed == [(STRANGER, DECLARED_CONSENT)]
    assert notices == [(NotificationKind.FIRST_ACCESS, STRANGER)]
    with _professional(dmp, CARDIOLOGIST) as cardiologist:
        kept = cardiologist.record_consent(dmp.dossier_id)
    assert kept.detail is None
    assert kept.expires_us is not None
    assert kept.expires_us - kept.created_us > 300 * 86400 * 10**6
    assert _reasons(dmp, "access.consent") == [(STRANGER, "consent"), (CARDIOLOGIST, "consent")]


def test_auditors_see_how_many_dossiers_each_professional_declared_consent_for_a_day(
    dossier: Dmp,
) -> None:
    dmp = dossier
    dossiers = [dmp.dossier_id]
    for n in range(3):  # three more patients, strangers to each other
        holder = ins(f"1841276451{100 + n}")
        with dmp.vault.client(dmp.vault.token(ActorKind.PATIENT, holder)) as patient:
            dossiers.append(str(patient.create_dossier(holder).dossier_id))
    with _professional(dmp, STRANGER) as busy:
        first = busy.record_consent(dossiers[0])
        for dossier_id in dossiers:
            busy.record_consent(dossier_id)  # the first patient's declared twice
    with _professional(dmp, CARDIOLOGIST, "nurse") as quiet:
        quiet.record_consent(dossiers[1])
    day = france_date(first.created_us)
    since, until = day_bounds(day)
    with dmp.as_kind(ActorKind.AUDITOR, "cnil") as auditor:
        found = declared_consents(auditor.export_journal(since=since, until=until))
    assert [(d.professional, d.profession, d.declarations, d.dossiers) for d in found] == [
        (STRANGER, "physician", 5, 4),
        (CARDIOLOGIST, "nurse", 1, 1),
    ]
