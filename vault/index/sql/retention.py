"""`SqlRetention`: the `RetentionIndex` port on SQL: dossiers due for destruction, the
destruction's records (manifest first, certificate and tombstone last), rolling windows,
and what is left of a dossier.

Not here: the destruction's steps and their order (retention/destroyer.py), deleting
objects or keys (`keys.destroy_dossier_keys`).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy import Select, and_, case, delete, exists, func, insert, or_, select, update
from sqlalchemy import exc as sa_exc

from vault.domain.model import ClosureReason, DocumentCategory, DossierState, NotificationKind
from vault.index.records import (
    Destruction,
    DossierRecord,
    DueSummary,
    ManifestBuilder,
    VersionRecord,
)
from vault.index.sql.births import BIRTHS
from vault.index.sql.connection import SqlBase
from vault.index.sql.heirs import GRANTS as HEIR_GRANTS
from vault.index.sql.heirs import OBJECTIONS
from vault.index.sql.mapping import (
    VERSION_COLUMNS,
    destruction_record,
    dossier_record,
    version_record,
)
from vault.index.sql.notices import PREFERENCES
from vault.index.sql.overrides import OVERRIDES
from vault.index.sql.tables import ACC, CHANGES, DESTROY, DOC, MEMBERS, TEAMS, VIS, D, K, N, V


def _window_anchor() -> Any:
    """The SQL twin of `lifecycle.window_anchor_us`: the latest version's date of care,
    or the deposit when none was given or the date of care is after it."""
    return case((V.c.care_us < DOC.c.created_us, V.c.care_us), else_=DOC.c.created_us)


def _is_due(by_us: int) -> Any:
    """The due-dossier predicate, as the partial index ix_dossiers_due states it."""
    return and_(D.c.state == "closed", D.c.holds == 0, D.c.destroy_after_us <= by_us)


def _to_protect(now_us: int) -> Any:
    """What the store must protect: closed before the deadline (a deletion request is
    destroyed early, with the bypass) or held; never once its destruction has begun."""
    early = ClosureReason.DELETION_REQUEST.value
    retained = and_(
        D.c.state == DossierState.CLOSED.value,
        D.c.destroy_after_us > now_us,
        or_(D.c.closure_reason.is_(None), D.c.closure_reason != early),
    )
    begun = exists().where(DESTROY.c.dossier_id == D.c.id)
    return and_(or_(retained, D.c.holds > 0), D.c.state != DossierState.DESTROYED.value, ~begun)


def _every_version(dossier_id: uuid.UUID) -> Select[Any]:
    """Every version row of the dossier, pending ones included, in a manifest's order."""
    return (
        select(*VERSION_COLUMNS)
        .join_from(DOC, V, V.c.document_id == DOC.c.id)
        .where(DOC.c.dossier_id == dossier_id)
        .order_by(V.c.document_id, V.c.version)
    )


def _key_versions(dossier_id: uuid.UUID) -> Select[Any]:
    return select(K.c.version).where(K.c.dossier_id == dossier_id).order_by(K.c.version)


