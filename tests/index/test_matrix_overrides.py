"""The patient's overrides of the matrix in the SQL index (SQLite and PostgreSQL): one
per dossier, professional and category, replaced in place, cleared once, each change in
the access trail, and gone with the dossier's destruction."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.index.test_sql import _begin, _closed_due, add_dossier
from vault.domain.model import DocumentCategory, MatrixOverride
from vault.index.records import OverrideTrail
from vault.index.sql import SqlIndex
from vault.sqlstore import make_engine

RPPS, OTHER = "10000000017", "10000000025"
C = DocumentCategory


@pytest.fixture
def index(db_url: str) -> SqlIndex:
    index = SqlIndex(make_engine(db_url))
    index.create_schema()
    return index


def test_an_override_is_replaced_in_place_and_cleared_once(index: SqlIndex) -> None:
    dossier, other = add_dossier(index), add_dossier(index, b"q" * 32)
    d = dossier.dossier_id
    index.set_matrix_override(MatrixOverride(d, RPPS, C.IMAGING, True, 1), "r1")
    index.set_matrix_override(MatrixOverride(d, RPPS, C.BIOLOGY, True, 2), "r2")
    index.set_matrix_override(MatrixOverride(d, RPPS, C.IMAGING, False, 3), "r3")
    index.set_matrix_override(MatrixOverride(d, OTHER, C.REPORTS, True, 4), "r4")
    assert [(o.category, o.opened, o.created_us) for o in index.matrix_overrides(d, RPPS)] == [
        (C.BIOLOGY, True, 2),
        (C.IMAGING, False, 3),
    ]
    assert len(index.matrix_overrides(d)) == 3
    assert index.matrix_overrides(other.dossier_id, RPPS) == ()
    assert index.clear_matrix_override(d, RPPS, C.IMAGING, 5, "r5")
    assert not index.clear_matrix_override(d, RPPS, C.IMAGING, 6, "r6")
    assert [o.category for o in index.matrix_overrides(d, RPPS)] == [C.BIOLOGY]


def test_every_override_change_is_in_the_access_trail(index: SqlIndex) -> None:
    """Opened, closed in its place (the open removed), set again, cleared: each change in
    `access_changes` in its order, with whom, which category, when and which request; a
    clear that finds nothing records nothing."""
    d = add_dossier(index).dossier_id
    index.set_matrix_override(MatrixOverride(d, RPPS, C.IMAGING, True, 1), "r1")
    index.set_matrix_override(MatrixOverride(d, RPPS, C.IMAGING, False, 2), "r2")
    index.set_matrix_override(MatrixOverride(d, RPPS, C.IMAGING, False, 3), "r3")  # again
    assert index.clear_matrix_override(d, RPPS, C.IMAGING, 4, "r4")
    assert not index.clear_matrix_override(d, RPPS, C.IMAGING, 5, "r5")
    opened, closed = OverrideTrail.CATEGORY_OPENED, OverrideTrail.CATEGORY_CLOSED
    trail = [
        (c.relation, c.subject, c.detail, c.change, c.changed_us, c.request_id, c.expires_us)
        for c in index.access_changes(d)
    ]
    assert trail == [
        (opened, RPPS, "imaging", "set", 1, "r1", None),
        (opened, RPPS, "imaging", "removed", 2, "r2", None),
        (closed, RPPS, "imaging", "set", 2, "r2", None),
        (closed, RPPS, "imaging", "set", 3, "r3", None),
        (closed, RPPS, "imaging", "removed", 4, "r4", None),
    ]


def test_a_destroyed_dossier_keeps_no_override(index: SqlIndex) -> None:
    dossier = _closed_due(index)
    index.set_matrix_override(MatrixOverride(dossier.dossier_id, RPPS, C.IMAGING, True, 1), "r1")
    assert _begin(index, dossier) is not None
    index.complete_destruction(dossier.dossier_id, 11, "certificate", b"t" * 32)
    with index.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM matrix_overrides")).scalar_one() == 0
