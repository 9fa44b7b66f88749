"""`SqlIndex` on SQLite and PostgreSQL: dossiers, keys, the pending/committed write order."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from dataclasses import replace

import pytest
from sqlalchemy import exc as sa_exc

from vault.crypto.keyprovider import WrappedKey
from vault.domain.ids import new_id, new_object_key
from vault.domain.model import (
    DocumentCategory,
    Notification,
    NotificationKind,
    Relation,
    Relationship,
    Visibility,
)
from vault.domain.policy import EVERYTHING, Scope
from vault.errors import AlreadyExistsError, IntegrityError, NotFoundError
from vault.index.base import Cursor, DossierKeyRecord, DossierRecord, VersionRecord
from vault.index.sql import SqlIndex
from vault.sqlstore import make_engine


@pytest.fixture
def index(db_url: str) -> SqlIndex:
    index = SqlIndex(make_engine(db_url))
    index.create_schema()
    return index


def add_dossier(index: SqlIndex, patient: bytes = b"p" * 32) -> DossierRecord:
    record = DossierRecord(new_id(), patient, created_us=1)
    index.add_dossier(record, DossierKeyRecord(record.dossier_id, 1, WrappedKey(1, b"wrapped")))
    return record


def version(dossier: DossierRecord, created_us: int = 10) -> VersionRecord:
    return VersionRecord(
        dossier_id=dossier.dossier_id,
        document_id=new_id(),
        version=1,
        category=DocumentCategory.BIOLOGY,
        created_us=created_us,
        blob_key=new_object_key(),
        dossier_key_version=1,
        wrapped_key=b"k",
        sealed_metadata=b"",
    )


def test_dossier_found_by_id_and_by_patient_index(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    assert index.dossier(dossier.dossier_id) == dossier
    assert index.dossier_by_patient(b"p" * 32) == dossier
    assert index.dossier(uuid.uuid4()) is None
    assert index.dossier_key(dossier.dossier_id, 1).wrapped == WrappedKey(1, b"wrapped")


def test_second_dossier_for_one_patient_is_refused(index: SqlIndex) -> None:
    add_dossier(index)
    with pytest.raises(AlreadyExistsError):
        add_dossier(index)


def test_lost_dossier_key_is_an_integrity_error(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    with pytest.raises(IntegrityError):
        index.dossier_key(dossier.dossier_id, 2)


def test_pending_version_is_invisible_until_committed(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    record = version(dossier)
    index.reserve_version(record)
    assert index.version(dossier.dossier_id, record.document_id, None) is None
    assert index.latest_versions(dossier.dossier_id, EVERYTHING, 10, None) == []
    committed = replace(record, size=5, ciphertext_size=126, sealed_metadata=b"m")
    index.commit_version(committed)
    assert index.version(dossier.dossier_id, record.document_id, None) == committed
    assert index.version(dossier.dossier_id, record.document_id, 1) == committed
    assert index.latest_versions(dossier.dossier_id, EVERYTHING, 10, None) == [committed]


def test_discarded_version_leaves_nothing(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    record = version(dossier)
    index.reserve_version(record)
    index.discard_version(record)
    with pytest.raises(NotFoundError):
        index.commit_version(record)
    index.reserve_version(record)  # the same ids are free again


def test_document_is_only_found_in_its_own_dossier(index: SqlIndex) -> None:
    ours, theirs = add_dossier(index), add_dossier(index, b"q" * 32)
    record = version(ours)
    index.reserve_version(record)
    index.commit_version(record)
    assert index.version(theirs.dossier_id, record.document_id, None) is None


def test_listing_is_newest_first_and_resumes_after_a_cursor(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    records = [version(dossier, created_us=t) for t in (30, 10, 20, 20)]
    for record in records:
        index.reserve_version(record)
        index.commit_version(record)
    listed = index.latest_versions(dossier.dossier_id, EVERYTHING, 10, None)
    keys = [(r.created_us, r.document_id) for r in listed]
    assert keys == sorted(keys, reverse=True)
    after_two = index.latest_versions(
        dossier.dossier_id, EVERYTHING, 10, Cursor(listed[1].created_us, listed[1].document_id)
    )
    assert after_two == listed[2:]


def test_rotation_never_destroys_a_dossier_key_version_still_in_use(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    index.add_dossier_key(DossierKeyRecord(dossier.dossier_id, 2, WrappedKey(1, b"v2")), True)
    record = version(dossier)  # sealed under dossier key version 1, committed late
    index.reserve_version(record)
    index.commit_version(record)
    assert index.destroy_dossier_keys(dossier.dossier_id, below_version=2) == 0
    assert index.dossier_key(dossier.dossier_id, 1).wrapped == WrappedKey(1, b"wrapped")
    assert index.destroy_dossier_keys(dossier.dossier_id, below_version=None) == 2  # shredding


def test_listing_and_counts_apply_the_scope_exactly_as_the_policy_does(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    documents = []
    for n, (category, bits) in enumerate(itertools.product(list(DocumentCategory)[:3], range(8))):
        record = replace(version(dossier, 10 + n), category=category, visibility=Visibility(bits))
        index.reserve_version(record)
        index.commit_version(record)
        documents.append(record)
    scopes = [
        Scope(Visibility(hidden), frozenset(categories))
        for hidden in range(8)
        for categories in ([], [DocumentCategory.BIOLOGY], list(DocumentCategory)[:2])
    ]
    for scope in scopes:
        admitted = [d for d in documents if scope.admits(d.category, d.visibility)]
        expected = {d.document_id for d in admitted}
        listed = index.latest_versions(dossier.dossier_id, scope, 100, None)
        assert {r.document_id for r in listed} == expected
        counts = index.category_counts(dossier.dossier_id, scope)
        assert counts == Counter(d.category for d in admitted)  # per category, not a sum
        outside = index.documents_outside(dossier.dossier_id, scope)
        assert outside == {d.document_id for d in documents} - expected


def test_a_pending_document_is_not_counted(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    index.reserve_version(version(dossier))
    assert index.category_counts(dossier.dossier_id, EVERYTHING) == {}


def test_each_visibility_change_is_a_new_metadata_version(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    record = version(dossier)
    index.reserve_version(record)
    index.commit_version(record)
    assert index.set_visibility(record, Visibility.MASKED_FROM_PROFESSIONALS, 20, "patient")
    assert not index.set_visibility(record, Visibility.NORMAL, 30, "patient")  # stale
    current = index.version(dossier.dossier_id, record.document_id, None)
    assert current is not None
    assert (current.visibility, current.metadata_version) == (
        Visibility.MASKED_FROM_PROFESSIONALS,
        2,
    )


def test_deleting_a_document_returns_every_blob_and_leaves_no_row(index: SqlIndex) -> None:
    dossier, other = add_dossier(index), add_dossier(index, b"q" * 32)
    record = version(dossier)
    index.reserve_version(record)
    index.commit_version(record)
    assert index.delete_document(other.dossier_id, record.document_id) == []
    assert index.delete_document(dossier.dossier_id, record.document_id) == [record.blob_key]
    assert index.version(dossier.dossier_id, record.document_id, None) is None
    assert index.referenced_keys([record.blob_key]) == set()


def test_authorising_replaces_a_block_and_blocking_an_authorisation(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    authorised = Relationship(dossier.dossier_id, Relation.AUTHORISED, "10001234567", 1, 99)
    blocked = Relationship(dossier.dossier_id, Relation.BLOCKED, "10001234567", 2)
    index.set_relationship(blocked)
    index.set_relationship(authorised, replacing=(Relation.BLOCKED,))
    assert index.relationships(dossier.dossier_id, "10001234567") == [authorised]
    index.set_relationship(blocked, replacing=(Relation.AUTHORISED,))
    assert index.relationships(dossier.dossier_id) == [blocked]
    assert index.remove_relationship(dossier.dossier_id, Relation.BLOCKED, "10001234567")
    assert not index.remove_relationship(dossier.dossier_id, Relation.BLOCKED, "10001234567")


def test_a_dossier_has_at_most_one_treating_physician(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    for subject in ("10001234567", "10009876543"):
        entry = Relationship(dossier.dossier_id, Relation.TREATING, subject, 1)
        index.set_treating_physician(dossier.dossier_id, entry)
    assert [r.subject for r in index.relationships(dossier.dossier_id)] == ["10009876543"]
    index.set_treating_physician(dossier.dossier_id, None)
    assert index.relationships(dossier.dossier_id) == []


def test_a_first_access_is_notified_once_and_the_outbox_keeps_order(index: SqlIndex) -> None:
    dossier = add_dossier(index)

    def notice(kind: NotificationKind, request: str) -> Notification:
        return Notification(dossier.dossier_id, kind, "10001234567", 5, request)

    seen = Relationship(dossier.dossier_id, Relation.SEEN, "10001234567", 5)
    window = Relationship(dossier.dossier_id, Relation.EMERGENCY, "10001234567", 5, 99)
    assert index.notify(notice(NotificationKind.FIRST_ACCESS, "r1"), seen)
    assert not index.notify(notice(NotificationKind.FIRST_ACCESS, "r2"), seen)
    assert index.notify(notice(NotificationKind.EMERGENCY_ACCESS, "r3"), window)
    assert index.notify(
        notice(NotificationKind.EMERGENCY_ACCESS, "r4"), replace(window, created_us=6)
    )
    outbox = index.notifications(dossier.dossier_id, 0, 10)
    assert [n.request_id for n in outbox] == ["r1", "r3", "r4"]
    assert index.notifications(dossier.dossier_id, outbox[0].notification_id, 10) == outbox[1:]
    assert index.relationships(dossier.dossier_id) == [replace(window, created_us=6), seen]


def test_a_first_access_to_an_unknown_dossier_is_an_error_not_a_repeat(index: SqlIndex) -> None:
    """Only the expected conflict (seen already) is absorbed; any other violation raises."""
    unknown = uuid.uuid4()
    seen = Relationship(unknown, Relation.SEEN, "10001234567", 5)
    notice = Notification(unknown, NotificationKind.FIRST_ACCESS, "10001234567", 5, "r1")
    with pytest.raises(sa_exc.IntegrityError):
        index.notify(notice, seen)


def test_the_emergency_setting_is_stored_on_the_dossier(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    index.set_emergency_refused(dossier.dossier_id, True)
    found = index.dossier(dossier.dossier_id)
    assert found is not None
    assert found.emergency_refused