class SqlRetention(SqlBase):
    def due_dossiers(self, by_us: int, limit: int) -> list[DossierRecord]:
        query = select(D).where(_is_due(by_us)).order_by(D.c.destroy_after_us, D.c.id).limit(limit)
        with self._connect() as conn:
            return [dossier_record(row) for row in conn.execute(query)]

    def protected_dossiers(
        self, now_us: int, after: uuid.UUID | None, limit: int
    ) -> list[DossierRecord]:
        query = select(D).where(_to_protect(now_us)).order_by(D.c.id).limit(limit)
        if after is not None:
            query = query.where(D.c.id > after)
        with self._connect() as conn:
            return [dossier_record(row) for row in conn.execute(query)]

    def due_summary(self, by_us: int) -> list[DueSummary]:
        # From the due dossiers (the partial index) to their documents (the listing
        # index): the cost grows with what is due, never with the whole index.
        stored = (
            select(func.coalesce(func.sum(V.c.ciphertext_size), 0))
            .select_from(DOC.join(V, V.c.document_id == DOC.c.id))
            .where(DOC.c.dossier_id == D.c.id)
            .correlate(D)
            .scalar_subquery()
        )
        due = (
            select(func.coalesce(D.c.closure_reason, "unknown").label("reason"), stored.label("b"))
            .where(_is_due(by_us))
            .subquery()
        )
        query = (
            select(due.c.reason, func.count(), func.coalesce(func.sum(due.c.b), 0))
            .group_by(due.c.reason)
            .order_by(due.c.reason)
        )
        with self._connect() as conn:
            return [DueSummary(str(r), int(n), int(b)) for r, n, b in conn.execute(query)]

    def dossier_versions(self, dossier_id: uuid.UUID) -> list[VersionRecord]:
        with self._connect() as conn:
            return [version_record(row) for row in conn.execute(_every_version(dossier_id)).all()]

    def begin_destruction(
        self, destruction: Destruction, by_us: int, manifest: ManifestBuilder
    ) -> Destruction | None:
        reason = destruction.reason.value if destruction.reason else "deadline"
        dossier_id = destruction.dossier_id
        due = (
            select(D.c.id)
            .where(D.c.id == dossier_id, _is_due(by_us))
            .with_for_update()  # holds, closures and uploads meanwhile wait, then see this
        )
        keys, versions = _key_versions(dossier_id), _every_version(dossier_id)
        try:
            with self._connect(write=True) as conn:
                if conn.execute(due).first() is None:
                    return None
                recorded = replace(
                    destruction,
                    manifest=manifest(
                        [version_record(row) for row in conn.execute(versions).all()],
                        [int(v) for v in conn.execute(keys).scalars()],
                    ),
                )
                conn.execute(
                    insert(DESTROY).values(
                        dossier_id=dossier_id,
                        reason=reason,
                        job_id=recorded.job_id,
                        started_us=recorded.started_us,
                        manifest=recorded.manifest,
                    )
                )
        except sa_exc.IntegrityError:
            return None  # another run recorded it first
        return recorded

    def destruction(self, dossier_id: uuid.UUID) -> Destruction | None:
        query = select(DESTROY).where(DESTROY.c.dossier_id == dossier_id)
        with self._connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else destruction_record(row)

    def unfinished_destructions(self) -> list[Destruction]:
        query = (
            select(DESTROY)
            .where(DESTROY.c.completed_us.is_(None))
            .order_by(DESTROY.c.started_us, DESTROY.c.dossier_id)
        )
        with self._connect() as conn:
            return [destruction_record(row) for row in conn.execute(query)]

    def dossier_key_versions(self, dossier_id: uuid.UUID) -> list[int]:
        with self._connect() as conn:
            return [int(v) for v in conn.execute(_key_versions(dossier_id)).scalars()]

    def destructions(self, since_us: int, until_us: int) -> list[Destruction]:
        query = (
            select(DESTROY)
            .where(DESTROY.c.completed_us >= since_us, DESTROY.c.completed_us < until_us)
            .order_by(DESTROY.c.completed_us, DESTROY.c.dossier_id)
        )
        with self._connect() as conn:
            return [destruction_record(row) for row in conn.execute(query)]

    def complete_destruction(
        self, dossier_id: uuid.UUID, completed_us: int, certificate: str, tombstone: bytes
    ) -> None:
        documents = select(DOC.c.id).where(DOC.c.dossier_id == dossier_id)
        with self._connect(write=True) as conn:
            conn.execute(delete(V).where(V.c.document_id.in_(documents)))
            conn.execute(delete(VIS).where(VIS.c.document_id.in_(documents)))
            conn.execute(delete(DOC).where(DOC.c.dossier_id == dossier_id))
            conn.execute(delete(ACC).where(ACC.c.dossier_id == dossier_id))
            conn.execute(delete(CHANGES).where(CHANGES.c.dossier_id == dossier_id))
            deleted = NotificationKind.DOSSIER_DELETED.value  # its receipt's (receipts.py)
            conn.execute(delete(N).where(N.c.dossier_id == dossier_id, N.c.kind != deleted))
            tables = (MEMBERS, TEAMS, HEIR_GRANTS, OBJECTIONS, PREFERENCES, OVERRIDES, BIRTHS)
            for table in tables:
                conn.execute(delete(table).where(table.c.dossier_id == dossier_id))
            conn.execute(delete(K).where(K.c.dossier_id == dossier_id))
            conn.execute(
                update(D)
                .where(D.c.id == dossier_id)
                .values(
                    state=DossierState.DESTROYED.value, patient_index=tombstone, content_bytes=0
                )
            )
            conn.execute(
                update(DESTROY)
                .where(DESTROY.c.dossier_id == dossier_id)
                .values(completed_us=completed_us, certificate=certificate)
            )

    def expired_documents(
        self, category: DocumentCategory, created_before_us: int, limit: int
    ) -> list[VersionRecord]:
        query = (
            select(*VERSION_COLUMNS)
            .join_from(
                DOC,
                V,
                and_(V.c.document_id == DOC.c.id, V.c.version == DOC.c.latest_version),
            )
            .join(D, D.c.id == DOC.c.dossier_id)
            .where(
                DOC.c.category == category.value,
                _window_anchor() < created_before_us,
                D.c.state == DossierState.ACTIVE.value,
                D.c.holds == 0,  # a legal hold keeps everything
            )
            .order_by(DOC.c.created_us, DOC.c.id)
            .limit(limit)
        )
        with self._connect() as conn:
            return [version_record(row) for row in conn.execute(query).all()]
