"""Death and creation at the edges (issue 15, items 4 and 5) through the real server, on
SQLite and PostgreSQL: a dossier closed for a death is never reopened; an operator grants
an heir a journaled, time-limited access to the documents (masked ones and a minor's
secret care excluded), never a reopening, refused when the holder objected while alive;
a legal representative opens a minor's dossier and is its representative from the first
second; a professional or the insurer's office opens one on the holder's behalf and keeps
no access from it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Table, update

from tests.conftest import OTHER_INS, PATIENT_INS, RunningVault
from tests.server.test_access import CARDIOLOGIST, REPORT, Dmp, ins
from vault.domain.clock import SystemClock
from vault.domain.heirs import HeirPurpose
from vault.domain.model import (
    ActorKind,
    ClosureReason,
    CreationMode,
    DossierState,
    Relation,
    Visibility,
)
from vault.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from vault.index.schema import HeirGrantRow
from vault.sqlstore import make_engine

HEIR_INS = OTHER_INS
CASE = "TJ Paris 26/01234"


@pytest.fixture(name="dmp")
def a_dmp(running_vault: RunningVault) -> Dmp:
    with running_vault.client() as patient:
        dossier = patient.create_dossier(PATIENT_INS)
        report = patient.put_document(dossier.dossier_id, REPORT, b"report")
    return Dmp(running_vault, str(dossier.dossier_id), str(report.document_id))


def _declare_death(dmp: Dmp) -> None:
    with dmp.as_kind(ActorKind.INSURER, "cnam") as insurer:
        insurer.close_dossier(dmp.dossier_id, ClosureReason.DEATH)


def _grant(dmp: Dmp, days: float = 30) -> None:
    expires = SystemClock().now() + timedelta(days=days)
    with dmp.as_kind(ActorKind.OPERATOR, "op-1") as operator:
        operator.grant_heir_access(
            dmp.dossier_id, HEIR_INS, HeirPurpose.CAUSE_OF_DEATH, CASE, expires
        )


def test_a_dossier_closed_for_a_death_is_never_reopened(dmp: Dmp) -> None:
    _declare_death(dmp)
    with dmp.as_patient() as patient, pytest.raises(FailedPreconditionError, match="death"):
        patient.reopen_dossier(dmp.dossier_id)
    with dmp.as_patient() as patient:
        dossier = patient.get_dossier(dossier_id=dmp.dossier_id)
    assert dossier.state is DossierState.CLOSED
    assert dossier.destroy_after is not None
    assert dossier.closed_at is not None
    assert dossier.destroy_after.year - dossier.closed_at.year == 10  # its conservation runs


def test_an_heir_reads_the_deceaseds_documents_but_not_what_was_masked_or_secret(
    dmp: Dmp,
) -> None:
    with dmp.as_patient() as patient:
        masked = patient.put_document(dmp.dossier_id, REPORT, b"m")
        patient.set_visibility(
            dmp.dossier_id, masked.document_id, Visibility.MASKED_FROM_PROFESSIONALS
        )
        secret = patient.put_document(
            dmp.dossier_id, REPORT, b"s", visibility=Visibility.HIDDEN_FROM_REPRESENTATIVES
        )
    _declare_death(dmp)
    heir = dmp.vault.client(dmp.vault.token(ActorKind.PATIENT, HEIR_INS))
    with heir, pytest.raises(PermissionDeniedError, match="dossier-not-active"):
        dmp.listed(heir)  # no grant yet: the dossier is closed to them as to anyone
    _grant(dmp)
    with dmp.vault.client(dmp.vault.token(ActorKind.PATIENT, HEIR_INS)) as heir:
        assert dmp.listed(heir) == [dmp.report_id]
        assert b"".join(heir.get_document(dmp.dossier_id, dmp.report_id)) == b"report"
        for hidden in (masked.document_id, secret.document_id):
            with pytest.raises(NotFoundError):
                heir.get_document(dmp.dossier_id, hidden)
        with pytest.raises(PermissionDeniedError, match="action-not-permitted"):
            heir.reopen_dossier(dmp.dossier_id)
        with pytest.raises(PermissionDeniedError, match="action-not-permitted"):
            heir.query_journal(dossier_id=dmp.dossier_id)
    with dmp.as_patient() as patient, pytest.raises(PermissionDeniedError):
        dmp.listed(patient)  # the dossier stays closed: no reopening by the back door
    history = dmp.vault.client(dmp.vault.token(ActorKind.AUDITOR, "audit"))
    with history:
        records, _ = history.query_journal(dossier_id=dmp.dossier_id, page_size=1000)
    reasons = [(e.action, e.reason) for _, e in records]
    assert ("dossier.heir-grant", "operator") in reasons
    assert ("document.list", "heir") in reasons
    assert ("document.read", "heir") in reasons


def test_an_heirs_access_ends_at_its_expiry(dmp: Dmp) -> None:
    _declare_death(dmp)
    _grant(dmp)
    engine = make_engine(dmp.vault.config.index_url)
    grants = HeirGrantRow.__table__
    assert isinstance(grants, Table)
    with engine.begin() as conn:  # as if its expiry had passed
        conn.execute(update(grants).values(expires_us=grants.c.granted_us + 1))
    engine.dispose()
    heir = dmp.vault.client(dmp.vault.token(ActorKind.PATIENT, HEIR_INS))
    with heir, pytest.raises(PermissionDeniedError, match="heir-access-expired"):
        dmp.listed(heir)


def test_no_heir_access_when_the_holder_objected_while_alive(dmp: Dmp) -> None:
    with dmp.as_patient() as patient:
        patient.set_posthumous_objection(dmp.dossier_id, True)
    _declare_death(dmp)
    with pytest.raises(PermissionDeniedError, match="posthumous-objection"):
        _grant(dmp)


def test_heirs_access_is_refused_to_a_dossier_not_closed_for_a_death_or_past_its_bounds(
    dmp: Dmp,
) -> None:
    with pytest.raises(PermissionDeniedError, match="not-deceased"):
        _grant(dmp)
    _declare_death(dmp)
    with pytest.raises(InvalidArgumentError, match="at most"):
        _grant(dmp, days=400)
    with pytest.raises(InvalidArgumentError):
        _grant(dmp, days=-1)
    with dmp.as_kind(ActorKind.INSURER, "cnam") as insurer, pytest.raises(PermissionDeniedError):
        insurer.grant_heir_access(
            dmp.dossier_id,
            HEIR_INS,
            HeirPurpose.ASSERT_RIGHTS,
            CASE,
            SystemClock().now() + timedelta(days=1),
        )


MINOR_INS = ins("2100675123456")
PARENT_INS = ins("1750675123457")


def test_a_parent_opens_their_childs_dossier_and_is_its_representative_from_the_start(
    running_vault: RunningVault,
) -> None:
    parent_token = running_vault.token(ActorKind.LEGAL_REPRESENTATIVE, PARENT_INS)
    with running_vault.client(parent_token) as parent:
        dossier = parent.create_dossier(MINOR_INS, CreationMode.FOR_REPRESENTED)
        document = parent.put_document(dossier.dossier_id, REPORT, b"carnet")
        rules = parent.list_access(dossier.dossier_id)
    assert [e.relation for e in rules.entries] == [Relation.REPRESENTATIVE]
    with running_vault.client(running_vault.token(ActorKind.PATIENT, MINOR_INS)) as minor:
        assert minor.get_dossier(ins=MINOR_INS).dossier_id == dossier.dossier_id  # theirs
        assert b"".join(minor.get_document(dossier.dossier_id, document.document_id)) == b"carnet"
    parent = running_vault.client(parent_token)
    with parent, pytest.raises(PermissionDeniedError, match="action-not-permitted"):
        parent.create_dossier(OTHER_INS)  # not as its holder


def test_a_pharmacist_opens_a_dossier_for_the_patient_and_keeps_no_access(
    running_vault: RunningVault,
) -> None:
    token = running_vault.token(
        ActorKind.PROFESSIONAL, CARDIOLOGIST, profession="pharmacist", specialty="pharmacy"
    )
    with running_vault.client(token) as pharmacist:
        dossier = pharmacist.create_dossier(PATIENT_INS, CreationMode.ASSISTED)
        with pytest.raises(PermissionDeniedError, match="no-authorisation"):
            pharmacist.count_documents(dossier.dossier_id)
    with running_vault.client() as patient:
        assert patient.get_dossier(ins=PATIENT_INS).dossier_id == dossier.dossier_id
        assert patient.list_access(dossier.dossier_id).entries == ()
        records, _ = patient.query_journal(dossier_id=dossier.dossier_id, page_size=100)
    created = [(e.actor_ref, e.reason) for _, e in records if e.action == "dossier.create"]
    assert created == [(CARDIOLOGIST, "assisted-creation")]  # who assisted, journaled


def test_the_insurers_office_opens_a_dossier_for_the_patient(
    running_vault: RunningVault,
) -> None:
    with running_vault.client(running_vault.token(ActorKind.INSURER, "cpam-75")) as agent:
        dossier = agent.create_dossier(PATIENT_INS, CreationMode.ASSISTED)
        with pytest.raises(PermissionDeniedError):
            agent.list_access(dossier.dossier_id)
    with running_vault.client() as patient:
        assert patient.get_dossier(ins=PATIENT_INS).state is DossierState.ACTIVE
