"""Care teams in the SQL index (SQLite and PostgreSQL): a team matches its members by
RPPS or structure until removed, keeps its row as the trail, keeps alive the dossier key
version its name is sealed under through a rotation, and goes with the dossier's
destruction."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.index.test_sql import _begin, _closed_due, add_dossier
from vault.crypto.keyprovider import WrappedKey
from vault.domain.ids import new_id
from vault.index.base import CareTeamRecord, DossierKeyRecord, DossierRecord
from vault.index.sql import SqlIndex
from vault.sqlstore import make_engine

RPPS, FINESS, OTHER = "10000000017", "750712184", "10000000025"


@pytest.fixture
def index(db_url: str) -> SqlIndex:
    index = SqlIndex(make_engine(db_url))
    index.create_schema()
    return index


def _team(dossier: DossierRecord, members: tuple[str, ...], expires_us: int) -> CareTeamRecord:
    created_us = expires_us // 10  # teams list in the order they were added
    return CareTeamRecord(
        dossier.dossier_id, new_id(), b"sealed", 1, members, created_us, expires_us
    )


def test_a_team_matches_its_members_by_rpps_or_structure_until_removed(index: SqlIndex) -> None:
    dossier, other = add_dossier(index), add_dossier(index, b"q" * 32)
    short, long = _team(dossier, (RPPS,), 100), _team(dossier, (FINESS, RPPS), 200)
    index.add_care_team(short, "r1")
    index.add_care_team(long, "r2")
    assert index.care_team_until(dossier.dossier_id, RPPS) == 200
    assert index.care_team_until(dossier.dossier_id, OTHER, FINESS) == 200
    assert index.care_team_until(dossier.dossier_id, OTHER) is None
    assert index.care_team_until(other.dossier_id, RPPS, FINESS) is None
    assert index.care_team_until(dossier.dossier_id, FINESS) == 200  # a structure alone
    assert [t.members for t in index.care_teams(dossier.dossier_id)] == [(RPPS,), (RPPS, FINESS)]
    assert index.remove_care_team(dossier.dossier_id, long.team_id, 9, "r3")
    assert not index.remove_care_team(dossier.dossier_id, long.team_id, 10, "r4")  # once
    assert not index.remove_care_team(other.dossier_id, short.team_id, 10, "r5")  # not theirs
    assert index.care_team_until(dossier.dossier_id, OTHER, FINESS) is None
    assert index.care_team_until(dossier.dossier_id, RPPS) == 100
    assert [t.team_id for t in index.care_teams(dossier.dossier_id)] == [short.team_id]
    with index.engine.connect() as conn:
        trail = conn.execute(
            text("SELECT created_request, removed_us, removed_request FROM care_teams")
        ).all()
    assert sorted(trail, key=str) == sorted([("r1", None, None), ("r2", 9, "r3")], key=str)


def test_rotation_keeps_the_key_version_a_team_name_is_sealed_under(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    index.add_care_team(_team(dossier, (RPPS,), 100), "r1")  # sealed under version 1
    index.add_dossier_key(DossierKeyRecord(dossier.dossier_id, 2, WrappedKey(1, b"v2")), True)
    assert index.destroy_dossier_keys(dossier.dossier_id, below_version=2) == 0
    assert index.destroy_dossier_keys(dossier.dossier_id, below_version=None) == 2  # shredding


def test_a_destroyed_dossier_keeps_no_team_nor_member(index: SqlIndex) -> None:
    dossier = _closed_due(index)
    index.add_care_team(_team(dossier, (RPPS, FINESS), 100), "r1")
    assert _begin(index, dossier) is not None
    index.complete_destruction(dossier.dossier_id, 11, "certificate", b"t" * 32)
    with index.engine.connect() as conn:
        for table in ("care_teams", "care_team_members"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
    assert index.care_team_until(dossier.dossier_id, RPPS) is None
