"""A dossier's content size on SQLite and PostgreSQL (`content_size`, and the quota
`commit_version` checks): live versions only, pending ones never, and on PostgreSQL a
commit that waits for the dossier row's lock sees what the holder committed meanwhile.
The size is a running total in the dossier's row (revision 0014): commits and deletions
move it, and the migration fills it from the versions."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace

import pytest
from alembic import command
from sqlalchemy import text

from tests.index.test_sql import add_dossier, reserve, version
from tests.index.test_versions import next_version, store
from vault import migrations
from vault.errors import DossierQuotaExceededError
from vault.index.sql import SqlIndex
from vault.sqlstore import exclusive, make_engine


@pytest.fixture
def index(db_url: str) -> SqlIndex:
    index = SqlIndex(make_engine(db_url))
    index.create_schema()
    return index


def test_only_each_documents_latest_committed_version_counts(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    first = store(index, replace(version(dossier), size=100))
    store(index, replace(next_version(first, 20), size=30))  # replaces the 100
    store(index, replace(version(dossier), size=50))
    reserve(index, replace(version(dossier), size=999))  # pending: not counted
    other = add_dossier(index, b"q" * 32)
    store(index, replace(version(other), size=7))
    assert index.content_size(dossier.dossier_id) == 80
    assert index.content_size(other.dossier_id) == 7
    assert index.content_size(uuid.uuid4()) == 0


def test_a_commit_past_the_quota_writes_nothing(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    store(index, replace(version(dossier), size=100))
    late = replace(version(dossier), size=51)
    reserve(index, late)
    with pytest.raises(DossierQuotaExceededError):
        index.commit_version(late, quota=150)
    assert index.content_size(dossier.dossier_id) == 100
    assert index.version(dossier.dossier_id, late.document_id, None) is None
    index.commit_version(replace(late, size=50), quota=150)  # exactly the room left
    assert index.content_size(dossier.dossier_id) == 150


def test_a_replacement_is_measured_without_the_version_it_replaces(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    first = store(index, replace(version(dossier), size=100))
    second = replace(next_version(first, 20), size=150)
    reserve(index, second)
    index.commit_version(second, quota=150)
    assert index.content_size(dossier.dossier_id) == 150


def test_a_commit_waits_for_the_dossier_lock_and_sees_what_its_holder_committed(
    index: SqlIndex, db_url: str
) -> None:
    """Another server commits a version under the dossier row's lock; a commit of the
    same dossier meanwhile must wait, then count it. Without the lock it would read the
    total from before and both would pass."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: nothing to interleave")
    dossier = add_dossier(index)
    holder, rival = replace(version(dossier), size=80), replace(version(dossier), size=80)
    reserve(index, holder)
    reserve(index, rival)
    outcome: list[BaseException | None] = []

    def commit_rival() -> None:
        try:
            index.commit_version(rival, quota=100)
            outcome.append(None)
        except BaseException as error:  # inspected below
            outcome.append(error)

    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("select id from dossiers where id = :d for update"),
                {"d": dossier.dossier_id},
            )
            waiter = threading.Thread(target=commit_rival)
            waiter.start()
            deadline = time.monotonic() + 30
            while waiter.is_alive() and not _lock_waiters(conn):
                assert time.monotonic() < deadline, "the rival neither waited nor finished"
                time.sleep(0.02)
            conn.execute(  # the holder's commit, as commit_version writes it
                text(
                    "update document_versions set status = 'committed', size = 80,"
                    " lease_until_us = null where document_id = :d and version = 1"
                ),
                {"d": holder.document_id},
            )
            conn.execute(
                text("update documents set latest_version = 1 where id = :d"),
                {"d": holder.document_id},
            )
            conn.execute(  # the dossier's running total (revision 0014)
                text("update dossiers set content_bytes = content_bytes + 80 where id = :d"),
                {"d": dossier.dossier_id},
            )
        waiter.join(30)
    finally:
        engine.dispose()
    assert len(outcome) == 1
    assert isinstance(outcome[0], DossierQuotaExceededError)
    assert index.content_size(dossier.dossier_id) == 80


def _lock_waiters(conn: object) -> int:
    """Sessions blocked by `conn`'s locks (not by query text: a prepared statement's
    session may show its previous statement in pg_stat_activity)."""
    found = conn.execute(  # type: ignore[attr-defined]
        text(
            "select count(*) from pg_stat_activity"
            " where pg_backend_pid() = any(pg_blocking_pids(pid))"
        )
    )
    return int(found.scalar() or 0)


def test_deleting_a_document_takes_its_live_version_off_the_total(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    first = store(index, replace(version(dossier), size=100))
    store(index, replace(next_version(first, 20), size=30))  # the live one: 30
    kept = store(index, replace(version(dossier), size=50))
    index.delete_document(dossier.dossier_id, first.document_id)
    assert index.content_size(dossier.dossier_id) == 50
    index.delete_document(dossier.dossier_id, kept.document_id)
    assert index.content_size(dossier.dossier_id) == 0


def test_a_reservation_never_committed_leaves_the_total_alone(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    store(index, replace(version(dossier), size=40))
    pending = replace(version(dossier), size=999)
    reserve(index, pending)
    index.delete_document(dossier.dossier_id, pending.document_id)  # nothing committed
    assert index.content_size(dossier.dossier_id) == 40


def test_revision_0014_fills_each_dossiers_total_from_its_live_versions(
    index: SqlIndex, db_url: str
) -> None:
    """A database from before the running total: going down to 0013 drops the column,
    going up again fills it from the versions (latest committed ones only)."""
    dossier, empty = add_dossier(index), add_dossier(index, b"q" * 32)
    first = store(index, replace(version(dossier), size=100))
    store(index, replace(next_version(first, 20), size=30))
    store(index, replace(version(dossier), size=50))
    reserve(index, replace(version(dossier), size=999))
    engine = index.engine
    for step, revision in ((command.downgrade, "0013"), (command.upgrade, "0014")):
        with exclusive(engine, "test", altering=True) as conn:
            step(migrations.alembic_config(conn, migrations.INDEX), revision)
    assert index.content_size(dossier.dossier_id) == 80
    assert index.content_size(empty.dossier_id) == 0
