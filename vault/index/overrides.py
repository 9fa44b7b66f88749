"""`OverrideIndex`: the index's port for the patient's overrides of the authorisation
matrix (vault/domain/policy/overrides.py decides what they do; the SQL side is
vault/index/sql/overrides.py). Not here: who may change them (the policy), the journal.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from vault.domain.model import DocumentCategory, MatrixOverride


class OverrideIndex(Protocol):
    def matrix_overrides(
        self, dossier_id: uuid.UUID, subject: str | None = None
    ) -> tuple[MatrixOverride, ...]:
        """A dossier's overrides (of one professional's, `subject`), by professional
        and category."""
        ...

    def set_matrix_override(self, override: MatrixOverride, request_id: str) -> None:
        """Stores `override` in place of that professional's for that category, and
        records it in the access trail (`access_changes`, `OverrideTrail`: "set", after
        a "removed" of the replaced override when it was of the other kind) in the same
        transaction."""
        ...

    def clear_matrix_override(
        self,
        dossier_id: uuid.UUID,
        subject: str,
        category: DocumentCategory,
        cleared_us: int,
        request_id: str,
    ) -> bool:
        """Removes that override and records its removal in the access trail, in the
        same transaction; whether there was one (no trail entry if not)."""
        ...
