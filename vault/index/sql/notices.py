"""`SqlNotices`: the `NoticeIndex` port on SQL: the holder's notification preferences,
a notice queued on its own, and the deposit notice queued in the transaction that
commits a document (`queue_deposit_notice`, called by `SqlDocuments.commit_version`).

Not here: which deposits are announced (vault/domain/notices.py), the outbox's reads
(`access`).
"""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import Connection, Table, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from vault.domain.model import Notification
from vault.domain.notices import Deposit, NoticePreferences, deposit_notice
from vault.index.records import VersionRecord
from vault.index.schema import NotificationPreferenceRow
from vault.index.sql.connection import SqlBase
from vault.index.sql.mapping import notification_row
from vault.index.sql.tables import D, N

PREFERENCES = cast(Table, NotificationPreferenceRow.__table__)


_NEW_DOCUMENTS = select(PREFERENCES.c.new_documents).where(
    PREFERENCES.c.dossier_id == bindparam("dossier_id")
)
_PATIENT_INDEX = select(D.c.patient_index).where(D.c.id == bindparam("dossier_id"))
"""Built once: every upload's commit reads the preference (building the statement and
its cache key per call was a sixth of the journal committer's time per upload)."""


def _preferences(conn: Connection, dossier_id: uuid.UUID) -> NoticePreferences:
    new_documents = conn.execute(_NEW_DOCUMENTS, {"dossier_id": dossier_id}).scalar()
    return NoticePreferences(new_documents=bool(new_documents))


def queue_deposit_notice(conn: Connection, record: VersionRecord) -> None:
    """In the committing transaction: the holder's notice of a new document, if they
    asked for it (the rule: `deposit_notice`). The holder is named as the journal names
    them, from the dossier's patient index."""
    if record.version != 1:
        return  # a new version of a known document: never announced, no read
    preferences = _preferences(conn, record.dossier_id)
    if not preferences.new_documents:
        return
    patient = conn.execute(_PATIENT_INDEX, {"dossier_id": record.dossier_id}).scalar()
    holder = f"ins-hmac:{bytes(patient or b'').hex()}"
    deposit = Deposit(
        record.dossier_id,
        record.document_id,
        record.version,
        record.visibility,
        record.author,
        record.created_us,
    )
    notice = deposit_notice(deposit, holder, preferences)
    if notice is not None:
        conn.execute(insert(N).values(**notification_row(notice)))


class SqlNotices(SqlBase):
    def notice_preferences(self, dossier_id: uuid.UUID) -> NoticePreferences:
        with self._connect() as conn:
            return _preferences(conn, dossier_id)

    def set_notice_preferences(
        self,
        dossier_id: uuid.UUID,
        preferences: NoticePreferences,
        changed_us: int,
        request_id: str,
    ) -> None:
        values = {
            "new_documents": preferences.new_documents,
            "changed_us": changed_us,
            "request_id": request_id,
        }
        with self._connect(write=True) as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(
                dialect.insert(PREFERENCES)
                .values(dossier_id=dossier_id, **values)
                .on_conflict_do_update(index_elements=["dossier_id"], set_=values)
            )

    def queue_notice(self, notice: Notification) -> None:
        with self._connect(write=True) as conn:
            conn.execute(insert(N).values(**notification_row(notice)))
