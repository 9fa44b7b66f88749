"""The sealed date of birth in the SQL index (SQLite and PostgreSQL): written with its
dossier, re-sealed only over the box that was read, keeping its key version alive until
re-sealed, and gone with the dossier."""

from __future__ import annotations

import pytest

from tests.index.test_sql import add_dossier
from vault.crypto.keyprovider import WrappedKey
from vault.domain.ids import new_id
from vault.index.base import DossierKeyRecord, DossierRecord
from vault.index.births import SealedBirth
from vault.index.sql import SqlIndex
from vault.sqlstore import make_engine


@pytest.fixture
def index(db_url: str) -> SqlIndex:
    index = SqlIndex(make_engine(db_url))
    index.create_schema()
    return index


def _with_birth(index: SqlIndex) -> SealedBirth:
    record = DossierRecord(new_id(), b"m" * 32, created_us=1)
    key = DossierKeyRecord(record.dossier_id, 1, WrappedKey(1, b"wrapped"))
    birth = SealedBirth(record.dossier_id, 1, b"box-v1")
    index.add_dossier(record, key, birth=birth)
    return birth


def test_a_date_of_birth_is_stored_with_its_dossier_and_only_there(index: SqlIndex) -> None:
    birth = _with_birth(index)
    other = add_dossier(index)
    assert index.sealed_birth(birth.dossier_id) == birth
    assert index.sealed_birth(other.dossier_id) is None


def test_a_reseal_replaces_only_the_box_that_was_read(index: SqlIndex) -> None:
    birth = _with_birth(index)
    new = SealedBirth(birth.dossier_id, 2, b"box-v2")
    assert index.reseal_birth(birth, new)
    assert not index.reseal_birth(birth, SealedBirth(birth.dossier_id, 3, b"late"))  # stale
    assert index.sealed_birth(birth.dossier_id) == new


def test_a_date_of_birth_is_set_in_place_of_the_recorded_one_or_first(
    index: SqlIndex,
) -> None:
    birth = _with_birth(index)
    corrected = SealedBirth(birth.dossier_id, 1, b"box-corrected")
    index.set_birth(corrected)
    assert index.sealed_birth(birth.dossier_id) == corrected
    other = add_dossier(index)  # opened without a date: the first one is set
    first = SealedBirth(other.dossier_id, 1, b"box-first")
    index.set_birth(first)
    assert index.sealed_birth(other.dossier_id) == first


def test_a_rotation_keeps_the_key_version_a_date_is_still_sealed_under(
    index: SqlIndex,
) -> None:
    birth = _with_birth(index)
    dossier_id = birth.dossier_id
    index.add_dossier_key(DossierKeyRecord(dossier_id, 2, WrappedKey(1, b"v2")), True)
    assert index.destroy_dossier_keys(dossier_id, below_version=2) == 0  # not re-sealed yet
    index.reseal_birth(birth, SealedBirth(dossier_id, 2, b"box-v2"))
    assert index.destroy_dossier_keys(dossier_id, below_version=2) == 1


def test_a_destroyed_dossier_leaves_no_date_of_birth(index: SqlIndex) -> None:
    birth = _with_birth(index)
    index.complete_destruction(birth.dossier_id, 2, "certificate", b"t" * 32)
    assert index.sealed_birth(birth.dossier_id) is None
