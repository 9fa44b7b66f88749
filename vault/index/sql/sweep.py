"""`SqlSweep`: the `SweepIndex` port on SQL: what interrupted uploads leave behind, for
the sweeper (vault/sweeper.py): lapsed reservations, discarding one (also an aborted
upload's), and which blob keys a version row references.

Not here: deciding what to sweep and when, or deleting blobs (vault/sweeper.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select

from vault.index.records import VersionRecord
from vault.index.sql.connection import SqlBase
from vault.index.sql.mapping import VERSION_COLUMNS, version_record
from vault.index.sql.tables import DOC, VIS, V, lapsed_before, reservation


class SqlSweep(SqlBase):
    def pending_versions(self, lapsed_before_us: int, limit: int) -> list[VersionRecord]:
        query = (
            select(*VERSION_COLUMNS)
            .join_from(DOC, V, V.c.document_id == DOC.c.id)
            .where(V.c.status == "pending", lapsed_before(lapsed_before_us, 0))
            .order_by(V.c.created_us)
            .limit(limit)
        )
        with self._connect() as conn:
            return [version_record(row) for row in conn.execute(query).all()]

    def discard_version(self, record: VersionRecord) -> bool:
        with self._connect(write=True) as conn:
            # the row with this blob key: not another writer's reservation
            discarded = conn.execute(delete(V).where(reservation(record)))
            if record.version == 1:
                unborn = select(DOC.c.id).where(
                    DOC.c.id == record.document_id, DOC.c.latest_version == 0
                )
                conn.execute(delete(VIS).where(VIS.c.document_id.in_(unborn)))
                conn.execute(
                    delete(DOC).where(DOC.c.id == record.document_id, DOC.c.latest_version == 0)
                )
        return bool(discarded.rowcount == 1)

    def referenced_keys(self, blob_keys: Sequence[str]) -> set[str]:
        if not blob_keys:
            return set()
        query = select(V.c.blob_key).where(V.c.blob_key.in_(list(blob_keys)))
        with self._connect() as conn:
            return set(conn.execute(query).scalars())
