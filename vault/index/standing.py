"""`StandingIndex`: the index's port for what a dossier records about one professional or
legal representative, read in one go for the gate (`vault/service/standings.py`): their
relations to the dossier, the latest expiry of the care teams they are in, the patient's
overrides of the matrix for them, and the holder's sealed date of birth.

The same facts as `AccessIndex.relationships`, `CareTeamIndex.care_team_until`,
`OverrideIndex.matrix_overrides` and `BirthIndex.sealed_birth` give one by one; here one
statement on SQL (vault/index/sql/standing.py), since every request of a professional
or representative reads them. Not here: what they mean (vault/domain/policy/), opening
the date of birth (vault/service/majorities.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from vault.domain.model import MatrixOverride, Relationship
from vault.index.births import BirthIndex, SealedBirth
from vault.index.overrides import OverrideIndex


@dataclass(frozen=True, slots=True)
class StandingRows:
    """What the index records about one subject in one dossier. `team_until_us` and
    `overrides` are read for a professional only (`Member` given), else None and ()."""

    relationships: tuple[Relationship, ...]
    team_until_us: int | None
    overrides: tuple[MatrixOverride, ...]
    birth: SealedBirth | None


@dataclass(frozen=True, slots=True)
class Member:
    """How a professional may be named in a care team: their RPPS, or the structure
    their token carries (vault/domain/policy/teams.py)."""

    rpps: str
    structure: str | None = None


class StandingIndex(Protocol):
    def standing_rows(
        self, dossier_id: uuid.UUID, subject: str, member: Member | None = None
    ) -> StandingRows:
        """`subject`'s relations to the dossier, the holder's sealed date of birth and,
        for a professional (`member`), the latest expiry of the care teams that name
        them and the patient's overrides for `subject`: in one read."""
        ...


class _Parts(BirthIndex, OverrideIndex, Protocol):
    def relationships(
        self, dossier_id: uuid.UUID, subject: str | None = None
    ) -> list[Relationship]: ...

    def care_team_until(
        self, dossier_id: uuid.UUID, rpps: str, structure: str | None = None
    ) -> int | None: ...


def standing_rows_of(
    index: _Parts, dossier_id: uuid.UUID, subject: str, member: Member | None = None
) -> StandingRows:
    """`StandingIndex.standing_rows` from the four ports it replaces, one read each: its
    reference semantics (the SQL statement is tested against it) and an in-memory
    index's implementation."""
    team_until: int | None = None
    overrides: tuple[MatrixOverride, ...] = ()
    if member is not None:
        team_until = index.care_team_until(dossier_id, member.rpps, member.structure)
        overrides = index.matrix_overrides(dossier_id, subject)
    return StandingRows(
        tuple(index.relationships(dossier_id, subject)),
        team_until,
        overrides,
        index.sealed_birth(dossier_id),
    )
