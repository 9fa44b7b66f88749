"""`SqlIndex` on SQLite and PostgreSQL: dossiers, keys, the pending/committed write order."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert

from vault import migrations
from vault.crypto.keyprovider import WrappedKey
from vault.domain.ids import new_id, new_object_key
from vault.domain.lifecycle import LegalHold, Lifecycle
from vault.domain.model import (
    ClosureReason,
    DocumentCategory,
    DocumentQuery,
    DossierState,
    Notification,
    NotificationKind,
    Relation,
    Relationship,
    Visibility,
)
from vault.domain.policy import EVERYTHING, Scope
from vault.errors import (
    AlreadyExistsError,
    ConflictError,
    FailedPreconditionError,
    IntegrityError,
)
from vault.index.base import (
    Cursor,
    Destruction,
    DossierKeyRecord,
    DossierRecord,
    VersionRecord,
)
from vault.index.schema import DossierAccessRow
from vault.index.sql import SqlIndex
from vault.service import DEFAULT_UPLOAD_LEASE
from vault.sqlstore import exclusive, make_engine


@pytest.fixture
def index(db_url: str) -> SqlIndex:
    index = SqlIndex(make_engine(db_url))
    index.create_schema()
    return index


def add_dossier(index: SqlIndex, patient: bytes = b"p" * 32) -> DossierRecord:
    record = DossierRecord(new_id(), patient, created_us=1)
    index.add_dossier(record, DossierKeyRecord(record.dossier_id, 1, WrappedKey(1, b"wrapped")))
    return record


LEASE_US = DEFAULT_UPLOAD_LEASE // timedelta(microseconds=1)


def reserve(index: SqlIndex, record: VersionRecord, lease_us: int = LEASE_US) -> None:
    """Reserves `record`'s version for an upload that began at its creation time."""
    index.reserve_version(record, record.created_us + lease_us)


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
        document_created_us=created_us,
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
    reserve(index, record)
    assert index.version(dossier.dossier_id, record.document_id, None) is None
    assert index.search(dossier.dossier_id, EVERYTHING, DocumentQuery(), 10) == []
    committed = replace(record, size=5, ciphertext_size=126, sealed_metadata=b"m")
    index.commit_version(committed)
    stored = replace(committed, latest_version=1)
    assert index.version(dossier.dossier_id, record.document_id, None) == stored
    assert index.version(dossier.dossier_id, record.document_id, 1) == stored
    assert index.search(dossier.dossier_id, EVERYTHING, DocumentQuery(), 10) == [stored]


