"""The holder is told when their deletion request is carried out (issue 15, item 6),
through the real server and the retention job, on SQLite and PostgreSQL: the destroyed
dossier's outbox keeps one `deleted` notice, which its holder alone reads by the
dossier's id, journaled, for `VAULT_DELETION_NOTICE_DAYS`; nothing else of the dossier
opens, and a destruction at the conservation deadline leaves no notice."""

from __future__ import annotations

import pytest

from tests.conftest import OTHER_INS, PATIENT_INS
from tests.retention.conftest import RetentionVault
from tests.retention.test_deadlines import _job_in
from tests.server.test_access import REPORT, ins
from vault.domain.model import ActorKind, NotificationKind
from vault.errors import NotFoundError, PermissionDeniedError


def test_the_holder_reads_the_notice_that_their_deletion_request_was_carried_out(
    retention_vault: RetentionVault,
) -> None:
    vault = retention_vault.vault
    with vault.client() as patient:
        dossier = patient.create_dossier(PATIENT_INS).dossier_id
        patient.put_document(dossier, REPORT, b"report")
        patient.request_deletion(dossier)
    with _job_in(retention_vault, 0) as job:
        report = job.run()
    assert (report.dossiers, report.deletion_notices) == (1, 1)
    with vault.client() as holder:
        notices = holder.notifications(dossier)
        watched = list(holder.watch_notifications(dossier, timeout=2))  # a portal's way
        with pytest.raises(PermissionDeniedError, match="dossier-not-active"):
            holder.count_documents(dossier)  # nothing else opens
        with pytest.raises(NotFoundError):
            holder.get_dossier(ins=PATIENT_INS)  # the INS no longer finds it
    assert [(n.kind, n.subject) for n in notices] == [(NotificationKind.DOSSIER_DELETED, "")]
    assert watched == notices
    stranger = vault.client(vault.token(ActorKind.PATIENT, OTHER_INS))
    with stranger, pytest.raises(PermissionDeniedError, match="dossier-not-active"):
        stranger.notifications(dossier)
    auditor = vault.client(vault.token(ActorKind.AUDITOR, "audit-1"))
    with auditor:
        records, _ = auditor.query_journal(dossier_id=dossier, page_size=1000)
    events = [(e.action, e.decision, e.reason, e.request_id) for _, e in records]
    destroyed = [r for a, _, _, r in events if a == "dossier.destroyed"]
    assert notices[0].request_id == destroyed[0]  # the notice names the destruction
    reads = [(d, r) for a, d, r, _ in events if a == "notifications.read"]
    assert reads == [("allow", "holder"), ("allow", "holder"), ("deny", "dossier-not-active")]
    with _job_in(retention_vault, 366) as job:  # past VAULT_DELETION_NOTICE_DAYS (365)
        job.run()
    later = vault.client()
    with later, pytest.raises(PermissionDeniedError, match="dossier-not-active"):
        later.notifications(dossier)  # the receipt and its notice are purged


def test_a_destruction_at_the_conservation_deadline_leaves_no_notice(
    retention_vault: RetentionVault,
) -> None:
    dossier = retention_vault.closed_dossier(7)
    retention_vault.ten_years_pass(dossier)
    with _job_in(retention_vault, 0) as job:
        report = job.run()
    assert (report.dossiers, report.deletion_notices) == (1, 0)
    vault = retention_vault.vault
    holder = vault.client(vault.token(subject=ins("1070175000007")))  # closed_dossier(7)
    with holder, pytest.raises(PermissionDeniedError, match="dossier-not-active"):
        holder.notifications(dossier)  # its holder is no longer known: nothing to read
