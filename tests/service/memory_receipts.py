"""`MemoryReceipts`: the `ReceiptIndex` port in a dict, for `MemoryIndex` (the SQL
adapter's semantics: a receipt made once, from the dossier's patient index, with its
notice; purged with it)."""

from __future__ import annotations

import threading
import uuid
from typing import Protocol, cast

from vault.domain.model import Notification
from vault.index.receipts import DeletionReceipt
from vault.index.records import DossierRecord


class _Host(Protocol):
    """What the receipts borrow of `MemoryIndex`."""

    def dossier(self, dossier_id: uuid.UUID) -> DossierRecord | None: ...

    def queue_notice(self, notice: Notification) -> None: ...


class MemoryReceipts:
    def __init__(self) -> None:
        self._receipts_lock = threading.Lock()
        self._receipts: dict[uuid.UUID, DeletionReceipt] = {}

    def record_deletion(self, notice: Notification, kept_until_us: int) -> bool:
        host = cast(_Host, self)
        with self._receipts_lock:
            record = host.dossier(notice.dossier_id)
            if notice.dossier_id in self._receipts or record is None:
                return False
            receipt = DeletionReceipt(notice.dossier_id, record.patient_index, kept_until_us)
            self._receipts[notice.dossier_id] = receipt
        host.queue_notice(notice)
        return True

    def deletion_receipt(self, dossier_id: uuid.UUID) -> DeletionReceipt | None:
        return self._receipts.get(dossier_id)

    def purge_deletion_receipts(self, now_us: int) -> int:
        with self._receipts_lock:
            lapsed = [d for d, r in self._receipts.items() if r.kept_until_us <= now_us]
            for dossier_id in lapsed:
                del self._receipts[dossier_id]
        return len(lapsed)
