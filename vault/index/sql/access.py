"""`SqlAccess`: the `AccessIndex` port on SQL: relations, their append-only trail
(`access_changes`), the emergency objections (which close open windows) and the
notification outbox (the patient side's, and copies addressed to a professional).

Every change to a relation is recorded in the trail in the transaction that makes it.
Not here: the policy that decides who may do what (vault/domain/policy/).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    delete,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from vault.domain.model import EmergencyReason, Notification, Relation, Relationship
from vault.index.records import AccessChange
from vault.index.sql.careteams import SqlCareTeams
from vault.index.sql.mapping import (
    access_change_record,
    access_change_row,
    notification_record,
    notification_row,
    relationship_record,
    relationship_row,
)
from vault.index.sql.tables import ACC, CHANGES, D, N


def _replace(
    conn: Connection, entry: Relationship, request_id: str, replacing: Sequence[Relation] = ()
) -> None:
    """Stores `entry` in place of the subject's same relation and `replacing` ones, and
    records the changes: `entry` set, each other relation that existed removed."""
    relations = [entry.relation.value, *(r.value for r in replacing)]
    removed = conn.execute(
        delete(ACC)
        .where(
            ACC.c.dossier_id == entry.dossier_id,
            ACC.c.subject == entry.subject,
            ACC.c.relation.in_(relations),
        )
        .returning(ACC.c.relation)
    ).scalars()
    conn.execute(insert(ACC).values(**relationship_row(entry)))
    changes = [
        _removal(entry.dossier_id, Relation(r), entry.subject, entry.created_us, request_id)
        for r in removed
        if r != entry.relation.value
    ]
    _record(conn, [*changes, _setting(entry, request_id)])


def _setting(entry: Relationship, request_id: str) -> AccessChange:
    return AccessChange(
        entry.dossier_id,
        entry.relation,
        entry.subject,
        "set",
        entry.created_us,
        request_id,
        entry.expires_us,
        entry.detail,
    )


def _removal(
    dossier_id: uuid.UUID, relation: Relation, subject: str, removed_us: int, request_id: str
) -> AccessChange:
    return AccessChange(dossier_id, relation, subject, "removed", removed_us, request_id)


def _record(conn: Connection, changes: Sequence[AccessChange]) -> None:
    """Appends to `access_changes`, in the caller's transaction."""
    if changes:
        conn.execute(insert(CHANGES), [access_change_row(c) for c in changes])


