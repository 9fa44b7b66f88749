"""A protected adult's legal representative (tutelle, curatelle) holds the right until
the expiry recorded with the representation (issue 15, item 3), through the real server
on SQLite and PostgreSQL: listed with its expiry, refused from that moment as a stranger
is, the holder told once. The passing of the months is played by writing the expiry
back into the index, as the server would have recorded it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import PATIENT_INS, RunningVault
from tests.server.test_access import REPORT, Dmp, ins
from vault.domain.clock import to_us
from vault.domain.model import ActorKind, CreationMode, NotificationKind, Relation
from vault.errors import FailedPreconditionError, InvalidArgumentError, PermissionDeniedError
from vault.index.sql import SqlIndex
from vault.sqlstore import make_engine

GUARDIAN_INS = ins("1650675123459")
DEPUTY_INS = ins("2700675123451")


@pytest.fixture(name="dmp")
def a_protected_adults_dossier(running_vault: RunningVault) -> Dmp:
    with running_vault.client() as patient:
        dossier = patient.create_dossier(PATIENT_INS)
        report = patient.put_document(dossier.dossier_id, REPORT, b"report")
    return Dmp(running_vault, str(dossier.dossier_id), str(report.document_id))


def _in(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def test_a_guardians_rights_end_at_the_recorded_expiry_and_the_holder_is_told_once(
    dmp: Dmp,
) -> None:
    until = _in(365 * 5)
    with dmp.as_patient() as patient:
        added = patient.add_representative(dmp.dossier_id, GUARDIAN_INS, until=until)
        listed = [e for e in patient.list_access(dmp.dossier_id).entries]
    assert added.expires_us == to_us(until)
    assert [(e.relation, e.expires_us) for e in listed] == [
        (Relation.REPRESENTATIVE, added.expires_us)
    ]
    guardian = dmp.as_kind(ActorKind.LEGAL_REPRESENTATIVE, GUARDIAN_INS)
    with guardian:
        assert guardian.count_documents(dmp.dossier_id)  # the measure runs
    index = SqlIndex(make_engine(dmp.vault.config.index_url))
    lapsed = replace(added, expires_us=to_us(_in(-1 / 24)))  # an hour ago: the measure ended
    index.set_relationship(lapsed, "test-measure-ended")
    with dmp.as_kind(ActorKind.LEGAL_REPRESENTATIVE, GUARDIAN_INS) as guardian:
        with pytest.raises(PermissionDeniedError, match="not-representative"):
            guardian.count_documents(dmp.dossier_id)
        with pytest.raises(PermissionDeniedError):  # later requests: refused, no 2nd notice
            guardian.list_access(dmp.dossier_id)
    with dmp.as_patient() as patient:
        assert patient.list_access(dmp.dossier_id).entries == ()  # the representation ended
        notices = patient.notifications(dmp.dossier_id)
    ended = [n.subject for n in notices if n.kind is NotificationKind.REPRESENTATIVE_ENDED]
    assert ended == [added.subject]


def test_an_expiry_is_ahead_within_a_measures_longest_never_self_recorded_nor_beyond_ones_own(
    dmp: Dmp,
) -> None:
    with dmp.as_patient() as patient:
        with pytest.raises(InvalidArgumentError, match="future"):
            patient.add_representative(dmp.dossier_id, GUARDIAN_INS, until=_in(-1))
        with pytest.raises(InvalidArgumentError, match="20 years"):
            patient.add_representative(dmp.dossier_id, GUARDIAN_INS, until=_in(365 * 21))
        patient.add_representative(dmp.dossier_id, GUARDIAN_INS, until=_in(30))
    with dmp.as_kind(ActorKind.LEGAL_REPRESENTATIVE, GUARDIAN_INS) as guardian:
        with pytest.raises(FailedPreconditionError, match="their own"):  # no longer term
            guardian.add_representative(dmp.dossier_id, GUARDIAN_INS)
        with pytest.raises(FailedPreconditionError, match="their own"):
            guardian.add_representative(dmp.dossier_id, GUARDIAN_INS, until=_in(365))
        with pytest.raises(FailedPreconditionError, match="their own measure"):
            guardian.add_representative(dmp.dossier_id, DEPUTY_INS)  # no end: beyond theirs
        with pytest.raises(FailedPreconditionError, match="their own measure"):
            guardian.add_representative(dmp.dossier_id, DEPUTY_INS, until=_in(60))
        deputy = guardian.add_representative(dmp.dossier_id, DEPUTY_INS, until=_in(20))
    assert deputy.expires_us is not None  # within the guardian's term
    history = [(action, reason) for _, action, reason, _, _ in dmp.history()]
    assert history.count(("access.representative-add", "invalid-argument")) == 2
    assert history.count(("access.representative-add", "failed")) == 4


def test_a_guardian_opens_a_protected_adults_dossier_until_the_measure_ends(
    running_vault: RunningVault,
) -> None:
    adult = ins("1690675123458")
    guardian_token = running_vault.token(ActorKind.LEGAL_REPRESENTATIVE, GUARDIAN_INS)
    until = _in(365 * 3)
    own = running_vault.client(running_vault.token(ActorKind.PATIENT, adult))
    with own, pytest.raises(InvalidArgumentError, match="representative"):  # not their mode
        own.create_dossier(adult, representative_until=until)
    with running_vault.client(guardian_token) as guardian:
        with pytest.raises(InvalidArgumentError, match="20 years"):
            guardian.create_dossier(
                adult, CreationMode.FOR_REPRESENTED, representative_until=_in(365 * 21)
            )
        dossier = guardian.create_dossier(
            adult, CreationMode.FOR_REPRESENTED, representative_until=until
        ).dossier_id
        assert guardian.count_documents(dossier) == {}  # the measure runs
    with running_vault.client(running_vault.token(ActorKind.PATIENT, adult)) as holder:
        entries = holder.list_access(dossier).entries
    assert [(e.relation, e.expires_us) for e in entries] == [
        (Relation.REPRESENTATIVE, to_us(until))
    ]
