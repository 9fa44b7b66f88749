"""An upload's lease on its version number (`vault.service.uploads`, index revision 0006).

What it stops: a replacement that a server crash interrupted blocking the document's
next version until the sweeper's grace period (a day by default), and, the other way
round, a live upload losing its number because it takes longer than one lease.

The service runs over real adapters (the index and journal on SQLite and PostgreSQL, a
local blob directory); only the clock is the test's, so that a lease can run out.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import PATIENT_INS
from tests.server.test_grpc import REPORT
from tests.test_service_overlap import PATIENT
from tests.test_sweeper import LaterClock
from vault.blobstore.file import FileBlobStore
from vault.crypto.localkeys import LocalKeyFileProvider, create_key_file
from vault.domain.clock import to_us
from vault.domain.model import Document, Replacement
from vault.errors import ConflictError
from vault.index.sql import SqlIndex
from vault.journal.group import GroupCommitJournal
from vault.journal.sql import SqlJournal
from vault.service import Call, Upload, Vault
from vault.sqlstore import make_engine

LEASE = timedelta(minutes=2)


@dataclass
class Scene:
    vault: Vault
    index: SqlIndex
    blobs: FileBlobStore
    clock: LaterClock
    dossier: str
    document: Document

    def replace(self) -> Upload:
        """Begins an upload of the document's version 2, and waits until a reservation of
        that number exists (this upload's, or the one it will conflict with)."""
        replaces = Replacement(str(self.document.document_id), 1)
        upload = self.vault.uploads.begin(
            PATIENT, self.dossier, REPORT, Call("replace"), replaces=replaces
        )
        upload.write(b"version 2")
        deadline = time.monotonic() + 10
        while not self._pending():
            assert time.monotonic() < deadline, "the reservation was never recorded"
            time.sleep(0.01)
        return upload

    def _pending(self) -> bool:
        soon = to_us(self.clock.now() + timedelta(days=1))
        return bool(self.index.pending_versions(soon, 10))

    def later(self, delta: timedelta) -> None:
        self.clock.offset += delta

    def current(self) -> bytes:
        _, chunks = self.vault.documents.open(
            PATIENT, self.dossier, str(self.document.document_id), None, Call("read")
        )
        return b"".join(chunks)


def _commit(upload: Upload, content: bytes = b"version 2") -> Document:
    try:
        return upload.commit(len(content), hashlib.sha256(content).digest())
    except BaseException:
        upload.abort()  # as the gRPC edge does
        raise


@pytest.fixture
def scene(db_url: str, tmp_path: Path) -> Iterator[Scene]:
    journal_log = SqlJournal(make_engine(db_url))
    journal_log.create_schema()
    index = SqlIndex(make_engine(db_url))
    index.create_schema()
    create_key_file(tmp_path / "keys.json")
    journal = GroupCommitJournal(journal_log)
    clock = LaterClock(timedelta(0))
    blobs = FileBlobStore(tmp_path / "blobs")
    vault = Vault(
        index=index,
        blobs=blobs,
        keys=LocalKeyFileProvider(tmp_path / "keys.json"),
        journal=journal,
        journal_log=journal_log,
        clock=clock,
        upload_lease=LEASE,
    )
    try:
        dossier = str(vault.dossiers.create(PATIENT, PATIENT_INS, Call("d")).dossier_id)
        upload = vault.uploads.begin(PATIENT, dossier, REPORT, Call("put"))
        upload.write(b"version 1")
        document = _commit(upload, b"version 1")
        yield Scene(vault, index, blobs, clock, dossier, document)
    finally:
        journal.close()


def test_a_crashed_replacement_blocks_the_next_one_only_until_its_lease_lapses(
    scene: Scene,
) -> None:
    crashed = scene.replace()  # its server dies: nothing commits or aborts it
    with pytest.raises(ConflictError):
        _commit(scene.replace())  # the number is held while the lease runs
    scene.later(LEASE + timedelta(seconds=1))
    retried = _commit(scene.replace())
    assert (retried.version, scene.current()) == (2, b"version 2")
    with pytest.raises(ConflictError):
        crashed.write(b"more")  # a client that was only stalled learns it lost the number
    crashed.abort()
    assert scene.current() == b"version 2"


def test_an_upload_that_keeps_sending_keeps_its_number_past_its_first_lease(
    scene: Scene,
) -> None:
    slow = scene.replace()
    scene.later(LEASE * 3 / 4)
    slow.write(b" and more")  # past half its lease: renewed
    scene.later(LEASE / 2)  # the first lease has lapsed, the renewed one runs
    with pytest.raises(ConflictError):
        _commit(scene.replace())
    content = b"version 2 and more"
    assert _commit(slow, content).sha256 == hashlib.sha256(content).digest()
    assert scene.current() == content


def test_an_upload_that_pauses_for_most_of_a_lease_keeps_its_number(scene: Scene) -> None:
    slow = scene.replace()
    scene.later(LEASE * 3 / 10)
    slow.write(b" and more")  # a quarter of the lease has run: renewed
    scene.later(LEASE * 95 / 100)  # a pause of nearly a whole lease
    with pytest.raises(ConflictError):
        _commit(scene.replace())
    assert _commit(slow, b"version 2 and more").version == 2


def test_an_upload_that_lost_its_number_stores_no_blob_at_its_commit(scene: Scene) -> None:
    stalled = scene.replace()
    scene.later(LEASE + timedelta(seconds=1))
    _commit(scene.replace())
    with pytest.raises(ConflictError):
        _commit(stalled)  # its commit finds out before it stores the blob
    versions = scene.index.dossier_versions(uuid.UUID(scene.dossier))  # 1 and the retry's 2
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert set(scene.blobs.stored_keys(tomorrow)) == {record.blob_key for record in versions}
