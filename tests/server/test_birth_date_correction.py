"""The holder's date of birth set or corrected after creation (issue 15, item 3),
through the real server on SQLite and PostgreSQL: the holder always (their NIR's year
and month agreeing), a representative while still one and never to a date of age, nobody
else; sealed under the dossier key as at creation; each request journaled, allowed or
denied; and the day before and the day of the 18th birthday still right after it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import OTHER_INS, RunningVault
from tests.server.test_access import CARDIOLOGIST, REPORT, ins
from tests.server.test_majority import PARENT_INS, _Birth, _today, _years_ago
from vault.domain.model import ActorKind, CreationMode, NotificationKind
from vault.errors import FailedPreconditionError, InvalidArgumentError, PermissionDeniedError


def _born_18_years_ago_ins() -> str:
    """An INS whose NIR's year and month are those of a birth 18 years ago this month."""
    born = _years_ago(18)
    return ins(f"2{born.year % 100:02d}{born.month:02d}75123456")


def test_a_corrected_date_of_birth_ends_a_representation_on_the_18th_birthday_not_before(
    running_vault: RunningVault,
) -> None:
    child_ins = _born_18_years_ago_ins()
    parent_token = running_vault.token(ActorKind.LEGAL_REPRESENTATIVE, PARENT_INS)
    holder_token = running_vault.token(ActorKind.PATIENT, child_ins)
    with running_vault.client(parent_token) as parent:
        dossier_id = parent.create_dossier(child_ins, CreationMode.FOR_REPRESENTED).dossier_id
        parent.put_document(dossier_id, REPORT, b"carnet de sante")
        parent.set_birth_date(dossier_id, _years_ago(18, days=-1))  # 18 tomorrow
        assert parent.count_documents(dossier_id)  # the day before the 18th birthday
        with pytest.raises(PermissionDeniedError, match="holder-of-age"):
            parent.set_birth_date(dossier_id, _years_ago(18))  # would be of age today
        assert parent.count_documents(dossier_id)  # the refusal changed nothing
    birth = _Birth(running_vault, dossier_id)
    assert birth.read() == _years_ago(18, days=-1)  # sealed: only the dossier key opens it
    with running_vault.client(holder_token) as holder:
        with pytest.raises(FailedPreconditionError, match="INS"):
            holder.set_birth_date(dossier_id, _years_ago(10))  # not the NIR's year
        with pytest.raises(InvalidArgumentError, match="future"):
            holder.set_birth_date(dossier_id, _today() + timedelta(days=1))
        holder.set_birth_date(dossier_id, _years_ago(18))  # the holder corrects it: 18 today
    assert birth.read() == _years_ago(18)
    with running_vault.client(parent_token) as parent:
        with pytest.raises(PermissionDeniedError, match="not-representative"):
            parent.count_documents(dossier_id)  # the day of the 18th birthday
        with pytest.raises(PermissionDeniedError, match="not-representative"):
            parent.set_birth_date(dossier_id, _years_ago(10))  # no longer one: no way back
    with running_vault.client(holder_token) as holder:
        notices = holder.notifications(dossier_id)
        records, _ = holder.query_journal(dossier_id=dossier_id, page_size=1000)
    assert [n.kind for n in notices].count(NotificationKind.REPRESENTATIVE_ENDED) == 1
    decided = [(e.action, e.reason) for _, e in records if e.action == "dossier.birth-date"]
    assert decided == [
        ("dossier.birth-date", "representative"),
        ("dossier.birth-date", "holder-of-age"),
        ("dossier.birth-date", "failed"),
        ("dossier.birth-date", "invalid-argument"),
        ("dossier.birth-date", "holder"),
        ("dossier.birth-date", "not-representative"),
    ]


def test_nobody_but_the_patient_side_sets_a_date_of_birth(running_vault: RunningVault) -> None:
    holder_ins = _born_18_years_ago_ins()
    with running_vault.client(running_vault.token(ActorKind.PATIENT, holder_ins)) as holder:
        dossier_id = holder.create_dossier(holder_ins).dossier_id
        holder.authorise(dossier_id, CARDIOLOGIST)
    others = [
        (running_vault.token(ActorKind.PATIENT, OTHER_INS), "not-holder"),
        (
            running_vault.token(ActorKind.PROFESSIONAL, CARDIOLOGIST, profession="physician"),
            "action-not-permitted",
        ),
        (running_vault.token(ActorKind.INSURER, "cnam"), "actor-never-allowed"),
        (running_vault.token(ActorKind.LEGAL_REPRESENTATIVE, PARENT_INS), "not-representative"),
    ]
    for token, reason in others:
        other = running_vault.client(token)
        with other, pytest.raises(PermissionDeniedError, match=reason):
            other.set_birth_date(dossier_id, _years_ago(10))
    assert _Birth(running_vault, dossier_id).index.sealed_birth(dossier_id) is None
