"""Destroying what the law no longer lets the vault keep, for good and resumably.

A dossier is destroyed in steps that each leave a state the next run finishes:

1. **manifest**: every version row (pending ones included), its object key, size and
   fingerprint, and the dossier key versions are recorded in `destructions`, in the same
   transaction that checks the dossier is still due (closed, deadline passed, no hold);
2. **decision**: the journal gets a `dossier.destroy` entry (once per destruction: a
   resumed run finds it by the job id);
3. **objects**: every object of the manifest is deleted, every version of it in a
   versioned bucket (deleting an object already gone is a no-op), then the store is
   asked for each and must answer it is gone (the certificate's `store-confirmed`).
   With S3 Object Lock the store refuses a deletion before the deadline; a deletion
   request's early destruction bypasses governance through the `Retainer` (ADR 0024);
4. **keys**: every dossier key version is deleted (crypto-shredding: whatever copy of the
   objects survives somewhere can no longer be decrypted by anything the vault keeps);
5. **completion**: the journal gets a `dossier.destroyed` entry; for a deletion request,
   the holder's receipt and its `deleted` notice are recorded (vault/index/receipts.py:
   once, from the dossier row, kept `deletion_notice_days`);
6. **tombstone**: in one index transaction, every document, version, relation and
   notification row goes (but a receipt's `deleted` notice), the dossier is reduced to
   a tombstone (its patient index replaced by random bytes), and the signed
   certificate is recorded.

SIGKILL at any point and run again: the destruction is found unfinished (no certificate
yet), step 1 is not repeated, 2 and 5 are found in the journal (5's receipt in the
index), 3 and 4 delete what is left, 6 happens once. Nothing is destroyed twice (the
manifest is fixed at step 1), nothing is left behind.

Rolling windows (the reimbursement history keeps 24 months) destroy documents of active
dossiers: journaled first (`document.expire`, one entry per dossier and batch), then the
rows, then the objects; an object a crash leaves behind is unreferenced and the sweeper
(`dossier-vault gc`) removes it.

Documents held back from the patient (pending an announcement consultation) are
released by their delay at read time, by the policy (vault/domain/policy.py): no run is
needed for the patient to see them. A run records what the delay did: each such document
is journaled (`document.release`, `release-delay`), its flag cleared (a new metadata
version) and the holder told (`released`); a document whose notice is due (two weeks
after its deposit) gets a `release_notice` in the outbox, once. A document also hidden
from representatives gets no notice: representatives read the same outbox.

A run also purges the receipts kept past their time, with their notices.

Last, a run re-applies the store's own protection from the index where the store has
S3 Object Lock (retention/protector.py, ADR 0024): what a failed call at closure or at
a hold left unprotected, and documents written into a held dossier after its hold.

Operates on the vault's adapters directly (index, blob store, journal, journal signer),
on the server host, as `dossier-vault keys` and `gc` do.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from retention.protector import Protector, ProtectReport
from vault.blobstore.base import OBJECT_LOCK, BlobStore, DeleteResult, NoRetainer, Retainer
from vault.domain.clock import Clock, to_us
from vault.domain.lifecycle import (
    RetentionRules,
    release_notice_up_to_us,
    released_up_to_us,
    rolling_cutoffs,
)
from vault.domain.model import ClosureReason, Notification, NotificationKind, Visibility
from vault.domain.policy import Action, Reason
from vault.errors import IntegrityError
from vault.index.base import (
    Destruction,
    DocumentIndex,
    DossierRecord,
    KeyIndex,
    RetentionIndex,
    VersionRecord,
)
from vault.index.receipts import ReceiptIndex
from vault.journal.certificate import Certificate, DestroyedObject, sign
from vault.journal.chain import JournalEntry, JournalEvent
from vault.journal.checkpoint import Signer
from vault.journal.store import EntryFilter, JournalLog, JournalStore

ACTOR_KIND = "operator"
ACTOR_REF = "retention-job"
BATCH = 100
DELETE_WORKERS = 8  # object deletes in flight at once (the S3 store's pool has 16)


class HeldBackIndex(Protocol):
    """Documents held back from the patient, and notices sent once
    (vault/index/sql/deadlines.py)."""

    def held_back_documents(
        self, deposited_up_to_us: int, after: tuple[int, uuid.UUID] | None, limit: int
    ) -> list[VersionRecord]: ...

    def notify_once(self, notice: Notification) -> bool: ...


class DestroyerIndex(
    RetentionIndex, HeldBackIndex, ReceiptIndex, KeyIndex, DocumentIndex, Protocol
):
    """What the job needs of the index: the retention port, the held-back documents, the
    deletion receipts, and three methods of others: crypto-shredding a dossier's keys
    (`KeyIndex.destroy_dossier_keys`), deleting an expired document and releasing a
    held-back one (`DocumentIndex.delete_document`, `set_visibility`)."""


@dataclass(frozen=True, slots=True)
class Journal:
    """Where the job writes and looks up its entries."""

    store: JournalStore
    log: JournalLog


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The journal's checkpoint key: certificates are signed notes by the same name."""

    name: str
    signer: Signer


