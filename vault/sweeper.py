"""The sweeper: removes what interrupted uploads left behind, never a committed document.

Write order (docs/architecture.md): a pending version row, then the blob, then the commit
that makes the document visible. A crash or a hang-up at any point leaves at worst a
pending row whose lease lapsed (a live upload renews it), a blob that only a pending row
references, a write in progress (temporary file, multipart upload), or, if the sweeper
itself was interrupted, a blob no row references. `Sweeper.sweep(grace)` removes each of
these once it is older than `grace` (a pending row: once its lease lapsed longer ago); a
blob that any version row references, pending or committed, is never deleted by the
orphan pass, and the pending pass deletes a blob only after its row was removed while
still pending, so a committed row's blob never at all. The grace period must exceed the
longest upload (a write in progress is swept by its age) and re-encryption in progress
(a blob committed but not yet indexed is indistinguishable from an orphan).
`dossier-vault gc` runs it once; the server runs it every `VAULT_GC_INTERVAL_SECONDS`.

A blob the store refuses to delete (`ObjectProtectedError`: S3 Object Lock retains or
holds it, ADR 0024; e.g. an upload that committed its blob while the dossier closed) is
counted (`blobs_protected`), logged as one line without keys, and left: the sweep goes on
with the others, and a later sweep deletes it once the store lets it go.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from vault.blobstore.base import BlobStore, ObjectProtectedError
from vault.domain.clock import Clock, to_us
from vault.index.base import SweepIndex

_log = logging.getLogger(__name__)
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class SweepReport:
    pending_discarded: int
    incomplete_writes_removed: int
    orphan_blobs_deleted: int
    dry_run: bool
    blobs_protected: int = 0  # deletes the store refused (Object Lock), left for later


class Sweeper:
    def __init__(self, index: SweepIndex, blobs: BlobStore, clock: Clock) -> None:
        self._index = index
        self._blobs = blobs
        self._clock = clock
        self._refused: set[str] = set()  # this sweep's protected blobs

    def sweep(self, grace: timedelta, dry_run: bool = False) -> SweepReport:
        cutoff = self._clock.now() - grace
        self._refused = set()
        pending = self._discard_pending(to_us(cutoff), dry_run)
        incomplete = self._blobs.sweep_incomplete(cutoff, dry_run)
        orphans = self._delete_orphans(cutoff, dry_run)
        protected = len(self._refused)
        report = SweepReport(pending, incomplete, orphans, dry_run, protected)
        _log.info(
            "sweep dry_run=%s pending_discarded=%d incomplete_writes=%d orphan_blobs=%d"
            " blobs_protected=%d",
            dry_run,
            pending,
            incomplete,
            orphans,
            protected,
        )
        return report

    def _delete(self, key: str) -> bool:
        """Deletes a blob; False, counted once and logged once per sweep, if the store
        refuses because Object Lock protects it (the line names no key)."""
        if key in self._refused:
            return False
        try:
            self._blobs.delete(key)
        except ObjectProtectedError:
            if not self._refused:
                _log.warning("sweep: the store refused to delete a protected blob; left")
            self._refused.add(key)
            return False
        return True

    def _discard_pending(self, cutoff_us: int, dry_run: bool) -> int:
        """Pending versions whose lease lapsed before the cutoff: the row first, and the
        blob only if the row was still pending (an upload that committed meanwhile keeps
        its blob; a late commit of a discarded row fails, leaving an orphan for the next
        sweep)."""
        discarded = 0
        while records := self._index.pending_versions(cutoff_us, _BATCH):
            for record in records:
                if dry_run:
                    discarded += 1
                elif self._index.discard_version(record):
                    self._delete(record.blob_key)  # if refused: an orphan, for later
                    discarded += 1
            if dry_run:
                break  # nothing changed: the same page would come back
        return discarded

    def _delete_orphans(self, cutoff: datetime, dry_run: bool) -> int:
        """Blobs older than the cutoff that no version row references (a protected one
        is counted in `blobs_protected`, not here)."""
        deleted = 0
        keys = self._blobs.stored_keys(cutoff)
        while batch := list(itertools.islice(keys, _BATCH)):
            referenced = self._index.referenced_keys(batch)
            for key in batch:
                if key not in referenced and (dry_run or self._delete(key)):
                    deleted += 1
        return deleted
