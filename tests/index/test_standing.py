"""A caller's standing in one statement (`SqlStanding.standing_rows`, SQLite and
PostgreSQL) gives exactly what the four reads it replaces give (`standing_rows_of`):
the caller's relations and no one else's, the latest care team that names them by RPPS
or structure and is not removed, their overrides only, the holder's sealed date of
birth; for a representative (no `Member`), no teams and no overrides."""

from __future__ import annotations

import pytest

from tests.index.test_care_teams import FINESS, OTHER, RPPS, _team
from tests.index.test_sql import add_dossier
from vault.domain.model import (
    DocumentCategory,
    EmergencyReason,
    MatrixOverride,
    Relation,
    Relationship,
)
from vault.index.births import SealedBirth
from vault.index.sql import SqlIndex
from vault.index.standing import Member, StandingRows, standing_rows_of
from vault.sqlstore import make_engine

GUARDIAN = "ins-hmac:" + "ab" * 32


@pytest.fixture
def index(db_url: str) -> SqlIndex:
    index = SqlIndex(make_engine(db_url))
    index.create_schema()
    return index


def _both(index: SqlIndex, *args: object) -> StandingRows:
    """The one statement's answer, checked against the four reads'."""
    one = index.standing_rows(*args)  # type: ignore[arg-type]
    assert one == standing_rows_of(index, *args)  # type: ignore[arg-type]
    with index.reads():  # inside a decision's read scope too
        assert index.standing_rows(*args) == one  # type: ignore[arg-type]
    return one


def test_one_statement_reads_what_the_four_reads_read(index: SqlIndex) -> None:
    dossier, other = add_dossier(index), add_dossier(index, b"q" * 32)
    d = dossier.dossier_id
    regulation = EmergencyReason.SAMU_REGULATION.value
    for entry in (
        Relationship(d, Relation.TREATING, RPPS, 5),
        Relationship(d, Relation.AUTHORISED, RPPS, 6, 600, "physician", "consent"),
        Relationship(d, Relation.EMERGENCY, RPPS, 7, 700, None, regulation),
        Relationship(d, Relation.SEEN, RPPS, 8),
        Relationship(d, Relation.BLOCKED, OTHER, 9),
        Relationship(d, Relation.REPRESENTATIVE, GUARDIAN, 10, 1_000),
        Relationship(other.dossier_id, Relation.AUTHORISED, RPPS, 11),
    ):
        index.set_relationship(entry, "r")
    short, long, gone = (
        _team(dossier, m, e) for m, e in (((RPPS,), 100), ((FINESS,), 300), ((RPPS,), 900))
    )
    for team in (short, long, gone):
        index.add_care_team(team, "r")
    index.remove_care_team(d, gone.team_id, 50, "r")
    for subject, category, opened in (
        (RPPS, DocumentCategory.IMAGING, True),
        (RPPS, DocumentCategory.BIOLOGY, False),
        (OTHER, DocumentCategory.REPORTS, True),
    ):
        index.set_matrix_override(MatrixOverride(d, subject, category, opened, 12), "r")
    index.set_birth(SealedBirth(d, 1, b"sealed box"))

    by_rpps = _both(index, d, RPPS, Member(RPPS))
    assert [r.relation for r in by_rpps.relationships] == [
        Relation.AUTHORISED,
        Relation.EMERGENCY,
        Relation.SEEN,
        Relation.TREATING,
    ]
    assert by_rpps.relationships[0] == Relationship(
        d, Relation.AUTHORISED, RPPS, 6, 600, "physician", "consent"
    )
    assert by_rpps.team_until_us == 100  # the removed team matches nothing
    assert [(o.category, o.opened) for o in by_rpps.overrides] == [
        (DocumentCategory.BIOLOGY, False),
        (DocumentCategory.IMAGING, True),
    ]
    assert by_rpps.birth == SealedBirth(d, 1, b"sealed box")
    assert _both(index, d, RPPS, Member(RPPS, FINESS)).team_until_us == 300  # by structure
    guardian = _both(index, d, GUARDIAN)
    assert [(r.relation, r.expires_us) for r in guardian.relationships] == [
        (Relation.REPRESENTATIVE, 1_000)
    ]
    assert (guardian.team_until_us, guardian.overrides) == (None, ())
    assert _both(index, other.dossier_id, RPPS, Member(RPPS)) == StandingRows(
        (Relationship(other.dossier_id, Relation.AUTHORISED, RPPS, 11),), None, (), None
    )


def test_a_stranger_to_the_dossier_reads_nothing(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    empty = StandingRows((), None, (), None)
    assert _both(index, dossier.dossier_id, OTHER, Member(OTHER, FINESS)) == empty
    assert _both(index, dossier.dossier_id, GUARDIAN) == empty
