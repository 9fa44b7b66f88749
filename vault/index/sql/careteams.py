"""`SqlCareTeams`: the `CareTeamIndex` port on SQL: care teams and their members.

A team is added with its members in one transaction; removed, its row stays with the
time and request of its removal (the table is its own trail) and it no longer matches.
The match a professional's request makes is one indexed query (`care_team_until`).
Not here: sealing the name (vault/team_secrets.py) or deciding what a team lets in
(vault/domain/policy/teams.py).
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import bindparam, func, insert, select, update

from vault.index.base import CareTeamRecord
from vault.index.sql.connection import SqlBase
from vault.index.sql.tables import MEMBERS, TEAMS

_UNTIL = (
    select(func.max(TEAMS.c.expires_us))
    .select_from(MEMBERS.join(TEAMS, MEMBERS.c.team_id == TEAMS.c.id))
    .where(
        MEMBERS.c.dossier_id == bindparam("dossier_id"),
        MEMBERS.c.member.in_([bindparam("rpps"), bindparam("structure")]),
        TEAMS.c.removed_us.is_(None),
    )
)
"""Built once, with two plain parameters (an expanding IN would be rendered again at
each call): every professional's request runs it."""


class SqlCareTeams(SqlBase):
    def add_care_team(self, team: CareTeamRecord, request_id: str) -> None:
        with self._connect(write=True) as conn:
            conn.execute(
                insert(TEAMS).values(
                    id=team.team_id,
                    dossier_id=team.dossier_id,
                    sealed_name=team.sealed_name,
                    key_version=team.key_version,
                    created_us=team.created_us,
                    expires_us=team.expires_us,
                    created_request=request_id,
                )
            )
            rows = [
                {"team_id": team.team_id, "member": m, "dossier_id": team.dossier_id}
                for m in team.members
            ]
            conn.execute(insert(MEMBERS), rows)

    def remove_care_team(
        self, dossier_id: uuid.UUID, team_id: uuid.UUID, removed_us: int, request_id: str
    ) -> bool:
        statement = (
            update(TEAMS)
            .where(
                TEAMS.c.id == team_id,
                TEAMS.c.dossier_id == dossier_id,
                TEAMS.c.removed_us.is_(None),
            )
            .values(removed_us=removed_us, removed_request=request_id)
        )
        with self._connect(write=True) as conn:
            return bool(conn.execute(statement).rowcount == 1)

    def care_teams(self, dossier_id: uuid.UUID) -> list[CareTeamRecord]:
        teams = (
            select(TEAMS)
            .where(TEAMS.c.dossier_id == dossier_id, TEAMS.c.removed_us.is_(None))
            .order_by(TEAMS.c.created_us, TEAMS.c.id)
        )
        members = (
            select(MEMBERS.c.team_id, MEMBERS.c.member)
            .join(TEAMS, MEMBERS.c.team_id == TEAMS.c.id)
            .where(MEMBERS.c.dossier_id == dossier_id, TEAMS.c.removed_us.is_(None))
            .order_by(MEMBERS.c.member)
        )
        with self._connect() as conn:
            rows = conn.execute(teams).all()
            listed: dict[uuid.UUID, list[str]] = defaultdict(list)
            for team_id, member in conn.execute(members):
                listed[team_id].append(member)
        return [
            CareTeamRecord(
                row.dossier_id,
                row.id,
                row.sealed_name,
                row.key_version,
                tuple(listed[row.id]),
                row.created_us,
                row.expires_us,
            )
            for row in rows
        ]

    def care_team_until(
        self, dossier_id: uuid.UUID, rpps: str, structure: str | None = None
    ) -> int | None:
        values = {"dossier_id": dossier_id, "rpps": rpps, "structure": structure or rpps}
        with self._connect() as conn:
            until: int | None = conn.execute(_UNTIL, values).scalar()
        return until
