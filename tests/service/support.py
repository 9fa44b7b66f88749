"""The other fakes of the service's unit tests, beside `MemoryIndex`: a journal in a list,
a clock that moves only when told, an executor that runs each job as it is submitted,
and `Scene`, the use cases built on them around one dossier.

The real adapters keep their own tests (tests/journal, tests/index, tests/blobstore),
and the overlap of a request's journal append with its other work is
tests/test_service_overlap.py's: here the background jobs run inline, so a use case's
outcome does not depend on thread timing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ParamSpec, TypeVar

from tests.conftest import PATIENT_INS
from tests.service.memory_index import MemoryIndex
from vault.blobstore.file import FileBlobStore
from vault.crypto import sealed
from vault.crypto.localkeys import LocalKeyFileProvider
from vault.domain.clock import to_us
from vault.domain.identifiers import parse_ins
from vault.domain.ids import new_id
from vault.domain.model import (
    Actor,
    ActorKind,
    Document,
    DocumentCategory,
    DocumentMetadata,
    Relation,
    Relationship,
    Visibility,
)
from vault.domain.policy import DEFAULT_MATRIX
from vault.index.base import DossierKeyRecord, DossierRecord
from vault.journal.chain import GENESIS_HASH, JournalEntry, JournalEvent, seal_entry
from vault.journal.store import EntryFilter
from vault.pagetokens import PageTokens
from vault.service import DEFAULT_UPLOAD_LEASE
from vault.service.documents import Documents
from vault.service.gate import Call, Gate
from vault.service.uploads import Upload, Uploads

P = ParamSpec("P")
T = TypeVar("T")

PATIENT = Actor(ActorKind.PATIENT, PATIENT_INS)
RPPS = "10001234567"
PHYSICIAN = Actor(ActorKind.PROFESSIONAL, RPPS, profession="physician")
REPORT = DocumentMetadata("Compte rendu", DocumentCategory.REPORTS, "application/pdf")
LEASE_US = DEFAULT_UPLOAD_LEASE // timedelta(microseconds=1)


class MemoryJournal:
    """The journal (`JournalStore` and `JournalLog`) as a chained list of entries; it
    signs no checkpoint."""

    def __init__(self) -> None:
        self.entries_written: list[JournalEntry] = []

    def append(self, event: JournalEvent) -> JournalEntry:
        written = self.entries_written
        head = written[-1].chain_hash if written else GENESIS_HASH
        written.append(seal_entry(len(written) + 1, event, head))
        return written[-1]

    def entries(
        self,
        first_seq: int = 1,
        last_seq: int | None = None,
        *,
        since_us: int | None = None,
        until_us: int | None = None,
    ) -> Iterator[JournalEntry]:
        for entry in self.entries_written[first_seq - 1 : last_seq]:
            time_us = entry.event.time_us
            if (since_us is None or time_us >= since_us) and (
                until_us is None or time_us < until_us
            ):
                yield entry

    def query(self, where: EntryFilter, limit: int) -> list[JournalEntry]:
        return [
            entry
            for entry in self.entries_written
            if entry.seq > where.after_seq
            and where.dossier in (None, entry.event.dossier)
            and where.actor_ref in (None, entry.event.actor_ref)
            and (entry.event.emergency or not where.emergency_only)
            and (entry.event.decision == "deny" or not where.denials_only)
        ][:limit]

    def checkpoints(
        self, first_size: int = 0, last_size: int | None = None
    ) -> list[tuple[int, str]]:
        return []

    def last(self) -> JournalEvent:
        return self.entries_written[-1].event


class FixedClock:
    """A clock at a fixed time, moved by `advance`."""

    def __init__(self, start: datetime) -> None:
        self.time = start

    def now(self) -> datetime:
        return self.time

    def advance(self, by: timedelta) -> None:
        self.time += by


class Inline(Executor):
    """Runs each job when it is submitted; its future is done on return."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # the job's failure is its future's
            future.set_exception(error)
        return future


@dataclass
class Scene:
    """The gate, documents and uploads over the fakes, and one patient's dossier."""

    index: MemoryIndex
    journal: MemoryJournal
    clock: FixedClock
    blobs: Path
    gate: Gate
    documents: Documents
    uploads: Uploads
    record: DossierRecord  # the dossier

    @property
    def dossier(self) -> str:
        """The dossier's id, as a request names it."""
        return str(self.record.dossier_id)

    def upload(
        self,
        content: bytes = b"compte rendu",
        actor: Actor = PATIENT,
        metadata: DocumentMetadata = REPORT,
        visibility: Visibility = Visibility.NORMAL,
    ) -> Document:
        upload = self.uploads.begin(actor, self.dossier, metadata, Call("put"), visibility)
        return commit(upload, content)

    def authorise(self, subject: str = RPPS) -> None:
        """The patient authorises a professional, for a day."""
        now_us = to_us(self.clock.now())
        entry = Relationship(
            self.record.dossier_id, Relation.AUTHORISED, subject, now_us, now_us + 86_400_000_000
        )
        self.index.set_relationship(entry, "authorise")

    def stored_blobs(self) -> list[Path]:
        return [path for path in self.blobs.rglob("*") if path.is_file()]


def commit(upload: Upload, content: bytes) -> Document:
    """Streams `content` in two chunks and commits it, or aborts as the gRPC edge does."""
    try:
        upload.write(content[: len(content) // 2])
        upload.write(content[len(content) // 2 :])
        return upload.commit(len(content), hashlib.sha256(content).digest())
    except BaseException:
        upload.abort()
        raise


def make_scene(tmp_path: Path, key_file: Path) -> Scene:
    index, journal = MemoryIndex(), MemoryJournal()
    clock = FixedClock(datetime(2025, 3, 1, 9, 30, tzinfo=UTC))
    keys = LocalKeyFileProvider(key_file)
    gate = Gate(index=index, keys=keys, journal=journal, clock=clock, matrix=DEFAULT_MATRIX)
    blobs, background = FileBlobStore(tmp_path / "blobs"), Inline()
    documents = Documents(
        gate,
        index=index,
        blobs=blobs,
        background=background,
        tokens=PageTokens(keys),
        journal_log=journal,
    )
    uploads = Uploads(
        gate, index=index, blobs=blobs, background=background, segment_size=64, lease_us=LEASE_US
    )
    now_us = to_us(clock.now())
    dossier = DossierRecord(new_id(), gate.patient_index(parse_ins(PATIENT_INS)), now_us)
    wrapped = keys.wrap(
        os.urandom(sealed.KEY_SIZE), sealed.dossier_key_context(dossier.dossier_id, 1)
    )
    index.add_dossier(dossier, DossierKeyRecord(dossier.dossier_id, 1, wrapped))
    return Scene(index, journal, clock, tmp_path / "blobs", gate, documents, uploads, dossier)
