"""The fake keeps honest: the same behaviour tests run against `MemoryIndex` and against
`SqlIndex` on SQLite (the `index` fixture below takes both).

Most are tests/index's own, imported here so that pytest runs them with this module's
`index` fixture: what the SQL adapter is held to, the fake is held to. Those that read
the SQL schema, a migration or a driver's error are left out (they are the adapter's
alone), as are the lifecycle and retention ones (the fake does not implement those
ports). The tests written here cover what the use cases rely on that tests/index
checks only through a whole server: an aborted first upload, the sweeper's view of
leases, re-encryption's bookkeeping.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Protocol

import pytest

from tests.index import test_sql as sql_tests
from tests.index.test_births import (  # noqa: F401  (collected here, run on both indexes)
    test_a_date_of_birth_is_set_in_place_of_the_recorded_one_or_first,
    test_a_date_of_birth_is_stored_with_its_dossier_and_only_there,
    test_a_reseal_replaces_only_the_box_that_was_read,
    test_a_rotation_keeps_the_key_version_a_date_is_still_sealed_under,
)
from tests.index.test_sql import (  # noqa: F401  (collected here, run on both indexes)
    LEASE_US,
    test_a_dossier_has_at_most_one_treating_physician,
    test_a_first_access_is_notified_once_and_the_outbox_keeps_order,
    test_a_pending_document_is_not_counted,
    test_authorising_replaces_a_block_and_blocking_an_authorisation,
    test_deleting_a_document_returns_every_blob_and_leaves_no_row,
    test_discarded_version_leaves_nothing,
    test_document_is_only_found_in_its_own_dossier,
    test_dossier_found_by_id_and_by_patient_index,
    test_each_visibility_change_is_a_new_metadata_version,
    test_every_access_change_is_kept_though_the_relation_is_gone,
    test_listing_and_counts_apply_the_scope_exactly_as_the_policy_does,
    test_listing_is_newest_first_and_resumes_after_a_cursor,
    test_lost_dossier_key_is_an_integrity_error,
    test_pending_version_is_invisible_until_committed,
    test_rotation_never_destroys_a_dossier_key_version_still_in_use,
    test_second_dossier_for_one_patient_is_refused,
    test_the_emergency_setting_is_stored_on_the_dossier,
)
from tests.index.test_versions import (  # noqa: F401  (collected here, run on both indexes)
    test_a_crashed_uploads_lapsed_reservation_is_taken_over_and_cannot_commit,
    test_a_cursor_resumes_between_two_versions_of_one_document,
    test_a_discarded_replacement_leaves_no_gap,
    test_a_document_of_another_dossier_is_never_searched,
    test_a_renewed_reservation_holds_and_a_taken_over_one_cannot_be_renewed,
    test_a_replacement_deprecates_the_previous_version_and_keeps_it_readable,
    test_a_replacement_is_searched_by_its_own_codes_and_dates,
    test_a_replacement_of_a_version_that_is_not_the_latest_is_a_conflict,
    test_a_reservation_is_not_taken_over_before_its_lease_lapses,
    test_concurrent_writers_never_lose_a_version_and_numbers_stay_gapless,
    test_pending_versions_are_never_searched,
    test_search_filters_each_narrow_the_result,
    test_two_reservations_of_one_number_conflict_and_the_loser_cannot_discard_the_winner,
)
from tests.service.memory_index import MemoryIndex
from vault.crypto.keyprovider import WrappedKey
from vault.domain.ids import new_id, new_object_key
from vault.domain.model import DocumentQuery
from vault.domain.policy import EVERYTHING, NOTHING
from vault.errors import ConflictError, FailedPreconditionError
from vault.index.base import DossierKeyRecord, DossierRecord, VersionRecord
from vault.index.sql import SqlIndex
from vault.service.gate import GateIndex
from vault.service.uploads import UploadIndex
from vault.sqlstore import make_engine


class ServiceIndex(GateIndex, UploadIndex, Protocol):
    """What the gate, the document use cases and uploads are typed for, together."""


def test_the_fake_is_exactly_what_the_use_cases_are_typed_for() -> None:
    fake: ServiceIndex = MemoryIndex()  # mypy checks the assignment
    assert not hasattr(fake, "set_lifecycle")  # no lifecycle, no retention: not declared


@pytest.fixture(params=["memory", "sqlite"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> ServiceIndex:
    if request.param == "memory":
        return MemoryIndex()
    sql = SqlIndex(make_engine(f"sqlite:///{tmp_path / 'index.sqlite3'}"))
    sql.create_schema()
    return sql


def _dossier(index: ServiceIndex, patient: bytes = b"p" * 32) -> DossierRecord:
    record = DossierRecord(new_id(), patient, created_us=1)
    index.add_dossier(record, DossierKeyRecord(record.dossier_id, 1, WrappedKey(1, b"wrapped")))
    return record


def _first(dossier: DossierRecord, created_us: int = 10) -> VersionRecord:
    """A first version with an author (tests/index's `version`, which has none)."""
    return replace(sql_tests.version(dossier, created_us), author="10001234567")


def _stored(index: ServiceIndex, record: VersionRecord) -> VersionRecord:
    index.reserve_version(record, record.created_us + LEASE_US)
    index.commit_version(replace(record, size=3, ciphertext_size=99, sealed_metadata=b"m"))
    found = index.version(record.dossier_id, record.document_id, record.version)
    assert found is not None
    return found


def test_an_aborted_first_upload_leaves_no_document_row_and_no_blob_reference(
    index: ServiceIndex,
) -> None:
    dossier = _dossier(index)
    record = _first(dossier)
    index.reserve_version(record, 100)
    assert index.referenced_keys([record.blob_key, "other"]) == {record.blob_key}
    assert index.documents_outside(dossier.dossier_id, NOTHING) == {record.document_id}
    assert index.discard_version(record)
    assert not index.discard_version(record)  # once
    assert index.referenced_keys([record.blob_key]) == set()
    assert index.pending_versions(2**62, 10) == []
    assert index.documents_outside(dossier.dossier_id, NOTHING) == set()


def test_a_second_first_version_of_one_document_is_a_conflict(index: ServiceIndex) -> None:
    dossier = _dossier(index)
    record = _first(dossier)
    index.reserve_version(record, 100)
    with pytest.raises(ConflictError):
        index.reserve_version(replace(record, blob_key=new_object_key()), 100)


def test_an_upload_to_an_unknown_dossier_is_refused(index: ServiceIndex) -> None:
    dossier = DossierRecord(new_id(), b"x" * 32)
    with pytest.raises(FailedPreconditionError):
        index.reserve_version(_first(dossier), 100)


def test_the_sweeper_sees_a_reservation_once_its_lease_lapsed_and_with_its_documents_columns(
    index: ServiceIndex,
) -> None:
    dossier = _dossier(index)
    early, late = _first(dossier, created_us=10), _first(dossier, created_us=5)
    index.reserve_version(early, 100)
    index.reserve_version(late, 200)
    assert index.pending_versions(100, 10) == []  # lapsed *before* the time
    assert [r.blob_key for r in index.pending_versions(101, 10)] == [early.blob_key]
    swept = index.pending_versions(201, 10)
    assert [r.blob_key for r in swept] == [late.blob_key, early.blob_key]  # oldest first
    assert swept[1] == replace(early, latest_version=0)
    assert index.renew_reservation(early, 300)
    assert [r.blob_key for r in index.pending_versions(201, 10)] == [late.blob_key]


def test_a_listing_stops_at_its_limit_and_a_version_is_read_by_number_or_as_latest(
    index: ServiceIndex,
) -> None:
    dossier = _dossier(index)
    stored = [_stored(index, _first(dossier, created_us=t)) for t in (10, 20, 30)]
    listed = index.search(dossier.dossier_id, EVERYTHING, DocumentQuery(), 2)
    assert listed == [stored[2], stored[1]]
    assert listed[0].size == 3
    assert index.version(dossier.dossier_id, stored[0].document_id, 0) is None
    assert index.version(dossier.dossier_id, stored[0].document_id, None) == stored[0]


def test_re_encryption_bookkeeping_sees_committed_and_pending_versions_apart(
    index: ServiceIndex,
) -> None:
    dossier = _dossier(index)
    index.add_dossier_key(DossierKeyRecord(dossier.dossier_id, 2, WrappedKey(1, b"v2")), True)
    found = index.dossier(dossier.dossier_id)
    assert found is not None
    assert found.key_version == 2
    committed = _stored(index, _first(dossier, created_us=10))
    index.reserve_version(_first(dossier, created_us=20), 1_000)  # under key version 1
    assert index.versions_not_under_key(dossier.dossier_id, 2, 10) == [committed]
    assert index.uploads_under_other_key(dossier.dossier_id, 2) == 1
    moved = replace(committed, blob_key=new_object_key(), dossier_key_version=2)
    assert index.replace_encryption(committed, moved)
    assert not index.replace_encryption(committed, moved)  # the row is no longer `old`
    assert index.versions_not_under_key(dossier.dossier_id, 2, 10) == []
    assert index.referenced_keys([committed.blob_key, moved.blob_key]) == {moved.blob_key}


def test_rewrapping_changes_only_keys_still_under_their_old_wrapping(index: ServiceIndex) -> None:
    ours, theirs = _dossier(index), _dossier(index, b"q" * 32)
    old = index.dossier_key(ours.dossier_id, 1)
    keys = index.dossier_keys_not_under(2, 10)
    assert [(k.dossier_id, k.version) for k in keys] == sorted(
        [(ours.dossier_id, 1), (theirs.dossier_id, 1)]
    )
    assert index.dossier_keys_not_under(2, 10, after=keys[0]) == keys[1:]
    stale = replace(old, wrapped=WrappedKey(1, b"someone else's"))
    pairs = [(old, WrappedKey(2, b"new")), (stale, WrappedKey(2, b"x"))]
    assert index.rewrap_dossier_keys(pairs) == 1
    assert index.master_version_counts() == {1: 1, 2: 1}
    assert index.dossier_key(ours.dossier_id, 1).wrapped == WrappedKey(2, b"new")
    assert index.dossier_keys_not_under(2, 10) == [index.dossier_key(theirs.dossier_id, 1)]
