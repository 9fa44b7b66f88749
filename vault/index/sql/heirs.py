"""`SqlHeirs`: the `HeirIndex` port on SQL: heirs' grants on a deceased holder's dossier
and the holder's objection, recorded while alive.

Not here: who may grant or read (vault/domain/policy/heirs.py), the checks on a grant
(vault/domain/heirs.py).
"""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from vault.domain.heirs import HeirGrant, HeirPurpose
from vault.index.schema import HeirGrantRow, PosthumousObjectionRow
from vault.index.sql.connection import SqlBase

GRANTS = cast(Table, HeirGrantRow.__table__)
OBJECTIONS = cast(Table, PosthumousObjectionRow.__table__)

_GRANTS_OF = (
    select(GRANTS)
    .where(GRANTS.c.dossier_id == bindparam("dossier_id"), GRANTS.c.heir == bindparam("heir"))
    .order_by(GRANTS.c.id)
)


def _grant(row: object) -> HeirGrant:
    r = cast(HeirGrantRow, row)
    return HeirGrant(
        r.dossier_id,
        r.heir,
        HeirPurpose(r.purpose),
        r.request_reference,
        r.granted_us,
        r.expires_us,
        r.granted_by,
        r.request_id,
        r.id,
    )


class SqlHeirs(SqlBase):
    def add_heir_grant(self, grant: HeirGrant) -> int:
        statement = insert(GRANTS).values(
            dossier_id=grant.dossier_id,
            heir=grant.heir,
            purpose=grant.purpose.value,
            request_reference=grant.request_reference,
            granted_us=grant.granted_us,
            expires_us=grant.expires_us,
            granted_by=grant.granted_by,
            request_id=grant.request_id,
        )
        with self._connect(write=True) as conn:
            key = conn.execute(statement).inserted_primary_key
        assert key is not None
        return int(key[0])

    def heir_grants(self, dossier_id: uuid.UUID, heir: str) -> list[HeirGrant]:
        with self._connect() as conn:
            rows = conn.execute(_GRANTS_OF, {"dossier_id": dossier_id, "heir": heir})
            return [_grant(row) for row in rows]

    def posthumous_objection(self, dossier_id: uuid.UUID) -> bool:
        query = select(OBJECTIONS.c.dossier_id).where(OBJECTIONS.c.dossier_id == dossier_id)
        with self._connect() as conn:
            return conn.execute(query).first() is not None

    def set_posthumous_objection(
        self, dossier_id: uuid.UUID, objects: bool, recorded_us: int, request_id: str
    ) -> None:
        with self._connect(write=True) as conn:
            if not objects:
                conn.execute(delete(OBJECTIONS).where(OBJECTIONS.c.dossier_id == dossier_id))
                return
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(
                dialect.insert(OBJECTIONS)
                .values(dossier_id=dossier_id, recorded_us=recorded_us, request_id=request_id)
                .on_conflict_do_nothing(index_elements=["dossier_id"])
            )
