"""The notice that a deletion request was carried out, in the index: its record and its
port (issue 15, item 6).

A dossier destroyed at its holder's request loses every row but its tombstone, and the
tombstone's patient index is random bytes (ADR 0006): nothing would tell the holder. So
the retention job, once the destruction is journaled and before the tombstone, records a
**receipt** (the holder's INS blind index as the dossier kept it, and until when it is
kept) with the `deleted` notice, and the tombstone spares that notice. The gate reads
the receipt to recognise the holder of a destroyed dossier (vault/service/receipts.py);
the retention job purges receipts past their time, their notice with them.

Not here: who may read the notice (the policy, vault/domain/policy/deletion.py), the SQL
adapter (vault/index/sql/receipts.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from vault.domain.model import Notification


@dataclass(frozen=True, slots=True)
class DeletionReceipt:
    """Who held the dossier destroyed at their request, and until when they may read
    the notice of it (Unix microseconds)."""

    dossier_id: uuid.UUID
    patient_index: bytes
    kept_until_us: int


class ReceiptIndex(Protocol):
    def record_deletion(self, notice: Notification, kept_until_us: int) -> bool:
        """In one transaction, unless the dossier has a receipt already: a receipt made
        from the dossier's row (its patient index, before the tombstone replaces it),
        kept until `kept_until_us`, and `notice` queued. Whether it was recorded now."""
        ...

    def deletion_receipt(self, dossier_id: uuid.UUID) -> DeletionReceipt | None:
        """The receipt of a dossier destroyed at its holder's request, if kept."""
        ...

    def purge_deletion_receipts(self, now_us: int) -> int:
        """Removes the receipts kept until `now_us` or before, and their notices; how
        many."""
        ...
