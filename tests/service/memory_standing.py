"""`MemoryStanding`: the `StandingIndex` port for `MemoryIndex`, composed from the four
ports it stands for (`standing_rows_of`, the reference the SQL statement is tested
against)."""

from __future__ import annotations

import uuid

from vault.index.standing import Member, StandingRows, standing_rows_of


class MemoryStanding:
    def standing_rows(
        self, dossier_id: uuid.UUID, subject: str, member: Member | None = None
    ) -> StandingRows:
        return standing_rows_of(self, dossier_id, subject, member)  # type: ignore[arg-type]
