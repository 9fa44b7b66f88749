"""`SqlScrub`: the `ScrubIndex` port on SQL: every committed version, a page at a time in
the primary key's order (document id, version), for the scrub (vault/scrub.py).

Not here: reading or verifying blobs, or where a scrub resumes (vault/scrub.py).
"""

from __future__ import annotations

import uuid

from sqlalchemy import and_, or_, select

from vault.index.records import VersionRecord
from vault.index.sql.connection import SqlBase
from vault.index.sql.mapping import VERSION_COLUMNS, version_record
from vault.index.sql.tables import DOC, V


class SqlScrub(SqlBase):
    def committed_versions_after(
        self, after: tuple[uuid.UUID, int] | None, limit: int
    ) -> list[VersionRecord]:
        query = (
            select(*VERSION_COLUMNS)
            .join_from(DOC, V, V.c.document_id == DOC.c.id)
            .where(V.c.status == "committed")
            .order_by(V.c.document_id, V.c.version)
            .limit(limit)
        )
        if after is not None:
            document_id, version = after
            query = query.where(
                or_(
                    V.c.document_id > document_id,
                    and_(V.c.document_id == document_id, V.c.version > version),
                )
            )
        with self._connect() as conn:
            return [version_record(row) for row in conn.execute(query).all()]
