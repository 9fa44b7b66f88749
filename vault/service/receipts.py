"""Whether a patient is the holder of a dossier, for the gate, including a dossier
destroyed at their request: its tombstone's patient index is random bytes, so the
holder is recognised by the receipt the retention job recorded (vault/index/receipts.py),
while it is kept. Read only for a destroyed dossier: one index read, nothing else.

Not here: what such a holder may do (vault/domain/policy/deletion.py: read the notice).
"""

from __future__ import annotations

import hmac

from vault.domain.model import DossierState
from vault.index.receipts import ReceiptIndex
from vault.index.records import DossierRecord


def is_holder(
    index: ReceiptIndex, dossier: DossierRecord, patient_index: bytes | None, now_us: int
) -> bool:
    """Whether `patient_index` (a patient caller's) is the dossier's holder's."""
    if patient_index is None:
        return False
    if dossier.state is not DossierState.DESTROYED:
        return patient_index == dossier.patient_index
    receipt = index.deletion_receipt(dossier.dossier_id)
    if receipt is None or receipt.kept_until_us <= now_us:
        return False
    return hmac.compare_digest(receipt.patient_index, patient_index)
