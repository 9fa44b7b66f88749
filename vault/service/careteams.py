"""Care teams, the patient side's use cases: let a team into the dossier, refuse (remove)
it as a whole, and read the teams back for the access list. `AccessControl` exposes
them; what a team lets its members do is the policy's (vault/domain/policy/teams.py),
and which teams a professional is in is read by the gate for each request
(`Gate._standing`).

Each change is decided and journaled through the gate (`access.team-add`,
`access.team-remove`) and applied after its allow entry (ADR 0003). A team's name is
sealed under the dossier key's current version (vault/team_secrets.py) before it
reaches the index; it is never logged nor in an error message.
"""

from __future__ import annotations

import uuid

from vault.domain import careteams
from vault.domain.ids import new_id, parse_id
from vault.domain.model import Actor, CareTeam
from vault.domain.policy import Action
from vault.errors import NotFoundError
from vault.index.base import AccessIndex, CareTeamRecord
from vault.service.gate import Call, Gate
from vault.team_secrets import open_team_name, seal_team_name


class CareTeams:
    """The care team use cases, on the gate and the index `AccessControl` holds."""

    def __init__(self, gate: Gate, index: AccessIndex) -> None:
        self._gate = gate
        self._index = index

    def add(
        self,
        actor: Actor,
        dossier_id: str,
        name: str,
        members: tuple[str, ...],
        expires_us: int | None,
        call: Call,
    ) -> CareTeam:
        """The patient side lets a team in, until `expires_us` (None: a year)."""
        gate = self._gate
        with gate.on_dossier(actor, dossier_id, Action.CARE_TEAM_ADD, call) as dossier:
            now_us = gate.now_us()
            team = CareTeam(
                dossier.dossier_id,
                new_id(),
                careteams.parse_name(name),
                careteams.parse_members(members),
                now_us,
                careteams.team_expiry_us(now_us, expires_us),
            )
            version = dossier.key_version
            key = gate.dossier_key(dossier.dossier_id, version)
            sealed = seal_team_name(key, team.dossier_id, team.team_id, version, team.name)
        record = CareTeamRecord(
            team.dossier_id,
            team.team_id,
            sealed,
            version,
            team.members,
            team.created_us,
            team.expires_us,
        )
        self._index.add_care_team(record, call.request_id)
        return team

    def remove(self, actor: Actor, dossier_id: str, team_id: str, call: Call) -> None:
        """The patient side refuses a team as a whole: none of its members reads as a
        member any more (each keeps whatever else the dossier records about them)."""
        gate = self._gate
        with gate.on_dossier(actor, dossier_id, Action.CARE_TEAM_REMOVE, call) as dossier:
            team = parse_id(team_id, "care team id")
            if all(t.team_id != team for t in self._index.care_teams(dossier.dossier_id)):
                raise NotFoundError("no such care team")
        self._index.remove_care_team(dossier.dossier_id, team, gate.now_us(), call.request_id)

    def listed(self, dossier_id: uuid.UUID) -> tuple[CareTeam, ...]:
        """The dossier's teams, names opened: for an access list already decided."""
        keys: dict[int, bytes] = {}
        teams = []
        for record in self._index.care_teams(dossier_id):
            version = record.key_version
            if version not in keys:
                keys[version] = self._gate.dossier_key(dossier_id, version)
            name = open_team_name(
                keys[version], dossier_id, record.team_id, version, record.sealed_name
            )
            teams.append(
                CareTeam(
                    dossier_id,
                    record.team_id,
                    name,
                    record.members,
                    record.created_us,
                    record.expires_us,
                )
            )
        return tuple(teams)
