"""`SqlOverrides`: the `OverrideIndex` port on SQL, the table `matrix_overrides`. The
rows are the overrides in force; each change is journaled by the service before it is
applied (ADR 0003), and a dossier's rows go with its destruction (`SqlRetention`).
"""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from vault.domain.model import DocumentCategory, MatrixOverride
from vault.index.schema import MatrixOverrideRow
from vault.index.sql.connection import SqlBase

OVERRIDES = cast(Table, MatrixOverrideRow.__table__)


class SqlOverrides(SqlBase):
    def matrix_overrides(
        self, dossier_id: uuid.UUID, subject: str | None = None
    ) -> tuple[MatrixOverride, ...]:
        query = select(OVERRIDES).where(OVERRIDES.c.dossier_id == dossier_id)
        if subject is not None:
            query = query.where(OVERRIDES.c.subject == subject)
        query = query.order_by(OVERRIDES.c.subject, OVERRIDES.c.category)
        with self._connect() as conn:
            return tuple(
                MatrixOverride(
                    row.dossier_id,
                    row.subject,
                    DocumentCategory(row.category),
                    row.opened,
                    row.created_us,
                )
                for row in conn.execute(query)
            )

    def set_matrix_override(self, override: MatrixOverride, request_id: str) -> None:
        values = {
            "opened": override.opened,
            "created_us": override.created_us,
            "request_id": request_id,
        }
        with self._connect(write=True) as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(
                dialect.insert(OVERRIDES)
                .values(
                    dossier_id=override.dossier_id,
                    subject=override.subject,
                    category=override.category.value,
                    **values,
                )
                .on_conflict_do_update(
                    index_elements=["dossier_id", "subject", "category"], set_=values
                )
            )

    def clear_matrix_override(
        self, dossier_id: uuid.UUID, subject: str, category: DocumentCategory
    ) -> bool:
        with self._connect(write=True) as conn:
            removed = conn.execute(
                delete(OVERRIDES)
                .where(
                    OVERRIDES.c.dossier_id == dossier_id,
                    OVERRIDES.c.subject == subject,
                    OVERRIDES.c.category == category.value,
                )
                .returning(OVERRIDES.c.subject)
            )
            return removed.first() is not None
