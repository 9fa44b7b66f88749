"""`MemoryCareTeams`: the `CareTeamIndex` port in a dict, for `MemoryIndex` (the SQL
adapter's semantics: a removed team keeps its record but matches nothing)."""

from __future__ import annotations

import threading
import uuid

from vault.index.base import CareTeamRecord


class MemoryCareTeams:
    def __init__(self) -> None:
        self._teams_lock = threading.Lock()
        self._teams: dict[uuid.UUID, tuple[CareTeamRecord, bool]] = {}  # -> (team, removed)

    def add_care_team(self, team: CareTeamRecord, request_id: str) -> None:
        with self._teams_lock:
            self._teams[team.team_id] = (team, False)

    def remove_care_team(
        self, dossier_id: uuid.UUID, team_id: uuid.UUID, removed_us: int, request_id: str
    ) -> bool:
        with self._teams_lock:
            team, removed = self._teams.get(team_id, (None, True))
            if team is None or removed or team.dossier_id != dossier_id:
                return False
            self._teams[team_id] = (team, True)
            return True

    def care_teams(self, dossier_id: uuid.UUID) -> list[CareTeamRecord]:
        with self._teams_lock:
            found = [t for t, removed in self._teams.values() if not removed]
        return sorted(
            (t for t in found if t.dossier_id == dossier_id),
            key=lambda t: (t.created_us, t.team_id),
        )

    def care_team_until(
        self, dossier_id: uuid.UUID, rpps: str, structure: str | None = None
    ) -> int | None:
        expiries = [
            t.expires_us
            for t in self.care_teams(dossier_id)
            if rpps in t.members or (structure is not None and structure in t.members)
        ]
        return max(expiries, default=None)
