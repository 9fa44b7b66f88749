"""The scrub: reads every committed blob back and says which document versions are damaged.

Each committed version (`ScrubIndex.committed_versions_after`, a page at a time in the
order of (document id, version)) is opened in the blob store and decrypted through the
same reader GetDocument uses (`decrypt_views`): the header, every segment's tag and the
final segment's mark are verified, and the plaintext is dropped as it comes (one segment
in memory at a time). A version whose object is missing (deleted, or listed but read as
404), shorter, longer or edited, or whose wrapped document key no longer opens, is a
`Damage`: its opaque ids and version number, and which of those it was, nothing else (no
title, no metadata is opened). A version deleted, destroyed or re-encrypted while the
scrub ran (its row gone, or under another blob key, when read again) is not damage.
`ScrubCursor` is the position after the last version checked, from which a later run
resumes. `RateLimiter` spaces the reads out: it computes how long to sleep so that bytes
and objects read stay under their per-second ceilings.
`dossier-vault scrub` (vault/cli/scrub.py) runs it, saves the cursor and reports.

What it does not: repair anything, print (the command does), or decide how often to run.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from vault import version_secrets
from vault.blobstore.base import BlobStore
from vault.crypto.dossierkeys import WrappedDossierKeys, unwrap_dossier_key
from vault.crypto.keyprovider import KeyProvider
from vault.crypto.objectformat import ObjectRef, decrypt_views
from vault.errors import IntegrityError, InvalidArgumentError
from vault.index.base import ScrubIndex, VersionRecord

PAGE = 500  # versions per index query: memory stays flat however large the index


class ScrubSource(ScrubIndex, WrappedDossierKeys, Protocol):
    """What the scrub reads from the index: committed versions, the dossier keys, and
    one version again (`DocumentIndex.version`) before calling it damaged."""

    def version(
        self, dossier_id: uuid.UUID, document_id: uuid.UUID, version: int | None
    ) -> VersionRecord | None: ...


class DamageKind(enum.StrEnum):
    MISSING = "missing"  # no object under the recorded key (deleted, lost, 404)
    CORRUPT = "corrupt"  # the object reads, but a tag or its length does not verify
    KEY = "key"  # the wrapped document key in the index does not open


@dataclass(frozen=True, slots=True)
class ScrubCursor:
    """The position after a version: a run resumed from it checks what follows."""

    document_id: uuid.UUID
    version: int

    def __str__(self) -> str:
        return f"{self.document_id}:{self.version}"

    @classmethod
    def parse(cls, text: str) -> ScrubCursor:
        document, _, version = text.strip().partition(":")
        try:
            return cls(uuid.UUID(document), int(version))
        except ValueError:
            raise InvalidArgumentError("not a scrub cursor (DOCUMENT-UUID:VERSION)") from None


@dataclass(frozen=True, slots=True)
class Damage:
    """A damaged version: opaque ids only."""

    dossier_id: uuid.UUID
    document_id: uuid.UUID
    version: int
    kind: DamageKind


@dataclass(slots=True)
class ScrubProgress:
    """Counts so far (this run's), and where a resumed run would start."""

    checked: int = 0
    bytes_read: int = 0
    damaged: list[Damage] = field(default_factory=list)
    cursor: ScrubCursor | None = None


class RateLimiter:
    """Sleeps so that, since the first call, bytes and objects stay under their ceilings
    per second (None: no ceiling). `clock` is a monotonic clock in seconds; `sleep` the
    way to wait (both injected in tests). Returns each sleep it computed."""

    def __init__(
        self,
        bytes_per_second: float | None,
        objects_per_second: float | None,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self._bytes_rate = bytes_per_second
        self._objects_rate = objects_per_second
        self._clock = clock
        self._sleep = sleep
        self._start: float | None = None
        self._bytes = 0
        self._objects = 0

    def start(self) -> None:
        if self._start is None:
            self._start = self._clock()

    def account(self, bytes_read: int, objects: int) -> float:
        """Counts what was just read; sleeps until it fits under the ceilings."""
        self.start()
        assert self._start is not None
        self._bytes += bytes_read
        self._objects += objects
        due = 0.0
        if self._bytes_rate:
            due = max(due, self._bytes / self._bytes_rate)
        if self._objects_rate:
            due = max(due, self._objects / self._objects_rate)
        delay = due - (self._clock() - self._start)
        if delay <= 0:
            return 0.0
        self._sleep(delay)
        return delay


class Scrubber:
    def __init__(
        self, index: ScrubSource, blobs: BlobStore, keys: KeyProvider, limiter: RateLimiter
    ) -> None:
        self._index = index
        self._blobs = blobs
        self._keys = keys
        self._limiter = limiter
        self._dossier_keys: dict[tuple[uuid.UUID, int], bytes] = {}

    def run(
        self,
        after: ScrubCursor | None = None,
        on_progress: Callable[[ScrubProgress], None] = lambda _: None,
    ) -> ScrubProgress:
        """Checks every committed version after `after` (all when None); `on_progress`
        is called after each version with the counts so far."""
        progress = ScrubProgress(cursor=after)
        self._limiter.start()
        position = None if after is None else (after.document_id, after.version)
        while records := self._index.committed_versions_after(position, PAGE):
            self._dossier_keys.clear()  # a page's keys at most: flat however many dossiers
            for record in records:
                size, damage = self._check(record)
                if damage is not None and self._changed(record):
                    damage = None  # deleted, destroyed or re-encrypted since the page was read
                progress.checked += 1
                progress.bytes_read += size
                if damage is not None:
                    progress.damaged.append(damage)
                progress.cursor = ScrubCursor(record.document_id, record.version)
                on_progress(progress)
                self._limiter.account(size, 1)
            position = (records[-1].document_id, records[-1].version)
        return progress

    def _check(self, record: VersionRecord) -> tuple[int, Damage | None]:
        """Bytes read and the damage found (None: sound)."""
        try:
            document_key = version_secrets.unwrap_document_key(self._dossier_key(record), record)
        except IntegrityError:
            return 0, _damage(record, DamageKind.KEY)
        ref = ObjectRef(
            record.dossier_id, record.document_id, record.version, record.dossier_key_version
        )
        try:
            reader = self._blobs.open(record.blob_key)
        except IntegrityError:
            return 0, _damage(record, DamageKind.MISSING)
        read = 0
        try:
            for view in decrypt_views(document_key, ref, reader, record.ciphertext_size):
                read += len(view)
        except IntegrityError:
            return read, _damage(record, DamageKind.CORRUPT)
        finally:
            reader.close()
        return read, None

    def _changed(self, record: VersionRecord) -> bool:
        """Whether the version is gone from the index, or now under another blob."""
        now = self._index.version(record.dossier_id, record.document_id, record.version)
        return now is None or now.blob_key != record.blob_key

    def _dossier_key(self, record: VersionRecord) -> bytes:
        place = (record.dossier_id, record.dossier_key_version)
        if place not in self._dossier_keys:
            self._dossier_keys[place] = unwrap_dossier_key(
                self._index, self._keys, record.dossier_id, record.dossier_key_version
            )
        return self._dossier_keys[place]


def _damage(record: VersionRecord, kind: DamageKind) -> Damage:
    return Damage(record.dossier_id, record.document_id, record.version, kind)
