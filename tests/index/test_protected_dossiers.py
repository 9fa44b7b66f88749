"""`RetentionIndex.protected_dossiers` on SQLite and PostgreSQL: what the retention
run's repair pass re-protects at the store (ADR 0024): closed before the deadline (not
a deletion request) or held, by id, page after page."""

from __future__ import annotations

import os
from dataclasses import replace

from tests.index.test_sql import add_dossier
from vault.domain.lifecycle import LegalHold, Lifecycle
from vault.domain.model import ClosureReason, DossierState
from vault.index.base import DossierRecord
from vault.index.sql import SqlIndex
from vault.sqlstore import make_engine

NOW = 1_000_000_000


def _moved(index: SqlIndex, reason: ClosureReason | None, deadline: int) -> DossierRecord:
    dossier = add_dossier(index, os.urandom(32))  # a patient each
    closed = Lifecycle(DossierState.CLOSED, NOW - 1, reason, deadline)
    new = closed if reason is not None else Lifecycle()
    assert reason is None or index.set_lifecycle(dossier.dossier_id, dossier.lifecycle, new)
    return replace(dossier, lifecycle=new)


def test_only_closed_before_the_deadline_or_held_dossiers_are_to_be_protected(
    db_url: str,
) -> None:
    index = SqlIndex(make_engine(db_url))
    index.create_schema()
    retained = _moved(index, ClosureReason.PATIENT_REQUEST, NOW + 1)
    _moved(index, ClosureReason.PATIENT_REQUEST, NOW)  # deadline passed: due, not retained
    _moved(index, ClosureReason.DELETION_REQUEST, NOW + 1)  # destroyed early
    _moved(index, None, 0)  # active
    held = _moved(index, None, 0)
    assert index.add_hold(LegalHold(0, held.dossier_id, NOW, "operator:ops-1", "TJ 26/1"))
    expected = sorted([retained.dossier_id, held.dossier_id])
    assert [d.dossier_id for d in index.protected_dossiers(NOW, None, 10)] == expected
    first = index.protected_dossiers(NOW, None, 1)
    second = index.protected_dossiers(NOW, first[0].dossier_id, 1)
    assert [first[0].dossier_id, second[0].dossier_id] == expected
    assert index.protected_dossiers(NOW, second[0].dossier_id, 1) == []
