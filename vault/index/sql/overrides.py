"""`SqlOverrides`: the `OverrideIndex` port on SQL, the table `matrix_overrides`. The
rows are the overrides in force; each change is journaled by the service before it is
applied (ADR 0003), recorded in the access trail (`access_changes`, as
`category-opened` or `category-closed` with the category in `detail`) in the
transaction that makes it, and a dossier's rows go with its destruction
(`SqlRetention`).
"""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import ColumnElement, Connection, Table, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from vault.domain.model import DocumentCategory, MatrixOverride
from vault.index.records import AccessChange, OverrideTrail
from vault.index.schema import MatrixOverrideRow
from vault.index.sql.connection import SqlBase
from vault.index.sql.mapping import access_change_row
from vault.index.sql.tables import CHANGES, D

OVERRIDES = cast(Table, MatrixOverrideRow.__table__)


def _one(dossier_id: uuid.UUID, subject: str, category: DocumentCategory) -> ColumnElement[bool]:
    return (
        (OVERRIDES.c.dossier_id == dossier_id)
        & (OVERRIDES.c.subject == subject)
        & (OVERRIDES.c.category == category.value)
    )


def _trail(
    conn: Connection,
    override: MatrixOverride,
    change: str,
    opened: bool,
    changed_us: int,
    request_id: str,
) -> None:
    """Appends one override change to `access_changes`, in the caller's transaction."""
    entry = AccessChange(
        override.dossier_id,
        OverrideTrail.of(opened),
        override.subject,
        change,
        changed_us,
        request_id,
        detail=override.category.value,
    )
    conn.execute(insert(CHANGES).values(**access_change_row(entry)))


def _lock_dossier(conn: Connection, dossier_id: uuid.UUID) -> None:
    """Takes the dossier row's lock: two changes of one dossier's overrides take turns,
    so each reads what the other wrote (the trail's "removed" is the one replaced)."""
    conn.execute(select(D.c.id).where(D.c.id == dossier_id).with_for_update())


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
        key = _one(override.dossier_id, override.subject, override.category)
        with self._connect(write=True) as conn:
            _lock_dossier(conn, override.dossier_id)
            replaced = conn.execute(select(OVERRIDES.c.opened).where(key)).scalar()
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
            when = override.created_us
            if replaced is not None and replaced != override.opened:  # open <-> close
                _trail(conn, override, "removed", replaced, when, request_id)
            _trail(conn, override, "set", override.opened, when, request_id)

    def clear_matrix_override(
        self,
        dossier_id: uuid.UUID,
        subject: str,
        category: DocumentCategory,
        cleared_us: int,
        request_id: str,
    ) -> bool:
        with self._connect(write=True) as conn:
            _lock_dossier(conn, dossier_id)
            removed = conn.execute(
                delete(OVERRIDES)
                .where(_one(dossier_id, subject, category))
                .returning(OVERRIDES.c.opened)
            ).first()
            if removed is None:
                return False
            override = MatrixOverride(dossier_id, subject, category, removed.opened, cleared_us)
            _trail(conn, override, "removed", removed.opened, cleared_us, request_id)
            return True