@dataclass
class RunReport:
    dossiers: int = 0
    objects: int = 0
    object_versions: int = 0
    bytes: int = 0
    expired_documents: int = 0
    released_documents: int = 0  # held-back documents whose delay ran
    release_notices: int = 0
    deletion_notices: int = 0  # holders told their deletion request was carried out
    protection: ProtectReport = field(default_factory=ProtectReport)  # ADR 0024
    certificates: list[str] = field(default_factory=list)


def _reason(destruction: Destruction) -> str:
    return "deadline" if destruction.reason is None else destruction.reason.value


def _journal_reason(destruction: Destruction) -> Reason:
    if destruction.reason is ClosureReason.DELETION_REQUEST:
        return Reason.DELETION_REQUESTED
    return Reason.CONSERVATION_DEADLINE


def fingerprint(record: VersionRecord) -> bytes:
    """What identifies a version's row without revealing anything (docs/format.md)."""
    return hashlib.sha256(record.wrapped_key + record.sealed_metadata).digest()


def manifest(record: DossierRecord, versions: list[VersionRecord], keys: list[int]) -> str:
    """Canonical JSON of what a destruction will remove, fixed before anything is."""
    body = {
        "v": 1,
        "dossier": str(record.dossier_id),
        "key_versions": keys,
        "objects": [
            {
                "document": str(v.document_id),
                "version": v.version,
                "object": v.blob_key,
                "fingerprint": fingerprint(v).hex(),
                "bytes": v.ciphertext_size,
            }
            for v in versions
        ],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


class Destroyer:
    def __init__(
        self,
        index: DestroyerIndex,
        blobs: BlobStore,
        journal: Journal,
        key: SigningKey,
        clock: Clock,
        rules: RetentionRules,
        retainer: Retainer | None = None,
    ) -> None:
        self._index = index
        self._blobs = blobs
        self._retainer: Retainer = retainer or NoRetainer()
        self._journal = journal
        self._key = key
        self._clock = clock
        self._rules = rules
        self._deleting = ThreadPoolExecutor(DELETE_WORKERS, thread_name_prefix="retention-delete")

    def close(self) -> None:
        self._deleting.shutdown()

    def _now_us(self) -> int:
        return to_us(self._clock.now())

    # -- whole dossiers ------------------------------------------------------------------

    def run(
        self, limit: int | None = None, progress: Callable[[int], None] | None = None
    ) -> RunReport:
        """Finishes interrupted destructions, destroys every dossier due now (at most
        `limit`), applies the rolling windows, then re-applies the store's protection."""
        report = RunReport()
        for dossier in self._due(limit):
            self._destroy(dossier, report)
            if progress is not None:
                progress(report.dossiers)
        report.expired_documents = self.expire_documents()
        report.released_documents, report.release_notices = self.release_held_back()
        self._index.purge_deletion_receipts(self._now_us())
        report.protection = self.protect()
        return report

    def protect(self) -> ProtectReport:
        """Re-applies the store's protection from the index (retention/protector.py)."""
        return Protector(self._index, self._retainer, self._clock).run()

    def _due(self, limit: int | None) -> Iterator[Destruction | DossierRecord]:
        unfinished = self._index.unfinished_destructions()
        yield from unfinished[:limit]
        left = None if limit is None else limit - len(unfinished)
        while left is None or left > 0:
            batch = self._index.due_dossiers(self._now_us(), min(BATCH, left or BATCH))
            if not batch:
                return
            yield from batch
            left = None if left is None else left - len(batch)

    def _destroy(self, target: Destruction | DossierRecord, report: RunReport) -> None:
        resumed = isinstance(target, Destruction)
        destruction = target if isinstance(target, Destruction) else self._begin(target)
        if destruction is None:  # reopened, held or taken by another run meanwhile
            return
        decision = self._entry(destruction, Action.DOSSIER_DESTROY, resumed)
        deleted = self._delete_objects(destruction)
        self._index.destroy_dossier_keys(destruction.dossier_id, None)  # crypto-shredding
        certificate = self._certificate(destruction, decision, deleted)
        done = self._entry(destruction, Action.DOSSIER_DESTROYED, resumed)
        if destruction.reason is ClosureReason.DELETION_REQUEST:
            report.deletion_notices += self._tell_the_holder(destruction, done)
        self._index.complete_destruction(
            destruction.dossier_id,
            certificate.completed_us,
            self._sign(certificate),
            os.urandom(32),
        )
        report.dossiers += 1
        report.objects += len(certificate.objects)
        report.object_versions += sum(o.versions_deleted for o in certificate.objects)
        report.bytes += sum(o.size for o in certificate.objects)
        report.certificates.append(str(destruction.dossier_id))

    def _tell_the_holder(self, destruction: Destruction, done: JournalEntry) -> bool:
        """The holder's receipt and `deleted` notice, before the tombstone takes their
        patient index: timed and named as the `dossier.destroyed` entry (its request id,
        the job's), kept `deletion_notice_days`. Once: a resumed run finds it."""
        event = done.event
        notice = Notification(
            destruction.dossier_id,
            NotificationKind.DOSSIER_DELETED,
            "",
            event.time_us,
            event.request_id,
        )
        kept_until = event.time_us + self._rules.deletion_notice_days * 24 * 3600 * 1_000_000
        return self._index.record_deletion(notice, kept_until)

    def _begin(self, dossier: DossierRecord) -> Destruction | None:
        reason = dossier.lifecycle.closure_reason
        destruction = Destruction(
            dossier.dossier_id,
            reason if reason is ClosureReason.DELETION_REQUEST else None,
            str(uuid.uuid4()),
            self._now_us(),
            "",
        )

        def fixed(versions: list[VersionRecord], keys: list[int]) -> str:
            return manifest(dossier, versions, keys)

        return self._index.begin_destruction(destruction, destruction.started_us, fixed)

    def _entry(self, destruction: Destruction, action: Action, resumed: bool) -> JournalEntry:
        """The job's journal entry for `action`, written once: a resumed destruction
        looks for the one an interrupted run may have written."""
        found = self._find_entry(destruction, action) if resumed else None
        if found is not None:
            return found
        objects = json.loads(destruction.manifest)["objects"]
        documents = tuple(sorted({o["document"] for o in objects}))
        reason = _journal_reason(destruction)
        event = self._event(destruction.dossier_id, action, documents, reason, destruction.job_id)
        return self._journal.store.append(event)

    def _event(
        self,
        dossier_id: uuid.UUID,
        action: Action,
        documents: tuple[str, ...],
        reason: Reason,
        job_id: str,
    ) -> JournalEvent:
        """The job's journal entries: an operator, allowed by the retention rules."""
        return JournalEvent(
            time_us=self._now_us(),
            actor_kind=ACTOR_KIND,
            actor_ref=ACTOR_REF,
            actor_profession=None,
            action=action.value,
            dossier=str(dossier_id),
            documents=documents,
            decision="allow",
            reason=reason.value,
            emergency=False,
            request_id=job_id,
        )

    def _find_entry(self, destruction: Destruction, action: Action) -> JournalEntry | None:
        where = EntryFilter(dossier=str(destruction.dossier_id))
        while page := self._journal.log.query(where, 1000):
            for entry in page:
                event = entry.event
                if event.request_id == destruction.job_id and event.action == action.value:
                    return entry
            where = EntryFilter(dossier=where.dossier, after_seq=page[-1].seq)
        return None

    def _delete_objects(self, destruction: Destruction) -> dict[str, int]:
        """Object key -> versions the store removed now (0: an earlier run did). Deletes
        run a few at a time: a store's latency, not its throughput, would bound them."""
        keys = [o["object"] for o in json.loads(destruction.manifest)["objects"]]
        results = self._deleting.map(self._deleter(destruction), keys)
        deleted = {key: r.versions_deleted for key, r in zip(keys, results, strict=True)}
        list(self._deleting.map(self._confirm_gone, keys))
        return deleted

    def _deleter(self, destruction: Destruction) -> Callable[[str], DeleteResult]:
        """A lawful early destruction (the patient's deletion request) bypasses the
        store's governance retention; any other deletes as the serving principal, which
        Object Lock refuses before the deadline (the run stops; the next one resumes)."""
        early = destruction.reason is ClosureReason.DELETION_REQUEST
        if early and self._retainer.mode() == OBJECT_LOCK:
            return self._retainer.purge
        return self._blobs.delete

    def _confirm_gone(self, key: str) -> None:
        """The store itself answers that `key` holds nothing readable any more."""
        try:
            self._blobs.open(key).close()
        except IntegrityError:
            return
        raise IntegrityError("an object of the manifest is still readable after its deletion")

    def _certificate(
        self, destruction: Destruction, decision: JournalEntry, deleted: dict[str, int]
    ) -> Certificate:
        body = json.loads(destruction.manifest)
        objects = tuple(
            DestroyedObject(
                uuid.UUID(o["document"]),
                o["version"],
                o["object"],
                bytes.fromhex(o["fingerprint"]),
                o["bytes"],
                deleted[o["object"]],
            )
            for o in body["objects"]
        )
        return Certificate(
            dossier_id=destruction.dossier_id,
            reason=_reason(destruction),
            job_id=uuid.UUID(destruction.job_id),
            started_us=destruction.started_us,
            completed_us=self._now_us(),
            decision_seq=decision.seq,
            decision_chain_hash=decision.chain_hash,
            keys_destroyed=tuple(body["key_versions"]),
            objects=objects,
            store_confirmed=self._retainer.mode(),
        )

    def _sign(self, certificate: Certificate) -> str:
        return sign(certificate, self._key.name, self._key.signer)

    # -- rolling windows ---------------------------------------------------------------

    def expire_documents(self) -> int:
        """Destroys documents past their category's rolling window; returns how many."""
        expired = 0
        for category, cutoff in rolling_cutoffs(self._now_us(), self._rules).items():
            while batch := self._index.expired_documents(category, cutoff, BATCH):
                for dossier_id in dict.fromkeys(v.dossier_id for v in batch):
                    mine = [v for v in batch if v.dossier_id == dossier_id]
                    self._expire(dossier_id, mine)
                    expired += len(mine)
        return expired

    def _expire(self, dossier_id: uuid.UUID, versions: list[VersionRecord]) -> None:
        documents = tuple(str(v.document_id) for v in versions)
        event = self._event(
            dossier_id, Action.DOCUMENT_EXPIRE, documents, Reason.ROLLING_WINDOW, str(uuid.uuid4())
        )
        self._journal.store.append(event)
        for version in versions:
            for blob_key in self._index.delete_document(dossier_id, version.document_id):
                self._blobs.delete(blob_key)

    # -- documents held back from the patient -----------------------------------------

    def release_held_back(self) -> tuple[int, int]:
        """Records the release of held-back documents whose delay ran, then queues the
        notices due; returns how many of each."""
        now_us = self._now_us()
        cutoff = released_up_to_us(now_us, self._rules.held_back_release_months)
        released = sum(self._release(v, now_us) for v in self._held_back(cutoff))
        notices = 0
        for record in self._held_back(release_notice_up_to_us(now_us, self._rules)):
            if record.document_created_us > cutoff:  # released by now otherwise
                notices += self._notify(record, NotificationKind.RELEASE_NOTICE, now_us, "")
        return released, notices

    def _held_back(self, deposited_up_to_us: int) -> Iterator[VersionRecord]:
        after: tuple[int, uuid.UUID] | None = None
        while batch := self._index.held_back_documents(deposited_up_to_us, after, BATCH):
            yield from batch
            after = batch[-1].document_created_us, batch[-1].document_id

    def _release(self, record: VersionRecord, now_us: int) -> bool:
        """Journals the release by delay, then clears the flag; the holder is told."""
        request_id = str(uuid.uuid4())
        event = self._event(
            record.dossier_id,
            Action.DOCUMENT_RELEASE,
            (str(record.document_id),),
            Reason.RELEASE_DELAY,
            request_id,
        )
        self._journal.store.append(event)
        visibility = record.visibility & ~Visibility.HIDDEN_FROM_PATIENT
        if not self._index.set_visibility(record, visibility, now_us, ACTOR_REF):
            return False  # changed meanwhile (released by hand): the next run looks again
        self._notify(record, NotificationKind.DOCUMENT_RELEASED, now_us, request_id)
        return True

    def _notify(
        self, record: VersionRecord, kind: NotificationKind, now_us: int, request_id: str
    ) -> bool:
        """Tells the holder about `record`, once (a minor's confidential care too: the
        outbox shows representatives no notice about it, `Notices.shown`)."""
        subject = str(record.document_id)
        notice = Notification(
            record.dossier_id, kind, subject, now_us, request_id or str(uuid.uuid4())
        )
        return self._index.notify_once(notice)


def verify_destroyed(
    index: RetentionIndex, blobs: BlobStore, destruction: Destruction
) -> list[str]:
    """What still remains of a destroyed dossier (an empty list: nothing): objects of its
    manifest in the store's own listing (any version), dossier key versions, version
    rows. The listing covers the whole store: run it on demand, not in a loop."""
    if destruction.completed_us is None:
        return ["the destruction has not completed"]
    body = json.loads(destruction.manifest)
    if body["dossier"] != str(destruction.dossier_id):
        raise IntegrityError("the manifest names another dossier")
    wanted = {o["object"] for o in body["objects"]}
    stored = wanted.intersection(blobs.stored_keys(datetime.now(UTC) + timedelta(days=1)))
    left = [f"object {key}" for key in sorted(stored)]
    left += [f"dossier key version {v}" for v in index.dossier_key_versions(destruction.dossier_id)]
    left += [
        f"document {v.document_id} version {v.version}"
        for v in index.dossier_versions(destruction.dossier_id)
    ]
    return left
