"""`SqlReceipts`: the `ReceiptIndex` port on SQL (table `deletion_receipts`, revision
0013): the receipt of a dossier destroyed at its holder's request, made from the dossier
row before its tombstone, with its `deleted` notice; read by the gate; purged by the
retention job. `SqlRetention.complete_destruction` spares the `deleted` notice.
"""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import Table, delete, exists, insert, literal, select

from vault.domain.model import Notification, NotificationKind
from vault.index.receipts import DeletionReceipt
from vault.index.schema import DeletionReceiptRow
from vault.index.sql.connection import SqlBase
from vault.index.sql.mapping import notification_row
from vault.index.sql.tables import D, N

RECEIPTS = cast(Table, DeletionReceiptRow.__table__)
DELETED = NotificationKind.DOSSIER_DELETED.value


class SqlReceipts(SqlBase):
    def record_deletion(self, notice: Notification, kept_until_us: int) -> bool:
        dossier_id = notice.dossier_id
        receipt = select(D.c.id, D.c.patient_index, literal(kept_until_us)).where(
            D.c.id == dossier_id
        )
        with self._connect(write=True) as conn:
            if conn.execute(select(exists().where(RECEIPTS.c.dossier_id == dossier_id))).scalar():
                return False
            conn.execute(
                insert(RECEIPTS).from_select(
                    ["dossier_id", "patient_index", "kept_until_us"], receipt
                )
            )
            conn.execute(insert(N).values(**notification_row(notice)))
        return True

    def deletion_receipt(self, dossier_id: uuid.UUID) -> DeletionReceipt | None:
        query = select(RECEIPTS.c.patient_index, RECEIPTS.c.kept_until_us).where(
            RECEIPTS.c.dossier_id == dossier_id
        )
        with self._connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else DeletionReceipt(dossier_id, bytes(row[0]), int(row[1]))

    def purge_deletion_receipts(self, now_us: int) -> int:
        lapsed = select(RECEIPTS.c.dossier_id).where(RECEIPTS.c.kept_until_us <= now_us)
        with self._connect(write=True) as conn:
            conn.execute(delete(N).where(N.c.dossier_id.in_(lapsed), N.c.kind == DELETED))
            purged = conn.execute(delete(RECEIPTS).where(RECEIPTS.c.kept_until_us <= now_us))
            return int(purged.rowcount)
