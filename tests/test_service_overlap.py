"""The journal append overlaps a request's other work, never its release (ADR 0007).

The service runs over real adapters (the index and journal on SQLite and PostgreSQL, a
local blob directory); thin subclasses of them record what the other stores held at each
step, or hold a journal append back until the rest of the request has done something.

What it stops: a blob committed before its pending row, a version made visible before
its journal entry, a read that releases metadata or bytes when its entry could not be
written (or leaves the object it opened open), an upload whose failed entry leaves
anything visible or unswept, and a request that idles while its entry commits.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy import exc as sa_exc

from tests.conftest import PATIENT_INS
from tests.server.test_grpc import REPORT
from tests.test_sweeper import LaterClock
from vault.blobstore.base import BlobReader, BlobWriter
from vault.blobstore.file import FileBlobStore
from vault.crypto.localkeys import LocalKeyFileProvider, create_key_file
from vault.domain.clock import SystemClock, to_us
from vault.domain.model import Actor, ActorKind, Document, DocumentQuery, Dossier
from vault.index.base import VersionRecord
from vault.index.sql import SqlIndex
from vault.journal.chain import JournalEntry, JournalEvent
from vault.journal.group import GroupCommitJournal
from vault.journal.sql import SqlJournal
from vault.journal.store import EntryFilter
from vault.service import DEFAULT_UPLOAD_LEASE, Call, Vault
from vault.sqlstore import make_engine
from vault.sweeper import Sweeper

PATIENT = Actor(ActorKind.PATIENT, PATIENT_INS)
HOLD_SECONDS = 5.0  # how long a held journal append waits before giving up
CONTENT = os.urandom(3 * 1024 * 1024 + 5)


class HeldJournal(GroupCommitJournal):
    """The group-commit journal; once `hold_until(event)` is armed, the next append
    first waits for `event` and records whether it came (False: it timed out)."""

    def __init__(self, store: SqlJournal) -> None:
        super().__init__(store)
        self.log = store
        self.hold: threading.Event | None = None
        self.released: list[bool] = []

    def hold_until(self, event: threading.Event) -> None:
        self.hold = event

    def _held(self) -> None:
        hold, self.hold = self.hold, None
        if hold is not None:
            self.released.append(hold.wait(HOLD_SECONDS))

    def append(self, event: JournalEvent) -> JournalEntry:
        self._held()
        return super().append(event)

    def append_with(
        self, event: JournalEvent, write: Callable[[], None]
    ) -> tuple[JournalEntry, Exception | None]:
        self._held()  # an upload's entry, with its reservation (ADR 0014)
        return super().append_with(event, write)


class RecordingIndex(SqlIndex):
    """The SQL index; records, at each version commit, whether the journal already held
    the decision that allowed it."""

    def __init__(self, url: str, journal: SqlJournal) -> None:
        super().__init__(make_engine(url))
        self._journal = journal
        self.journaled_at_commit: list[bool] = []

    def commit_version(self, record: VersionRecord, quota: int | None = None) -> None:
        entries = self._journal.query(EntryFilter(dossier=str(record.dossier_id)), 1000)
        self.journaled_at_commit.append(
            any(
                e.event.decision == "allow" and str(record.document_id) in e.event.documents
                for e in entries
            )
        )
        super().commit_version(record, quota)


class _Writer:
    def __init__(self, inner: BlobWriter, store: RecordingStore, key: str) -> None:
        self._inner, self._store, self._key = inner, store, key

    def write(self, data: bytes | memoryview) -> None:
        self._inner.write(data)
        self._store.written.set()

    def commit(self) -> None:
        self._store.pending_at_commit.append(self._store.pending(self._key))
        self._inner.commit()

    def abort(self) -> None:
        self._inner.abort()


class _Reader:
    def __init__(self, inner: BlobReader, store: RecordingStore) -> None:
        self._inner, self._store = inner, store

    def read(self, size: int) -> bytes:
        return self._inner.read(size)

    def close(self) -> None:
        self._store.open_readers -= 1
        self._inner.close()


class RecordingStore(FileBlobStore):
    """The local blob store; sets `opened` and `written` at the first read or write,
    counts readers left open, and records at each commit whether its pending row
    existed."""

    def __init__(self, root: Path, index: SqlIndex) -> None:
        super().__init__(root)
        self._index = index
        self.opened = threading.Event()
        self.written = threading.Event()
        self.open_readers = 0
        self.pending_at_commit: list[bool] = []

    def pending(self, key: str) -> bool:
        return key in {r.blob_key for r in self._index.pending_versions(2**62, 1000)}

    def create(self, key: str) -> _Writer:  # type: ignore[override]
        return _Writer(super().create(key), self, key)

    def open(self, key: str, offset: int = 0, length: int | None = None) -> _Reader:  # type: ignore[override]
        reader = _Reader(super().open(key, offset, length), self)
        self.open_readers += 1
        self.opened.set()
        return reader


@dataclass
class Service:
    vault: Vault
    index: RecordingIndex
    store: RecordingStore
    journal: HeldJournal
    dossier: Dossier
    calls: list[int] = field(default_factory=lambda: [0])

    def call(self) -> Call:
        self.calls[0] += 1
        return Call(f"request-{self.calls[0]}")

    def put(self, content: bytes = CONTENT) -> Document:
        upload = self.vault.uploads.begin(
            PATIENT, str(self.dossier.dossier_id), REPORT, self.call()
        )
        try:
            upload.write(content)
            return upload.commit(len(content), hashlib.sha256(content).digest())
        except BaseException:
            upload.abort()  # as the gRPC edge does
            raise

    def get(self, document: Document) -> tuple[Document, bytes]:
        dossier, document_id = str(self.dossier.dossier_id), str(document.document_id)
        opened, chunks = self.vault.documents.open(PATIENT, dossier, document_id, None, self.call())
        return opened, b"".join(chunks)


@pytest.fixture(params=["shared", "apart"])
def journal_url(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> str:
    """The journal in the index's database (the default), or in one of its own
    (VAULT_JOURNAL_DATABASE_URL): on SQLite another file."""
    if request.param == "shared":
        return db_url
    if not db_url.startswith("sqlite"):
        pytest.skip("a journal of its own is tried on SQLite")
    return f"sqlite:///{tmp_path / 'journal.sqlite3'}"


@pytest.fixture
def service(db_url: str, journal_url: str, tmp_path: Path) -> Iterator[Service]:
    journal_log = SqlJournal(make_engine(journal_url))
    journal_log.create_schema()
    index = RecordingIndex(db_url, journal_log)
    index.create_schema()
    create_key_file(tmp_path / "keys.json")
    store = RecordingStore(tmp_path / "blobs", index)
    journal = HeldJournal(journal_log)
    vault = Vault(
        index=index,
        blobs=store,
        keys=LocalKeyFileProvider(tmp_path / "keys.json"),
        journal=journal,
        journal_log=journal_log,
        clock=SystemClock(),
    )
    try:
        dossier = vault.dossiers.create(PATIENT, PATIENT_INS, Call("dossier"))
        yield Service(vault, index, store, journal, dossier)
    finally:
        journal.close()


@contextmanager
def journal_refusing(db_url: str) -> Iterator[None]:
    """The journal's table refuses every new entry (as a full disk or a lost database
    would), inside the real database."""
    sqlite = db_url.startswith("sqlite")
    refuse, allow = (
        (
            "CREATE TRIGGER journal_refuses BEFORE INSERT ON journal_entries "
            "BEGIN SELECT RAISE(ABORT, 'journal refuses'); END",
            "DROP TRIGGER journal_refuses",
        )
        if sqlite
        else (
            "ALTER TABLE journal_entries ADD CONSTRAINT journal_refuses CHECK (false) NOT VALID",
            "ALTER TABLE journal_entries DROP CONSTRAINT journal_refuses",
        )
    )
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text(refuse))
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text(allow))
        engine.dispose()


def test_the_pending_row_precedes_the_blob_and_the_entry_precedes_the_version(
    service: Service,
) -> None:
    document = service.put()
    assert service.store.pending_at_commit == [True]
    assert service.index.journaled_at_commit == [True]
    assert service.get(document)[1] == CONTENT


def test_an_upload_streams_while_its_entry_is_written(service: Service) -> None:
    service.journal.hold_until(service.store.written)  # the entry waits for a first write
    document = service.put()
    assert service.journal.released == [True]  # the write came while the entry waited
    assert service.index.journaled_at_commit == [True]
    assert document.sha256 == hashlib.sha256(CONTENT).digest()


def test_a_read_opens_its_object_while_its_entry_is_written(service: Service) -> None:
    document = service.put()
    service.journal.hold_until(service.store.opened)  # the entry waits for the open
    opened, content = service.get(document)
    assert service.journal.released == [True]
    assert (opened.sha256, content) == (document.sha256, CONTENT)
    assert service.store.open_readers == 0


def test_a_read_whose_entry_fails_releases_nothing_and_closes_its_object(
    service: Service, journal_url: str
) -> None:
    document = service.put()
    with journal_refusing(journal_url), pytest.raises(sa_exc.IntegrityError):
        service.get(document)
    assert service.store.open_readers == 0
    assert service.get(document)[1] == CONTENT  # the journal back, reads are back


def test_an_upload_whose_entry_fails_is_never_visible_and_is_swept(
    service: Service, journal_url: str, tmp_path: Path
) -> None:
    with journal_refusing(journal_url), pytest.raises(sa_exc.IntegrityError):
        service.put()
    page = service.vault.documents.search(
        PATIENT, str(service.dossier.dossier_id), DocumentQuery(), None, "", Call("l")
    )
    assert page.documents == ()
    lapsed = LaterClock(DEFAULT_UPLOAD_LEASE + timedelta(seconds=1))
    sweeper = Sweeper(service.index, service.store, lapsed)
    sweeper.sweep(
        timedelta(0)
    )  # whatever was left once its lease lapsed: a pending row, maybe its blob
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert service.index.pending_versions(to_us(tomorrow), 10) == []
    assert list(service.store.stored_keys(tomorrow)) == []
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


def _commits(engine: Engine) -> list[int]:
    count = [0]

    @event.listens_for(engine, "commit")
    def _commit(_conn: object) -> None:
        count[0] += 1

    return count


def test_an_upload_reservation_commits_with_its_entry_when_they_share_a_database(
    service: Service, db_url: str, journal_url: str
) -> None:
    index_commits = _commits(service.index.engine)
    journal_commits = _commits(service.journal.log.engine)
    service.put()
    shared = journal_url == db_url
    # shared: the reservation rides in the entry's transaction, the version in the next
    # group commit, the index engine commits nothing itself; apart: the reservation and
    # the version, the journal its entry
    assert (index_commits[0], journal_commits[0]) == ((0, 2) if shared else (2, 1))