def test_discarded_version_leaves_nothing(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    record = version(dossier)
    reserve(index, record)
    index.discard_version(record)
    with pytest.raises(ConflictError):
        index.commit_version(record)
    reserve(index, record)  # the same ids are free again


def test_document_is_only_found_in_its_own_dossier(index: SqlIndex) -> None:
    ours, theirs = add_dossier(index), add_dossier(index, b"q" * 32)
    record = version(ours)
    reserve(index, record)
    index.commit_version(record)
    assert index.version(theirs.dossier_id, record.document_id, None) is None


def test_listing_is_newest_first_and_resumes_after_a_cursor(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    records = [version(dossier, created_us=t) for t in (30, 10, 20, 20)]
    for record in records:
        reserve(index, record)
        index.commit_version(record)
    listed = index.search(dossier.dossier_id, EVERYTHING, DocumentQuery(), 10)
    keys = [(r.created_us, r.document_id) for r in listed]
    assert keys == sorted(keys, reverse=True)
    after_two = index.search(
        dossier.dossier_id, EVERYTHING, DocumentQuery(), 10, Cursor.after(listed[1])
    )
    assert after_two == listed[2:]


def test_every_page_carries_the_count_of_all_pages_in_its_own_statement(index: SqlIndex) -> None:
    dossier, empty = add_dossier(index), add_dossier(index, b"q" * 32)
    records = [version(dossier, created_us=t) for t in (30, 10, 20, 20, 40)]
    for record in records[:4]:
        reserve(index, record)
        index.commit_version(record)
    reserve(index, records[4])  # pending: neither listed nor counted
    query, every = (
        DocumentQuery(),
        index.search(dossier.dossier_id, EVERYTHING, DocumentQuery(), 10),
    )
    pages, cursor = [], None
    while True:
        page, total = index.search_page(dossier.dossier_id, EVERYTHING, query, 3, cursor)
        pages.append((page, total))
        if not page:
            break
        cursor = Cursor.after(page[-1])
    assert pages == [(every[:3], 4), (every[3:], 4), ([], 4)]  # past the end: still 4
    assert index.search_page(empty.dossier_id, EVERYTHING, query, 3) == ([], 0)


def test_rotation_never_destroys_a_dossier_key_version_still_in_use(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    index.add_dossier_key(DossierKeyRecord(dossier.dossier_id, 2, WrappedKey(1, b"v2")), True)
    record = version(dossier)  # sealed under dossier key version 1, committed late
    reserve(index, record)
    index.commit_version(record)
    assert index.destroy_dossier_keys(dossier.dossier_id, below_version=2) == 0
    assert index.dossier_key(dossier.dossier_id, 1).wrapped == WrappedKey(1, b"wrapped")
    assert index.destroy_dossier_keys(dossier.dossier_id, below_version=None) == 2  # shredding


READER, OTHER_AUTHOR = "10000000001", "10000000002"


def test_listing_and_counts_apply_the_scope_exactly_as_the_policy_does(index: SqlIndex) -> None:
    """Every visibility, three categories and two authors against every scope: hidden
    flags, categories, a release date and the author exemption (none, the reader's, or
    a third party's name, who wrote nothing here)."""
    dossier = add_dossier(index)
    documents = []
    cases = itertools.product(list(DocumentCategory)[:3], range(8), (READER, OTHER_AUTHOR))
    for n, (category, bits, author) in enumerate(cases):
        record = replace(
            version(dossier, 10 + n), category=category, visibility=Visibility(bits), author=author
        )
        reserve(index, record)
        index.commit_version(record)
        documents.append(record)
    scopes = [
        Scope(Visibility(hidden), frozenset(categories), released, author)
        for hidden in range(8)
        for categories in ([], [DocumentCategory.BIOLOGY], list(DocumentCategory)[:2])
        for released in (None, 20, 10**9)  # held-back documents released up to then
        for author in (None, READER, "10000000003")  # the author exemption's reader
    ]
    for scope in scopes:
        admitted = [
            d for d in documents if scope.admits(d.category, d.visibility, d.created_us, d.author)
        ]
        expected = {d.document_id for d in admitted}
        listed = index.search(dossier.dossier_id, scope, DocumentQuery(), 100)
        assert {r.document_id for r in listed} == expected
        counts = index.category_counts(dossier.dossier_id, scope)
        assert counts == Counter(d.category for d in admitted)  # per category, not a sum
        assert index.search_count(dossier.dossier_id, scope, DocumentQuery()) == len(admitted)
        page = index.search_page(dossier.dossier_id, scope, DocumentQuery(), 100)
        assert page == (listed, len(admitted))
        outside = index.documents_outside(dossier.dossier_id, scope)
        assert outside == {d.document_id for d in documents} - expected


def test_a_pending_document_is_not_counted(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    reserve(index, version(dossier))
    assert index.category_counts(dossier.dossier_id, EVERYTHING) == {}
    assert index.search_count(dossier.dossier_id, EVERYTHING, DocumentQuery()) == 0


def test_each_visibility_change_is_a_new_metadata_version(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    record = version(dossier)
    reserve(index, record)
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
    reserve(index, record)
    index.commit_version(record)
    assert index.delete_document(other.dossier_id, record.document_id) == []
    assert index.delete_document(dossier.dossier_id, record.document_id) == [record.blob_key]
    assert index.version(dossier.dossier_id, record.document_id, None) is None
    assert index.referenced_keys([record.blob_key]) == set()


def test_authorising_replaces_a_block_and_blocking_an_authorisation(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    authorised = Relationship(dossier.dossier_id, Relation.AUTHORISED, "10001234567", 1, 99)
    blocked = Relationship(dossier.dossier_id, Relation.BLOCKED, "10001234567", 2)
    index.set_relationship(blocked, "r1")
    index.set_relationship(authorised, "r2", replacing=(Relation.BLOCKED,))
    assert index.relationships(dossier.dossier_id, "10001234567") == [authorised]
    index.set_relationship(blocked, "r3", replacing=(Relation.AUTHORISED,))
    assert index.relationships(dossier.dossier_id) == [blocked]
    assert index.remove_relationship(dossier.dossier_id, Relation.BLOCKED, "10001234567", 3, "r4")
    assert not index.remove_relationship(
        dossier.dossier_id, Relation.BLOCKED, "10001234567", 4, "r5"
    )


def test_a_dossier_has_at_most_one_treating_physician(index: SqlIndex) -> None:
    dossier = add_dossier(index)
    for subject in ("10001234567", "10009876543"):
        entry = Relationship(dossier.dossier_id, Relation.TREATING, subject, 1)
        index.set_treating_physician(dossier.dossier_id, entry, 1, "r1")
    assert [r.subject for r in index.relationships(dossier.dossier_id)] == ["10009876543"]
    index.set_treating_physician(dossier.dossier_id, None, 2, "r2")
    assert index.relationships(dossier.dossier_id) == []


def test_every_access_change_is_kept_though_the_relation_is_gone(index: SqlIndex) -> None:
    """`dossier_access` keeps the current relations only: revoked, replaced and lifted
    ones live on in `access_changes`, with whom, when, until when and which request."""
    dossier = add_dossier(index)
    rpps, other = "10001234567", "10009876543"
    authorised = Relationship(dossier.dossier_id, Relation.AUTHORISED, rpps, 1, 99)
    index.set_relationship(authorised, "r1")
    index.set_relationship(replace(authorised, created_us=2, expires_us=199), "r2")  # renewed
    blocked = Relationship(dossier.dossier_id, Relation.BLOCKED, rpps, 3)
    index.set_relationship(blocked, "r3", replacing=(Relation.AUTHORISED,))
    index.remove_relationship(dossier.dossier_id, Relation.BLOCKED, rpps, 4, "r4")
    index.remove_relationship(dossier.dossier_id, Relation.BLOCKED, rpps, 5, "r5")  # none
    treating = Relationship(dossier.dossier_id, Relation.TREATING, other, 6)
    index.set_treating_physician(dossier.dossier_id, treating, 6, "r6")
    index.set_treating_physician(dossier.dossier_id, None, 7, "r7")
    window = Relationship(dossier.dossier_id, Relation.EMERGENCY, other, 8, 9, None, "samu")
    notice = Notification(dossier.dossier_id, NotificationKind.EMERGENCY_ACCESS, other, 8, "r8")
    index.notify(notice, window)
    seen = Relationship(dossier.dossier_id, Relation.SEEN, other, 9)
    index.notify(replace(notice, kind=NotificationKind.FIRST_ACCESS, request_id="r9"), seen)
    trail = [
        (c.relation, c.subject, c.change, c.changed_us, c.request_id, c.expires_us, c.detail)
        for c in index.access_changes(dossier.dossier_id)
    ]
    assert trail == [
        (Relation.AUTHORISED, rpps, "set", 1, "r1", 99, None),
        (Relation.AUTHORISED, rpps, "set", 2, "r2", 199, None),
        (Relation.AUTHORISED, rpps, "removed", 3, "r3", None, None),
        (Relation.BLOCKED, rpps, "set", 3, "r3", None, None),
        (Relation.BLOCKED, rpps, "removed", 4, "r4", None, None),
        (Relation.TREATING, other, "set", 6, "r6", None, None),
        (Relation.TREATING, other, "removed", 7, "r7", None, None),
        (Relation.EMERGENCY, other, "set", 8, "r8", 9, "samu"),
    ]
    assert [r.relation for r in index.relationships(dossier.dossier_id)] == [
        Relation.EMERGENCY,
        Relation.SEEN,
    ]


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
    index.set_emergency_objections(dossier.dossier_id, True, None, 5, "r1")
    found = index.dossier(dossier.dossier_id)
    assert found is not None
    assert found.emergency_refused
    assert not found.regulation_refused


def test_revision_0003_starts_the_trail_from_the_relations_it_finds(db_url: str) -> None:
    """A vault upgraded to 0003 records its current relations (first accesses aside) as
    set when they were created: revoking one later leaves both ends of the trail."""
    engine = make_engine(db_url)
    with exclusive(engine, "test", altering=True) as conn:
        command.upgrade(migrations.alembic_config(conn, migrations.INDEX), "0002")
    dossier = add_dossier(SqlIndex(engine)).dossier_id  # 0003 leaves these tables as they are
    access = DossierAccessRow
    with engine.begin() as conn:
        for relation, created_us, expires_us in (("authorised", 5, 99), ("seen", 6, None)):
            row = {"relation": relation, "created_us": created_us, "expires_us": expires_us}
            conn.execute(insert(access).values(dossier_id=dossier, subject="10001234567", **row))
    migrations.upgrade(engine, migrations.INDEX)
    index = SqlIndex(engine)
    index.remove_relationship(dossier, Relation.AUTHORISED, "10001234567", 7, "r7")
    trail = [(c.change, c.changed_us, c.request_id) for c in index.access_changes(dossier)]
    assert trail == [("set", 5, "revision-0003"), ("removed", 7, "r7")]
    engine.dispose()


def _closed_due(index: SqlIndex) -> DossierRecord:
    dossier = add_dossier(index, b"z" * 32)
    closed = Lifecycle(DossierState.CLOSED, 1, ClosureReason.DELETION_REQUEST, 2)
    assert index.set_lifecycle(dossier.dossier_id, dossier.lifecycle, closed)
    found = index.dossier(dossier.dossier_id)
    assert found is not None
    return found


def _begin(index: SqlIndex, dossier: DossierRecord) -> Destruction | None:
    destruction = Destruction(dossier.dossier_id, None, str(uuid.uuid4()), 3, "")
    return index.begin_destruction(destruction, 10, lambda versions, keys: f"{len(versions)}")


def test_an_upload_to_a_dossier_no_longer_active_is_refused(index: SqlIndex) -> None:
    dossier = _closed_due(index)
    with pytest.raises(FailedPreconditionError):
        reserve(index, version(dossier))


def test_the_manifest_sees_an_upload_reserved_before_the_closure(index: SqlIndex) -> None:
    dossier = add_dossier(index, b"y" * 32)
    reserve(index, version(dossier))  # an upload in flight
    closed = Lifecycle(DossierState.CLOSED, 1, ClosureReason.DELETION_REQUEST, 2)
    assert index.set_lifecycle(dossier.dossier_id, dossier.lifecycle, closed)
    found = index.dossier(dossier.dossier_id)
    assert found is not None
    begun = _begin(index, found)
    assert begun is not None
    assert begun.manifest == "1"
    assert _begin(index, found) is None  # once


def test_a_destruction_begun_fences_reopening_and_holds(index: SqlIndex) -> None:
    dossier = _closed_due(index)
    assert _begin(index, dossier) is not None
    assert not index.set_lifecycle(dossier.dossier_id, dossier.lifecycle, Lifecycle())
    hold = LegalHold(0, dossier.dossier_id, 5, "ops", "TJ 1")
    assert index.add_hold(hold) == 0


def test_a_legal_hold_keeps_documents_past_their_rolling_window(index: SqlIndex) -> None:
    dossier = add_dossier(index, b"x" * 32)
    old = replace(version(dossier, 5), category=DocumentCategory.REIMBURSEMENT_HISTORY)
    reserve(index, old)
    index.commit_version(old)
    category = DocumentCategory.REIMBURSEMENT_HISTORY
    assert [v.document_id for v in index.expired_documents(category, 100, 10)] == [old.document_id]
    index.add_hold(LegalHold(0, dossier.dossier_id, 6, "ops", "TJ 2"))
    assert index.expired_documents(category, 100, 10) == []
