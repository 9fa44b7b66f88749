"""`SqlStanding`: the `StandingIndex` port on SQL: one subject's relations, care-team
expiry, overrides and the holder's sealed date of birth in one statement.

A UNION ALL of four SELECTs, each row tagged with its part (`relation`, `team`,
`override`, `birth`) in columns of common types; each part is the query the separate
ports run (vault/index/sql/access.py, careteams.py, overrides.py, births.py), with the
same indexes. Two statements, built once: a professional's (the four parts) and a
representative's (relations and date of birth). One SQLAlchemy execution and one round
trip instead of up to four, on every request of a professional or a representative.
Not here: what the rows mean (vault/service/standings.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CompoundSelect,
    Integer,
    LargeBinary,
    Select,
    String,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)

from vault.domain.model import DocumentCategory, MatrixOverride, Relation, Relationship
from vault.index.births import SealedBirth
from vault.index.sql.births import BIRTHS
from vault.index.sql.connection import SqlBase
from vault.index.sql.overrides import OVERRIDES
from vault.index.sql.tables import ACC, MEMBERS, TEAMS
from vault.index.standing import Member, StandingRows

_RELATION, _TEAM, _OVERRIDE, _BIRTH = 0, 1, 2, 3
_COLUMNS = ("part", "name", "created_us", "expires_us", "profession", "detail", "opened", "sealed")


def _none(type_: Any) -> Any:
    return cast(null(), type_)


def _part(part: int, **given: Any) -> Select[Any]:
    """One SELECT of the union: its part's tag, then every common column, NULL unless
    `given` (the first SELECT's types are the union's)."""
    types = {
        "name": String(32),
        "created_us": BigInteger,
        "expires_us": BigInteger,
        "profession": String(64),
        "detail": String(32),
        "opened": Boolean,
        "sealed": LargeBinary,
    }
    columns: list[Any] = [literal_column(str(part), Integer).label("part")]
    for name in _COLUMNS[1:]:
        columns.append((given[name] if name in given else _none(types[name])).label(name))
    return select(*columns)


_DOSSIER = bindparam("dossier_id", type_=ACC.c.dossier_id.type)
_SUBJECT = bindparam("subject", type_=ACC.c.subject.type)

_RELATIONS = _part(
    _RELATION,
    name=ACC.c.relation,
    created_us=ACC.c.created_us,
    expires_us=ACC.c.expires_us,
    profession=ACC.c.profession,
    detail=ACC.c.detail,
).where(ACC.c.dossier_id == _DOSSIER, ACC.c.subject == _SUBJECT)

_TEAMS = (
    _part(_TEAM, expires_us=func.max(TEAMS.c.expires_us))
    .select_from(MEMBERS.join(TEAMS, MEMBERS.c.team_id == TEAMS.c.id))
    .where(
        MEMBERS.c.dossier_id == _DOSSIER,
        MEMBERS.c.member.in_([bindparam("rpps"), bindparam("structure")]),
        TEAMS.c.removed_us.is_(None),
    )
)

_OVERRIDES = _part(
    _OVERRIDE,
    name=OVERRIDES.c.category,
    created_us=OVERRIDES.c.created_us,
    opened=OVERRIDES.c.opened,
).where(OVERRIDES.c.dossier_id == _DOSSIER, OVERRIDES.c.subject == _SUBJECT)

_BIRTHS = _part(
    _BIRTH, created_us=cast(BIRTHS.c.key_version, BigInteger), sealed=BIRTHS.c.sealed
).where(BIRTHS.c.dossier_id == _DOSSIER)

_OF_PROFESSIONAL: CompoundSelect[Any] = union_all(_RELATIONS, _TEAMS, _OVERRIDES, _BIRTHS)
_OF_REPRESENTATIVE: CompoundSelect[Any] = union_all(_RELATIONS, _BIRTHS)


class SqlStanding(SqlBase):
    def standing_rows(
        self, dossier_id: uuid.UUID, subject: str, member: Member | None = None
    ) -> StandingRows:
        values: dict[str, object] = {"dossier_id": dossier_id, "subject": subject}
        if member is not None:
            values |= {"rpps": member.rpps, "structure": member.structure or member.rpps}
        statement = _OF_REPRESENTATIVE if member is None else _OF_PROFESSIONAL
        relations: list[Relationship] = []
        overrides: list[MatrixOverride] = []
        team_until = birth = None
        with self._connect() as conn:
            rows = conn.execute(statement, values).all()
        for row in rows:
            if row.part == _RELATION:
                relations.append(
                    Relationship(
                        dossier_id,
                        Relation(row.name),
                        subject,
                        row.created_us,
                        row.expires_us,
                        row.profession,
                        row.detail,
                    )
                )
            elif row.part == _TEAM:
                team_until = row.expires_us
            elif row.part == _OVERRIDE:
                category = DocumentCategory(row.name)
                overrides.append(
                    MatrixOverride(dossier_id, subject, category, bool(row.opened), row.created_us)
                )
            else:
                birth = SealedBirth(dossier_id, int(row.created_us), bytes(row.sealed))
        return StandingRows(
            tuple(sorted(relations, key=lambda r: (r.relation.value, r.created_us))),
            team_until,
            tuple(sorted(overrides, key=lambda o: o.category.value)),
            birth,
        )
