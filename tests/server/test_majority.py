"""A representative's rights end at the holder's majority, from the holder's date of
birth sealed under the dossier key (issue 15 item 3), through the real server on SQLite
and PostgreSQL. The passing of the years is played by re-sealing an older date under the
dossier key, as the server would have sealed it."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from tests.conftest import RunningVault
from tests.server.test_access import REPORT, ins
from vault.birth_secrets import open_birth_date, seal_birth_date
from vault.blobstore.file import FileBlobStore
from vault.crypto.dossierkeys import unwrap_dossier_key
from vault.crypto.localkeys import LocalKeyFileProvider
from vault.domain.clock import SystemClock, france_date, to_us
from vault.domain.model import ActorKind, CreationMode, NotificationKind
from vault.errors import (
    FailedPreconditionError,
    IntegrityError,
    InvalidArgumentError,
    PermissionDeniedError,
)
from vault.index.births import SealedBirth
from vault.index.sql import SqlIndex
from vault.rotation import rotate_dossier_key
from vault.sqlstore import make_engine

CHILD_INS = ins("2150675123456")
PARENT_INS = ins("1800675123457")


def _today() -> date:
    """Today in France, as the server reads it (from 22:00 or 23:00 UTC, UTC's tomorrow)."""
    return france_date(to_us(SystemClock().now()))


def _years_ago(years: int, days: int = 0) -> date:
    today = _today()
    return today.replace(year=today.year - years, day=min(today.day, 28)) - timedelta(days=days)


class _Birth:
    """The test's view of a dossier's sealed date of birth, through the index itself."""

    def __init__(self, vault: RunningVault, dossier_id: uuid.UUID) -> None:
        self.index = SqlIndex(make_engine(vault.config.index_url))
        self.keys = LocalKeyFileProvider(vault.config.dev_master_key_file)
        self.blobs = FileBlobStore(vault.config.blob_dir)
        self.dossier_id = dossier_id

    def sealed(self) -> SealedBirth:
        birth = self.index.sealed_birth(self.dossier_id)
        assert birth is not None
        return birth

    def read(self) -> date:
        birth = self.sealed()
        key = unwrap_dossier_key(self.index, self.keys, self.dossier_id, birth.key_version)
        return open_birth_date(key, self.dossier_id, birth.key_version, birth.sealed)

    def becomes(self, born: date) -> None:
        """As if the holder had been born on `born`: sealed as the server seals it."""
        old = self.sealed()
        key = unwrap_dossier_key(self.index, self.keys, self.dossier_id, old.key_version)
        box = seal_birth_date(key, self.dossier_id, old.key_version, born)
        assert self.index.reseal_birth(old, SealedBirth(self.dossier_id, old.key_version, box))


@pytest.fixture(name="parent_token")
def a_parent_token(running_vault: RunningVault) -> str:
    return running_vault.token(ActorKind.LEGAL_REPRESENTATIVE, PARENT_INS)


def _open_for_child(vault: RunningVault, parent_token: str, born: date) -> uuid.UUID:
    with vault.client(parent_token) as parent:
        dossier = parent.create_dossier(CHILD_INS, CreationMode.FOR_REPRESENTED, born)
        parent.put_document(dossier.dossier_id, REPORT, b"carnet de sante")
    return dossier.dossier_id


def test_a_representative_loses_access_at_the_holders_majority_and_the_holder_is_told_once(
    running_vault: RunningVault, parent_token: str
) -> None:
    dossier_id = _open_for_child(running_vault, parent_token, _years_ago(10))
    birth = _Birth(running_vault, dossier_id)
    assert birth.read() == _years_ago(10)  # sealed, and only the dossier key opens it
    birth.becomes(_years_ago(18, days=-1))  # 18 tomorrow: still a minor
    with running_vault.client(parent_token) as parent:
        assert parent.count_documents(dossier_id)
    birth.becomes(_years_ago(18))  # 18 today (since 00:00 in France)
    with running_vault.client(parent_token) as parent:
        with pytest.raises(PermissionDeniedError, match="not-representative"):
            parent.count_documents(dossier_id)
        for _ in range(2):  # later requests: refused, no second notice
            with pytest.raises(PermissionDeniedError):
                parent.list_access(dossier_id)
    with running_vault.client(running_vault.token(ActorKind.PATIENT, CHILD_INS)) as holder:
        assert holder.count_documents(dossier_id)
        assert holder.list_access(dossier_id).entries == ()  # the representation ended
        notices = holder.notifications(dossier_id)
    ended = [n for n in notices if n.kind is NotificationKind.REPRESENTATIVE_ENDED]
    assert len(ended) == 1


def test_a_representative_gives_a_minors_date_of_birth_only(
    running_vault: RunningVault, parent_token: str
) -> None:
    with running_vault.client(parent_token) as parent:
        with pytest.raises(FailedPreconditionError, match="of age"):
            parent.create_dossier(CHILD_INS, CreationMode.FOR_REPRESENTED, _years_ago(30))
        with pytest.raises(InvalidArgumentError, match="future"):
            parent.create_dossier(CHILD_INS, CreationMode.FOR_REPRESENTED, _today() + timedelta(2))
        dossier = parent.create_dossier(CHILD_INS, CreationMode.FOR_REPRESENTED)
        assert parent.count_documents(dossier.dossier_id) == {}  # no date: no end known


def test_a_dossier_key_rotation_reseals_the_date_of_birth_and_destroys_the_old_key(
    running_vault: RunningVault, parent_token: str
) -> None:
    born = _years_ago(12)
    dossier_id = _open_for_child(running_vault, parent_token, born)
    birth = _Birth(running_vault, dossier_id)
    report = rotate_dossier_key(birth.index, birth.blobs, birth.keys, dossier_id)
    assert (report.key_version, report.destroyed_key_versions) == (2, 1)  # nothing kept v1
    assert birth.sealed().key_version == 2
    assert birth.read() == born
    with running_vault.client(parent_token) as parent:
        assert parent.count_documents(dossier_id)  # the gate opens it under version 2
    birth.becomes(_years_ago(19))
    parent = running_vault.client(parent_token)
    with parent, pytest.raises(PermissionDeniedError, match="not-representative"):
        parent.count_documents(dossier_id)


def test_a_date_of_birth_moved_to_another_dossier_does_not_open(
    running_vault: RunningVault, parent_token: str
) -> None:
    dossier_id = _open_for_child(running_vault, parent_token, _years_ago(10))
    adult = ins("1690675123458")
    with running_vault.client(running_vault.token(ActorKind.PATIENT, adult)) as holder:
        other = holder.create_dossier(adult, CreationMode.OWN, _years_ago(50))
    mine, theirs = _Birth(running_vault, dossier_id), _Birth(running_vault, other.dossier_id)
    moved = SealedBirth(dossier_id, 1, theirs.sealed().sealed)
    assert mine.index.reseal_birth(mine.sealed(), moved)
    with running_vault.client(parent_token) as parent, pytest.raises(IntegrityError):
        parent.count_documents(dossier_id)  # DATA_LOSS, never a guess at the standing
