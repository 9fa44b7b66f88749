"""Re-applying the store's own protection from the index (ADR 0024), as a step of the
retention run (`dossier-vault-retention run`, or `protect` alone).

The dossier use cases protect a closed dossier's objects and mirror legal holds on S3
Object Lock only after the index change is applied, so an S3 failure there leaves a
closed dossier unprotected or a held one unheld; and a document written into a held,
active dossier after the hold was placed gets no hold of its own. This pass repairs
both from the index: every closed dossier whose deadline is ahead (not a deletion
request, which is destroyed early) gets its objects retained until that deadline, and
every dossier with a legal hold in force gets the store's hold on every object. The
calls are idempotent (the same retain-until date, the same hold status), so the pass
runs in full each time.

A dossier the store refuses to protect (FailedPreconditionError: e.g. a retention it
would have to shorten) is counted and logged without identifiers, and the pass goes on;
an unreachable store (UnavailableError) stops it, for the next run.

What it does not: release (a reopened dossier still retained, a hold lifted in the index
but not in the store: the retention lapses at its date, the hold stays until an operator
lifts it), or decide what is protected (`RetentionIndex.protected_dossiers` does).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from vault.blobstore.base import NO_LOCK, Retainer
from vault.domain.clock import Clock, from_us, to_us
from vault.domain.model import ClosureReason, DossierState
from vault.errors import FailedPreconditionError
from vault.index.base import DossierRecord, RetentionIndex

_log = logging.getLogger(__name__)
BATCH = 100


@dataclass(frozen=True, slots=True)
class ProtectReport:
    """Dossiers whose objects were retained until their deadline, held, or refused."""

    retained: int = 0
    held: int = 0
    refused: int = 0


class Protector:
    def __init__(self, index: RetentionIndex, retainer: Retainer, clock: Clock) -> None:
        self._index = index
        self._retainer = retainer
        self._clock = clock

    def run(self) -> ProtectReport:
        """Every dossier the index says the store must protect, protected again."""
        if self._retainer.mode() == NO_LOCK:
            return ProtectReport()
        now_us = to_us(self._clock.now())
        retained = held = refused = 0
        after: uuid.UUID | None = None
        while batch := self._index.protected_dossiers(now_us, after, BATCH):
            for dossier in batch:
                try:
                    did_retain, did_hold = self._protect(dossier, now_us)
                except FailedPreconditionError:
                    refused += 1
                    continue
                retained += did_retain
                held += did_hold
            after = batch[-1].dossier_id
        if refused:
            _log.warning("protect: the store refused to protect %d dossiers", refused)
        return ProtectReport(retained, held, refused)

    def _protect(self, dossier: DossierRecord, now_us: int) -> tuple[bool, bool]:
        state = dossier.lifecycle
        keys = [v.blob_key for v in self._index.dossier_versions(dossier.dossier_id)]
        deadline = state.destroy_after_us
        retain = (
            state.state is DossierState.CLOSED
            and deadline is not None
            and deadline > now_us
            and state.closure_reason is not ClosureReason.DELETION_REQUEST
        )
        if retain and deadline is not None:
            self._retainer.protect(keys, from_us(deadline))
        if state.holds:
            self._retainer.hold(keys, on=True)
        return retain, state.holds > 0
