"""`SqlKeys`: the `KeyIndex` port on SQL: dossier keys read, added, rewrapped under a new
master version (compare-and-set per row), versions re-encrypted under a new dossier key
version, and old key versions destroyed.

Not here: wrapping and unwrapping (vault/crypto), the rotation's passes and batches
(vault/rotation.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, delete, func, insert, select, tuple_, update

from vault.crypto.keyprovider import WrappedKey
from vault.errors import IntegrityError
from vault.index.records import DossierKeyRecord, VersionRecord
from vault.index.sql.births import BIRTHS
from vault.index.sql.connection import SqlBase
from vault.index.sql.mapping import (
    KEY_COLUMNS,
    VERSION_COLUMNS,
    key_record,
    key_row,
    version_record,
)
from vault.index.sql.tables import DOC, TEAMS, D, K, V

_KEY = select(*KEY_COLUMNS).where(
    K.c.dossier_id == bindparam("dossier_id"), K.c.version == bindparam("version")
)
"""A dossier key version, built once (not per call: a request reads one)."""


class SqlKeys(SqlBase):
    def dossier_key(self, dossier_id: uuid.UUID, version: int) -> DossierKeyRecord:
        with self._connect() as conn:
            row = conn.execute(_KEY, {"dossier_id": dossier_id, "version": version}).first()
        if row is None:
            raise IntegrityError("dossier key version missing from the index")
        return key_record(row)

    def add_dossier_key(self, key: DossierKeyRecord, make_current: bool) -> None:
        with self._connect(write=True) as conn:
            conn.execute(insert(K).values(**key_row(key)))
            if make_current:
                conn.execute(
                    update(D).where(D.c.id == key.dossier_id).values(key_version=key.version)
                )

    def dossier_keys_not_under(
        self, master_version: int, limit: int, after: DossierKeyRecord | None = None
    ) -> list[DossierKeyRecord]:
        query = (
            select(*KEY_COLUMNS)
            .where(K.c.master_version != master_version)
            .order_by(K.c.dossier_id, K.c.version)
            .limit(limit)
        )
        if after is not None:
            query = query.where(
                tuple_(K.c.dossier_id, K.c.version) > tuple_(after.dossier_id, after.version)
            )
        with self._connect() as conn:
            return [key_record(row) for row in conn.execute(query)]

    def rewrap_dossier_keys(self, pairs: Sequence[tuple[DossierKeyRecord, WrappedKey]]) -> int:
        if not pairs:
            return 0
        statement = (
            update(K)
            .where(
                K.c.dossier_id == bindparam("b_dossier"),
                K.c.version == bindparam("b_version"),
                K.c.master_version == bindparam("b_old_master"),
                K.c.wrapped == bindparam("b_old_wrapped"),
            )
            .values(master_version=bindparam("b_master"), wrapped=bindparam("b_wrapped"))
        )
        rows = [
            {
                "b_dossier": old.dossier_id,
                "b_version": old.version,
                "b_old_master": old.wrapped.master_version,
                "b_old_wrapped": old.wrapped.blob,
                "b_master": new.master_version,
                "b_wrapped": new.blob,
            }
            for old, new in pairs
        ]
        with self._connect(write=True) as conn:
            result = conn.execute(statement, rows)
        return int(result.rowcount)

    def master_version_counts(self) -> dict[int, int]:
        query = select(K.c.master_version, func.count()).group_by(K.c.master_version)
        with self._connect() as conn:
            return {int(version): int(count) for version, count in conn.execute(query)}

    def versions_not_under_key(
        self, dossier_id: uuid.UUID, key_version: int, limit: int
    ) -> list[VersionRecord]:
        query = (
            select(*VERSION_COLUMNS)
            .join_from(DOC, V, V.c.document_id == DOC.c.id)
            .where(
                DOC.c.dossier_id == dossier_id,
                V.c.status == "committed",
                V.c.dossier_key_version != key_version,
            )
            .order_by(V.c.document_id, V.c.version)
            .limit(limit)
        )
        with self._connect() as conn:
            return [version_record(row) for row in conn.execute(query).all()]

    def uploads_under_other_key(self, dossier_id: uuid.UUID, key_version: int) -> int:
        query = (
            select(func.count())
            .select_from(V.join(DOC, V.c.document_id == DOC.c.id))
            .where(
                DOC.c.dossier_id == dossier_id,
                V.c.status == "pending",
                V.c.dossier_key_version != key_version,
            )
        )
        with self._connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def replace_encryption(self, old: VersionRecord, new: VersionRecord) -> bool:
        statement = (
            update(V)
            .where(
                V.c.document_id == old.document_id,
                V.c.version == old.version,
                V.c.blob_key == old.blob_key,
                V.c.status == "committed",
            )
            .values(
                blob_key=new.blob_key,
                dossier_key_version=new.dossier_key_version,
                wrapped_key=new.wrapped_key,
                sealed_metadata=new.sealed_metadata,
                ciphertext_size=new.ciphertext_size,
            )
        )
        with self._connect(write=True) as conn:
            return bool(conn.execute(statement).rowcount == 1)

    def destroy_dossier_keys(self, dossier_id: uuid.UUID, below_version: int | None) -> int:
        statement = delete(K).where(K.c.dossier_id == dossier_id)
        if below_version is not None:  # rotation: only versions no version row still uses
            in_use = (
                select(V.c.document_id)
                .join(DOC, V.c.document_id == DOC.c.id)
                .where(DOC.c.dossier_id == dossier_id, V.c.dossier_key_version == K.c.version)
            )
            named = select(TEAMS.c.id).where(  # a care team's name sealed under it
                TEAMS.c.dossier_id == dossier_id, TEAMS.c.key_version == K.c.version
            )
            born = select(BIRTHS.c.dossier_id).where(  # a date of birth not re-sealed yet
                BIRTHS.c.dossier_id == dossier_id, BIRTHS.c.key_version == K.c.version
            )
            statement = statement.where(
                K.c.version < below_version, ~in_use.exists(), ~named.exists(), ~born.exists()
            )
        with self._connect(write=True) as conn:
            return int(conn.execute(statement).rowcount)
