"""`SqlBirths`: the `BirthIndex` port on SQL: a dossier's sealed date of birth read,
set in place of the recorded one (a correction), and re-sealed (compare-and-set on the
box). It is written with the dossier, in `SqlDossiers.add_dossier`, and deleted with it
(`SqlRetention`).
"""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy import exc as sa_exc

from vault.errors import ConflictError
from vault.index.births import SealedBirth
from vault.index.schema import BirthDateRow
from vault.index.sql.connection import SqlBase

BIRTHS = cast(Table, BirthDateRow.__table__)
_BIRTH = select(BIRTHS.c.key_version, BIRTHS.c.sealed).where(
    BIRTHS.c.dossier_id == bindparam("dossier_id")
)


def birth_row(birth: SealedBirth) -> dict[str, object]:
    return {
        "dossier_id": birth.dossier_id,
        "sealed": birth.sealed,
        "key_version": birth.key_version,
    }


class SqlBirths(SqlBase):
    def sealed_birth(self, dossier_id: uuid.UUID) -> SealedBirth | None:
        with self._connect() as conn:
            row = conn.execute(_BIRTH, {"dossier_id": dossier_id}).first()
        return None if row is None else SealedBirth(dossier_id, int(row[0]), bytes(row[1]))

    def set_birth(self, birth: SealedBirth) -> None:
        """The row updated, or inserted when the dossier had none; a concurrent first
        insert wins and this one is ABORTED (ConflictError: try again)."""
        values = {"sealed": birth.sealed, "key_version": birth.key_version}
        statement = update(BIRTHS).where(BIRTHS.c.dossier_id == birth.dossier_id).values(values)
        try:
            with self._connect(write=True) as conn:
                if conn.execute(statement).rowcount == 0:
                    conn.execute(insert(BIRTHS).values(**birth_row(birth)))
        except sa_exc.IntegrityError:
            raise ConflictError("the date of birth changed meanwhile; try again") from None

    def reseal_birth(self, old: SealedBirth, new: SealedBirth) -> bool:
        statement = (
            update(BIRTHS)
            .where(
                BIRTHS.c.dossier_id == old.dossier_id,
                BIRTHS.c.key_version == old.key_version,
                BIRTHS.c.sealed == old.sealed,
            )
            .values(sealed=new.sealed, key_version=new.key_version)
        )
        with self._connect(write=True) as conn:
            return bool(conn.execute(statement).rowcount == 1)
