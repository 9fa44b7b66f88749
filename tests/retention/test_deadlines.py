"""The retention job and CLI on the law's other delays (issue 15): a document held back
from the patient is announced two weeks after its deposit and its release by delay is
journaled once its month ran; a back-filled reimbursement line expires 24 months after
its date of care; deletion requests approaching or past their three-month deadline are
reported."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, update

from retention.destroyer import Destroyer, Journal, SigningKey
from tests.conftest import PATIENT_INS
from tests.domain.test_lifecycle import A_DAY
from tests.retention.conftest import RetentionVault
from tests.retention.test_cli import environment, retention
from tests.retention.test_destroyer import _journal_actions
from tests.server.test_access import CARDIOLOGIST, PARENT, REIMBURSEMENT, REPORT
from tests.server.test_dmp_rules import deposited_days_ago
from vault.composition import key_provider, open_journal, open_retention
from vault.domain.model import ActorKind, NotificationKind, Visibility
from vault.index.schema import DossierRow
from vault.sqlstore import make_engine


class _Later:
    """The clock of a job run `days` from now."""

    def __init__(self, days: int) -> None:
        self._shift = timedelta(days=days)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._shift


@contextmanager
def _job_in(retention_vault: RetentionVault, days: int) -> Iterator[Destroyer]:
    """The retention job as `open_retention` builds it, run `days` from now."""
    config = retention_vault.config
    keys = key_provider(config)
    journal = open_journal(config)
    with open_retention(config) as adapters:
        signing = SigningKey(config.journal_origin, keys.checkpoint_signer())
        job = Destroyer(
            adapters.index,
            adapters.blobs,
            Journal(journal, journal),
            signing,
            _Later(days),
            config.retention_rules,
        )
        try:
            yield job
        finally:
            job.close()


def test_a_held_back_document_is_announced_at_two_weeks_and_its_release_journaled_at_a_month(
    retention_vault: RetentionVault,
) -> None:
    vault = retention_vault.vault
    with vault.client() as patient:
        dossier = patient.create_dossier(PATIENT_INS).dossier_id
        patient.authorise(dossier, CARDIOLOGIST)
        patient.add_representative(dossier, PARENT)
    parent = vault.token(ActorKind.LEGAL_REPRESENTATIVE, PARENT)
    token = vault.token(ActorKind.PROFESSIONAL, CARDIOLOGIST, profession="physician")
    with vault.client(token) as cardiologist:
        held = cardiologist.put_document(
            dossier, REPORT, b"d", visibility=Visibility.HIDDEN_FROM_PATIENT
        ).document_id
        secret = cardiologist.put_document(  # a minor's care too: the holder's notices only
            dossier,
            REPORT,
            b"s",
            visibility=Visibility.HIDDEN_FROM_PATIENT | Visibility.HIDDEN_FROM_REPRESENTATIVES,
        ).document_id
    config = retention_vault.config
    with open_retention(config) as adapters:
        assert adapters.destroyer.run().release_notices == 0  # a day old: nothing due
    for document in (held, secret):
        deposited_days_ago(config, document, 15)
    with open_retention(config) as adapters:
        first, again = adapters.destroyer.run(), adapters.destroyer.run()
    assert (first.release_notices, first.released_documents) == (2, 0)
    assert (again.release_notices, again.released_documents) == (0, 0)  # told once
    with vault.client() as patient:
        notices = [(n.kind, n.subject) for n in patient.notifications(dossier)]
    assert (NotificationKind.RELEASE_NOTICE, str(held)) in notices
    assert (NotificationKind.RELEASE_NOTICE, str(secret)) in notices
    with vault.client(parent) as representative:
        told = {n.subject for n in representative.notifications(dossier)}
    assert str(held) in told
    assert str(secret) not in told
    for document in (held, secret):
        deposited_days_ago(config, document, 17)  # 32 days
    with open_retention(config) as adapters:
        done, again = adapters.destroyer.run(), adapters.destroyer.run()
    assert (done.released_documents, again.released_documents) == (2, 0)
    assert _journal_actions(retention_vault, dossier).count("document.release") == 2
    with vault.client() as patient:
        released = [n for n in patient.notifications(dossier) if n.subject == str(held)]
        assert [n.kind for n in released] == [
            NotificationKind.RELEASE_NOTICE,
            NotificationKind.DOCUMENT_RELEASED,
        ]
        secrets = [n.kind for n in patient.notifications(dossier) if n.subject == str(secret)]
        assert secrets == [NotificationKind.RELEASE_NOTICE, NotificationKind.DOCUMENT_RELEASED]
        visibility = {d.document_id: d.visibility for d in patient.iter_documents(dossier)}
    assert visibility[held] is Visibility.NORMAL  # the flag itself cleared, a new version
    assert visibility[secret] is Visibility.HIDDEN_FROM_REPRESENTATIVES
    with vault.client(parent) as representative:
        assert str(secret) not in {n.subject for n in representative.notifications(dossier)}


def test_a_reimbursement_line_back_filled_23_months_after_its_care_expires_a_month_later(
    retention_vault: RetentionVault,
) -> None:
    vault = retention_vault.vault
    with vault.client() as patient:
        dossier = patient.create_dossier(PATIENT_INS).dossier_id
    care = datetime.now(UTC) - timedelta(days=23 * 30 + 10)  # 23 months ago, give or take
    with vault.client(vault.token(ActorKind.INSURER, "cnam")) as insurer:
        late = insurer.put_document(dossier, replace(REIMBURSEMENT, care_date=care), b"l")
        fresh = insurer.put_document(dossier, REIMBURSEMENT, b"f")  # no date: its upload
    with _job_in(retention_vault, days=0) as job:
        assert job.expire_documents() == 0
    with _job_in(retention_vault, days=31) as job:  # a month later
        assert job.expire_documents() == 1
    with vault.client() as patient:
        left = {d.document_id for d in patient.iter_documents(dossier)}
    assert left == {fresh.document_id}
    assert late.document_id not in left


def _asked_days_ago(retention_vault: RetentionVault, dossier: uuid.UUID, days: int) -> None:
    engine = make_engine(retention_vault.config.index_url)
    dossiers = cast(Table, DossierRow.__table__)
    with engine.begin() as conn:
        conn.execute(
            update(dossiers)
            .where(dossiers.c.id == dossier)
            .values(destroy_after_us=dossiers.c.destroy_after_us - days * A_DAY)
        )
    engine.dispose()


def test_the_cli_reports_deletion_requests_approaching_and_past_their_deadline(
    retention_vault: RetentionVault,
) -> None:
    env = environment(retention_vault)
    vault = retention_vault.vault
    with vault.client() as patient:
        dossier = patient.create_dossier(PATIENT_INS).dossier_id
        patient.request_deletion(dossier)
    with vault.client(vault.token(ActorKind.OPERATOR, "ops-1")) as operator:
        operator.place_hold(dossier, "TJ Paris 26/00123")  # why it is not carried out
    quiet = retention(env, "deadlines", "--json")
    assert quiet.returncode == 0, quiet.stderr
    assert json.loads(quiet.stdout) == []  # asked today: on time
    listed = json.loads(retention(env, "deadlines", "--all", "--json").stdout)
    assert [(r["dossier"], r["status"], r["held"]) for r in listed] == [
        (str(dossier), "on-time", True)
    ]
    _asked_days_ago(retention_vault, dossier, 80)
    approaching = json.loads(retention(env, "deadlines", "--json").stdout)
    assert [r["status"] for r in approaching] == ["approaching"]
    _asked_days_ago(retention_vault, dossier, 20)  # 100 days
    overdue = retention(env, "deadlines")
    assert "overdue" in overdue.stdout
    assert "(legal hold)" in overdue.stdout
    assert PATIENT_INS not in overdue.stdout
