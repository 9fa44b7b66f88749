"""`SqlDossiers`: the `DossierIndex` port on SQL: dossiers created with their first key
(and the legal representative who opened one and the holder's sealed date of birth, from
its first transaction), found by id or by patient.

Not here: a dossier's lifecycle (`lifecycle`), its access settings (`access`), its
later keys (`keys`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy import exc as sa_exc

from vault.domain.model import Relationship
from vault.errors import AlreadyExistsError
from vault.index.births import SealedBirth
from vault.index.records import AccessChange, DossierKeyRecord, DossierRecord
from vault.index.sql.births import BIRTHS, birth_row
from vault.index.sql.connection import SqlBase
from vault.index.sql.mapping import access_change_row, dossier_record, key_row, relationship_row
from vault.index.sql.tables import ACC, CHANGES, D, K

# Built once: a statement built per call costs its construction and its cache key
# (SQLAlchemy's compiled cache is looked up by it) on every call.
_BY_ID = select(D).where(D.c.id == bindparam("key"))
_BY_PATIENT = select(D).where(D.c.patient_index == bindparam("key"))


def _set(entry: Relationship, request_id: str) -> AccessChange:
    return AccessChange(
        entry.dossier_id, entry.relation, entry.subject, "set", entry.created_us, request_id
    )


class SqlDossiers(SqlBase):
    def add_dossier(
        self,
        dossier: DossierRecord,
        key: DossierKeyRecord,
        representative: Relationship | None = None,
        request_id: str = "",
        birth: SealedBirth | None = None,
    ) -> None:
        try:
            with self._connect(write=True) as conn:
                conn.execute(
                    insert(D).values(
                        id=dossier.dossier_id,
                        patient_index=dossier.patient_index,
                        state=dossier.state.value,
                        created_us=dossier.created_us,
                        key_version=dossier.key_version,
                        emergency_refused=dossier.emergency_refused,
                        holds=0,
                    )
                )
                conn.execute(insert(K).values(**key_row(key)))
                if representative is not None:  # who opened it for the person they represent
                    conn.execute(insert(ACC).values(**relationship_row(representative)))
                    conn.execute(
                        insert(CHANGES).values(
                            **access_change_row(_set(representative, request_id))
                        )
                    )
                if birth is not None:  # sealed under the first key (vault/birth_secrets.py)
                    conn.execute(insert(BIRTHS).values(**birth_row(birth)))
        except sa_exc.IntegrityError:
            raise AlreadyExistsError("this patient already has a dossier") from None

    def _one_dossier(self, query: Any, key: object) -> DossierRecord | None:
        with self._connect() as conn:
            row = conn.execute(query, {"key": key}).first()
        return None if row is None else dossier_record(row)

    def dossier(self, dossier_id: uuid.UUID) -> DossierRecord | None:
        return self._one_dossier(_BY_ID, dossier_id)

    def dossier_by_patient(self, patient_index: bytes) -> DossierRecord | None:
        return self._one_dossier(_BY_PATIENT, patient_index)
