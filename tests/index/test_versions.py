"""`SqlIndex` on SQLite and PostgreSQL: versions (replacement, deprecation, unique and
gapless numbers under concurrent writers) and searches (filters, statuses, cursors)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from tests.index.test_sql import LEASE_US, add_dossier, reserve, version
from vault.domain.clock import to_us
from vault.domain.ids import new_id, new_object_key
from vault.domain.model import DocumentCategory, DocumentQuery, DocumentStatus
from vault.domain.policy import EVERYTHING
from vault.errors import ConflictError, NotFoundError
from vault.index.base import Cursor, DossierRecord, VersionRecord
from vault.index.sql import SqlIndex
from vault.sqlstore import make_engine

BOTH = frozenset(DocumentStatus)


@pytest.fixture
def index(db_url: str) -> SqlIndex:
    index = SqlIndex(make_engine(db_url))
    index.create_schema()
    return index


def store(index: SqlIndex, record: VersionRecord) -> VersionRecord:
    reserve(index, record)
    index.commit_version(record)
    return record


def next_version(record: VersionRecord, created_us: int) -> VersionRecord:
    return replace(
        record, version=record.version + 1, created_us=created_us, blob_key=new_object_key()
    )


def search(index: SqlIndex, dossier: DossierRecord, **filters: object) -> list[VersionRecord]:
    return index.search(dossier.dossier_id, EVERYTHING, DocumentQuery(**filters), 100)  # type: ignore[arg-type]


def numbers(records: list[VersionRecord]) -> list[tuple[int, DocumentStatus]]:
    return [(r.version, r.status) for r in records]


def test_a_replacement_deprecates_the_previous_version_and_keeps_it_readable(
    index: SqlIndex,
) -> None:
    dossier = add_dossier(index)
    first = store(index, version(dossier))
    second = store(index, next_version(first, 20))
    document = first.document_id
    assert numbers(search(index, dossier)) == [(2, DocumentStatus.CURRENT)]
    assert numbers(search(index, dossier, document_id=document)) == [
        (2, DocumentStatus.CURRENT),
        (1, DocumentStatus.DEPRECATED),
    ]
    deprecated = search(index, dossier, statuses=frozenset({DocumentStatus.DEPRECATED}))
    assert numbers(deprecated) == [(1, DocumentStatus.DEPRECATED)]
    old = index.version(dossier.dossier_id, document, 1)
    assert old is not None
    assert old.status is DocumentStatus.DEPRECATED
    assert old.blob_key == first.blob_key
    latest = index.version(dossier.dossier_id, document, None)
    assert latest is not None
    assert latest.blob_key == second.blob_key
    assert latest.document_created_us == first.created_us  # its place in listings stays
    assert index.category_counts(dossier.dossier_id, EVERYTHING) == {DocumentCategory.BIOLOGY: 1}


def test_a_replacement_of_a_version_that_is_not_the_latest_is_a_conflict(
    index: SqlIndex,
) -> None:
    dossier = add_dossier(index)
    first = store(index, version(dossier))
    store(index, next_version(first, 20))
    with pytest.raises(ConflictError):
        reserve(index, next_version(first, 30))  # a second "version 2"


def test_a_replacement_of_a_document_not_in_the_dossier_is_not_found_not_a_conflict(
    index: SqlIndex,
) -> None:
    """Another dossier's document, named as replaced: no newer version exists, the
    document is simply not there (the message of a document the caller may not see)."""
    first = store(index, version(add_dossier(index)))
    elsewhere = replace(
        next_version(first, 20), dossier_id=add_dossier(index, b"q" * 32).dossier_id
    )
    with pytest.raises(NotFoundError, match=r"^no such document$"):
        reserve(index, elsewhere)


def test_two_reservations_of_one_number_conflict_and_the_loser_cannot_discard_the_winner(
    index: SqlIndex,
) -> None:
    dossier = add_dossier(index)
    first = store(index, version(dossier))
    winner, loser = next_version(first, 20), next_version(first, 21)
    reserve(index, winner)
    with pytest.raises(ConflictError):
        reserve(index, loser)
    assert not index.discard_version(loser)  # the loser's cleanup
    index.commit_version(winner)  # the winner's reservation survived it
    assert numbers(search(index, dossier)) == [(2, DocumentStatus.CURRENT)]


def test_a_discarded_replacement_leaves_no_gap(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    first = store(index, version(dossier))
    abandoned = next_version(first, 20)
    reserve(index, abandoned)
    assert index.discard_version(abandoned)
    store(index, next_version(first, 30))
    history = search(index, dossier, document_id=first.document_id)
    assert [r.version for r in history] == [2, 1]


def test_concurrent_writers_never_lose_a_version_and_numbers_stay_gapless(
    index: SqlIndex,
) -> None:
    """Eight writers replace one document as fast as they can, each retrying on conflict
    from the version it last read: every acknowledged version is stored, once, and the
    numbers run 1..N without a hole."""
    dossier = add_dossier(index)
    first = store(index, version(dossier))
    acknowledged: list[tuple[int, str]] = []
    lock = threading.Lock()

    def writer() -> None:
        done = 0
        while done < 5:
            latest = index.version(dossier.dossier_id, first.document_id, None)
            assert latest is not None
            attempt = next_version(latest, latest.created_us + 1)
            try:
                store(index, attempt)
            except ConflictError:
                index.discard_version(attempt)
                continue
            with lock:
                acknowledged.append((attempt.version, attempt.blob_key))
            done += 1

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    history = search(index, dossier, document_id=first.document_id)
    assert sorted(r.version for r in history) == list(range(1, 42))
    assert {(r.version, r.blob_key) for r in history if r.version > 1} == set(acknowledged)
    assert index.pending_versions(2**62, 100) == []


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_search_filters_each_narrow_the_result(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    lab = store(
        index,
        replace(
            version(dossier, 10),
            type_code="11502-2",
            care_us=to_us(day("2024-03-01")),
            author="10003456789",
        ),
    )
    scan = store(
        index,
        replace(
            version(dossier, 20),
            category=DocumentCategory.IMAGING,
            type_code="18748-4",
            care_us=to_us(day("2025-06-15")),
            author="10001234567",
        ),
    )
    undated = store(index, replace(version(dossier, 30), category=DocumentCategory.REPORTS))

    def found(**filters: object) -> list[int]:
        return [r.created_us for r in search(index, dossier, **filters)]

    assert found() == [30, 20, 10]
    assert found(categories=frozenset({DocumentCategory.IMAGING})) == [scan.created_us]
    assert found(type_codes=frozenset({"11502-2", "34133-9"})) == [lab.created_us]
    assert found(author="10001234567") == [scan.created_us]
    assert found(care_from=day("2025-01-01")) == [scan.created_us]
    assert found(care_until=day("2025-01-01")) == [lab.created_us]
    # the range includes its start and excludes its end; undated documents never match
    assert found(care_from=day("2024-03-01"), care_until=day("2025-06-15")) == [lab.created_us]
    assert found(document_id=undated.document_id) == [undated.created_us]
    assert found(categories=frozenset({DocumentCategory.IMAGING}), author="10003456789") == []


def test_a_replacement_is_searched_by_its_own_codes_and_dates(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    first = store(index, replace(version(dossier), type_code="11488-4"))
    store(index, replace(next_version(first, 20), type_code="11502-2"))
    assert search(index, dossier, type_codes=frozenset({"11488-4"})) == []
    old = search(index, dossier, type_codes=frozenset({"11488-4"}), statuses=BOTH)
    assert numbers(old) == [(1, DocumentStatus.DEPRECATED)]


def test_a_cursor_resumes_between_two_versions_of_one_document(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    older = store(index, version(dossier, 10))
    newer = store(index, version(dossier, 20))
    store(index, next_version(newer, 30))
    store(index, next_version(older, 40))
    everything = search(index, dossier, statuses=BOTH)
    assert [(r.document_created_us, r.version) for r in everything] == [
        (20, 2),
        (20, 1),
        (10, 2),
        (10, 1),
    ]
    query = DocumentQuery(statuses=BOTH)
    pages, cursor = [], None
    while page := index.search(dossier.dossier_id, EVERYTHING, query, 1, cursor):
        pages += page
        cursor = Cursor.after(page[-1])
    assert pages == everything


def test_a_document_of_another_dossier_is_never_searched(index: SqlIndex) -> None:
    ours, theirs = add_dossier(index), add_dossier(index, b"q" * 32)
    record = store(index, version(theirs))
    assert search(index, ours, document_id=record.document_id) == []
    assert search(index, ours, statuses=BOTH) == []


def test_pending_versions_are_never_searched(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    first = store(index, version(dossier))
    reserve(index, next_version(first, 20))
    reserve(index, replace(version(dossier, 30), document_id=new_id()))
    assert numbers(search(index, dossier, statuses=BOTH)) == [(1, DocumentStatus.CURRENT)]


def test_a_crashed_uploads_lapsed_reservation_is_taken_over_and_cannot_commit(
    index: SqlIndex,
) -> None:
    dossier = add_dossier(index)
    first = store(index, version(dossier))
    crashed = next_version(first, 20)
    reserve(index, crashed, lease_us=100)  # leased until 120, never renewed
    retry = next_version(first, 121)
    reserve(index, retry)
    with pytest.raises(ConflictError):
        index.commit_version(crashed)  # a stalled client that comes back too late
    assert not index.discard_version(crashed)  # its cleanup leaves the retry alone
    index.commit_version(retry)
    latest = index.version(dossier.dossier_id, first.document_id, None)
    assert latest is not None
    assert latest.blob_key == retry.blob_key
    history = search(index, dossier, document_id=first.document_id, statuses=BOTH)
    assert numbers(history) == [(2, DocumentStatus.CURRENT), (1, DocumentStatus.DEPRECATED)]


def test_a_reservation_is_not_taken_over_before_its_lease_lapses(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    first = store(index, version(dossier))
    reserve(index, next_version(first, 20), lease_us=100)  # leased until 120
    with pytest.raises(ConflictError):
        reserve(index, next_version(first, 120))


def test_a_renewed_reservation_holds_and_a_taken_over_one_cannot_be_renewed(
    index: SqlIndex,
) -> None:
    dossier = add_dossier(index)
    first = store(index, version(dossier))
    slow = next_version(first, 20)
    reserve(index, slow, lease_us=100)
    assert index.renew_reservation(slow, 1_000)
    with pytest.raises(ConflictError):
        reserve(index, next_version(first, 500))  # the first lease ran out, not the renewal
    reserve(index, next_version(first, 1_001))
    assert not index.renew_reservation(slow, 2_000)


def unleased_replacement(index: SqlIndex) -> tuple[VersionRecord, VersionRecord]:
    """A stored first version, and a pending version 2 reserved at 20 without a lease, as
    a server older than revision 0006 reserves (it never renews)."""
    first = store(index, version(add_dossier(index)))
    old = next_version(first, 20)
    reserve(index, old)
    with index.engine.begin() as conn:
        conn.execute(text("UPDATE document_versions SET lease_until_us = NULL"))
    return first, old


def test_a_reservation_from_before_leases_holds_one_lease_from_its_creation(
    index: SqlIndex,
) -> None:
    first, old = unleased_replacement(index)
    with pytest.raises(ConflictError):
        reserve(index, next_version(first, 20 + LEASE_US))
    reserve(index, next_version(first, 21 + LEASE_US))
    with pytest.raises(ConflictError):
        index.commit_version(old)


def test_the_sweeper_finds_a_reservation_without_a_lease_by_its_creation(
    index: SqlIndex,
) -> None:
    _, old = unleased_replacement(index)
    assert index.pending_versions(20, 10) == []
    assert [r.blob_key for r in index.pending_versions(21, 10)] == [old.blob_key]