def _insert_once(conn: Connection, entry: Relationship) -> bool:
    """Stores `entry` unless the subject has that relation already (returns whether it
    did). ON CONFLICT DO NOTHING on the primary key: no error raised, none logged, and
    any other violation (an unknown dossier) still raises."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(ACC)
        .values(**relationship_row(entry))
        .on_conflict_do_nothing(index_elements=["dossier_id", "relation", "subject"])
        .returning(ACC.c.subject)
    )
    return conn.execute(statement).first() is not None


def _closed_windows(break_glass: bool, regulation: bool) -> ColumnElement[bool] | None:
    """Which emergency windows an objection closes: the regulator's (their reason is
    `samu_regulation`), the others (break-the-glass), both, or none (None)."""
    regulator = ACC.c.detail == EmergencyReason.SAMU_REGULATION.value
    if break_glass and regulation:
        return true()
    if regulation:
        return regulator
    if break_glass:
        return or_(ACC.c.detail.is_(None), ~regulator)
    return None


_RELATIONSHIPS = (
    select(ACC)
    .where(ACC.c.dossier_id == bindparam("dossier_id"))
    .order_by(ACC.c.relation, ACC.c.created_us, ACC.c.subject)
)
_RELATIONSHIPS_OF = _RELATIONSHIPS.where(ACC.c.subject == bindparam("subject"))
"""A dossier's relations, or one subject's (every professional's request reads them):
built once."""


class SqlAccess(SqlCareTeams):  # the care teams are access too (careteams.py)
    def relationships(
        self, dossier_id: uuid.UUID, subject: str | None = None
    ) -> list[Relationship]:
        query = _RELATIONSHIPS if subject is None else _RELATIONSHIPS_OF
        with self._connect() as conn:
            rows = conn.execute(query, {"dossier_id": dossier_id, "subject": subject})
            return [relationship_record(row) for row in rows]

    def set_relationship(
        self, entry: Relationship, request_id: str, replacing: Sequence[Relation] = ()
    ) -> None:
        with self._connect(write=True) as conn:
            _replace(conn, entry, request_id, replacing)

    def remove_relationship(
        self,
        dossier_id: uuid.UUID,
        relation: Relation,
        subject: str,
        removed_us: int,
        request_id: str,
    ) -> bool:
        statement = (
            delete(ACC)
            .where(
                ACC.c.dossier_id == dossier_id,
                ACC.c.relation == relation.value,
                ACC.c.subject == subject,
            )
            .returning(ACC.c.subject)
        )
        with self._connect(write=True) as conn:
            if conn.execute(statement).first() is None:
                return False
            _record(conn, [_removal(dossier_id, relation, subject, removed_us, request_id)])
        return True

    def set_treating_physician(
        self, dossier_id: uuid.UUID, entry: Relationship | None, changed_us: int, request_id: str
    ) -> None:
        treating = Relation.TREATING
        with self._connect(write=True) as conn:
            removed = conn.execute(
                delete(ACC)
                .where(ACC.c.dossier_id == dossier_id, ACC.c.relation == treating.value)
                .returning(ACC.c.subject)
            ).scalars()
            changes = [_removal(dossier_id, treating, s, changed_us, request_id) for s in removed]
            if entry is not None:
                conn.execute(insert(ACC).values(**relationship_row(entry)))
                changes.append(_setting(entry, request_id))
            _record(conn, changes)

    def access_changes(self, dossier_id: uuid.UUID) -> list[AccessChange]:
        query = select(CHANGES).where(CHANGES.c.dossier_id == dossier_id).order_by(CHANGES.c.id)
        with self._connect() as conn:
            return [access_change_record(row) for row in conn.execute(query)]

    def set_emergency_objections(
        self,
        dossier_id: uuid.UUID,
        break_glass: bool | None,
        regulation: bool | None,
        changed_us: int,
        request_id: str,
    ) -> None:
        values = {"emergency_refused": break_glass, "regulation_refused": regulation}
        given = {k: v for k, v in values.items() if v is not None}
        closing = _closed_windows(break_glass is True, regulation is True)
        with self._connect(write=True) as conn:
            conn.execute(update(D).where(D.c.id == dossier_id).values(**given))
            if closing is None:
                return
            closed = conn.execute(
                delete(ACC)
                .where(
                    ACC.c.dossier_id == dossier_id,
                    ACC.c.relation == Relation.EMERGENCY.value,
                    closing,
                )
                .returning(ACC.c.subject)
            ).scalars()
            emergency = Relation.EMERGENCY
            _record(
                conn, [_removal(dossier_id, emergency, s, changed_us, request_id) for s in closed]
            )

    def notify(
        self,
        notification: Notification,
        relationship: Relationship,
        copies: Sequence[Notification] = (),
    ) -> bool:
        with self._connect(write=True) as conn:
            if relationship.relation is Relation.SEEN:
                if not _insert_once(conn, relationship):
                    return False  # seen before: the first access was notified already
            else:
                _replace(conn, relationship, notification.request_id)
            conn.execute(insert(N), [notification_row(n) for n in (notification, *copies)])
        return True

    def notifications(
        self, dossier_id: uuid.UUID, after_id: int, limit: int, recipient: str | None = None
    ) -> list[Notification]:
        mine = N.c.recipient.is_(None) if recipient is None else N.c.recipient == recipient
        query = (
            select(N)
            .where(N.c.dossier_id == dossier_id, N.c.id > after_id, mine)
            .order_by(N.c.id)
            .limit(limit)
        )
        with self._connect() as conn:
            return [notification_record(row) for row in conn.execute(query)]
