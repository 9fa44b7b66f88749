"""`SqlDeadlines`: the legal delays the retention job watches, on SQL: documents held
back from the patient whose release or notice is due, notices sent once, and the
dossiers whose deletion was requested (their three-month deadline).

What the delays are and what is due is the domain's (vault/domain/lifecycle.py); the job
that journals, releases and notifies is retention/destroyer.py. Not here: destruction
(`retention`), a document's visibility change itself (`documents.set_visibility`).
"""

from __future__ import annotations

import uuid

from sqlalchemy import and_, exists, insert, select, tuple_

from vault.domain.model import ClosureReason, DossierState, Notification, Visibility
from vault.index.records import DossierRecord, VersionRecord
from vault.index.sql.connection import SqlBase
from vault.index.sql.mapping import (
    VERSION_COLUMNS,
    dossier_record,
    notification_row,
    version_record,
)
from vault.index.sql.tables import DOC, D, N, V

HeldBackCursor = tuple[int, uuid.UUID]
"""(deposit time, document id) of the last document of a page."""


class SqlDeadlines(SqlBase):
    def held_back_documents(
        self, deposited_up_to_us: int, after: HeldBackCursor | None, limit: int
    ) -> list[VersionRecord]:
        """Latest versions of documents still hidden from the patient, deposited at or
        before the time, in active dossiers, oldest deposit first, after `after`."""
        held = DOC.c.visibility.op("&")(int(Visibility.HIDDEN_FROM_PATIENT)) != 0
        query = (
            select(*VERSION_COLUMNS)
            .join_from(
                DOC, V, and_(V.c.document_id == DOC.c.id, V.c.version == DOC.c.latest_version)
            )
            .join(D, D.c.id == DOC.c.dossier_id)
            .where(
                held,
                DOC.c.created_us <= deposited_up_to_us,
                D.c.state == DossierState.ACTIVE.value,
            )
            .order_by(DOC.c.created_us, DOC.c.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(tuple_(DOC.c.created_us, DOC.c.id) > tuple_(*after))
        with self._connect() as conn:
            return [version_record(row) for row in conn.execute(query).all()]

    def notify_once(self, notice: Notification) -> bool:
        """Queues `notice` unless the dossier's outbox has one of its kind about its
        subject already; whether it was queued."""
        same = exists().where(
            N.c.dossier_id == notice.dossier_id,
            N.c.kind == notice.kind.value,
            N.c.subject == notice.subject,
        )
        with self._connect(write=True) as conn:
            if conn.execute(select(same)).scalar():
                return False
            conn.execute(insert(N).values(**notification_row(notice)))
        return True

    def deletion_requests(self) -> list[DossierRecord]:
        """Dossiers whose deletion the patient asked for and that are not destroyed yet,
        oldest request first."""
        query = (
            select(D)
            .where(
                D.c.state == DossierState.CLOSED.value,
                D.c.closure_reason == ClosureReason.DELETION_REQUEST.value,
            )
            .order_by(D.c.destroy_after_us, D.c.id)
        )
        with self._connect() as conn:
            return [dossier_record(row) for row in conn.execute(query).all()]
