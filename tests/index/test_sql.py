"""`SqlIndex` on SQLite and PostgreSQL: dossiers, keys, the pending/committed write order."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from vault.crypto.keyprovider import WrappedKey
from vault.domain.ids import new_id, new_object_key
from vault.domain.model import DocumentCategory
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
    assert index.latest_versions(dossier.dossier_id, 10, None) == []
    committed = replace(record, size=5, ciphertext_size=126, sealed_metadata=b"m")
    index.commit_version(committed)
    assert index.version(dossier.dossier_id, record.document_id, None) == committed
    assert index.version(dossier.dossier_id, record.document_id, 1) == committed
    assert index.latest_versions(dossier.dossier_id, 10, None) == [committed]


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
    listed = index.latest_versions(dossier.dossier_id, 10, None)
    keys = [(r.created_us, r.document_id) for r in listed]
    assert keys == sorted(keys, reverse=True)
    after_two = index.latest_versions(
        dossier.dossier_id, 10, Cursor(listed[1].created_us, listed[1].document_id)
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
