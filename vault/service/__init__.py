"""The application service: every use case, from an authenticated actor to stored bytes.

`Vault` composes the ports (Index, BlobStore, KeyProvider, JournalStore, JournalLog,
Clock) into one decision gate (`gate.py`: one policy decision and one journal entry per
request, before any effect) and the use cases that pass through it, one object per
aggregate: `vault.dossiers` (create, find, lifecycle, holds), `vault.births` (the
holder's date of birth after creation), `vault.uploads` (writing
documents), `vault.documents` (reading, searching, changing them, the patient copy),
`vault.access` (who may access a dossier), `vault.heirs` (a deceased holder's heirs),
`vault.notices` (the outbox) and `vault.journal` (the journal's read side).
It knows no wire format: the gRPC edge drives it, tests can too.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from vault.blobstore.base import BlobStore, Retainer
from vault.crypto.keyprovider import KeyProvider
from vault.crypto.objectformat import DEFAULT_SEGMENT_SIZE
from vault.domain import lifecycle
from vault.domain.clock import Clock
from vault.domain.policy import DEFAULT_MATRIX, AccessMatrix
from vault.domain.policy.consent import THE_DAY, ConsentWindow
from vault.index.base import Index
from vault.journal.merkle import TreeStore
from vault.journal.store import JournalLog, JournalStore
from vault.notification_watch import WatchSettings
from vault.pagetokens import PageTokens
from vault.service.access import AccessControl
from vault.service.births import BirthDates
from vault.service.documents import Documents
from vault.service.dossiers import Dossiers
from vault.service.gate import Call, Gate
from vault.service.heirs import Heirs
from vault.service.journal import JournalReads
from vault.service.notifications import Notices
from vault.service.uploads import Upload, UploadQuota, Uploads

__all__ = ["DEFAULT_UPLOAD_LEASE", "Call", "Upload", "UploadQuota", "Vault"]

DEFAULT_UPLOAD_LEASE = timedelta(minutes=2)
_BACKGROUND_WORKERS = 32  # requests whose journal append overlaps other work at once


class Vault:
    """The service: its use cases, by aggregate, sharing one gate."""

    def __init__(
        self,
        *,
        index: Index,
        blobs: BlobStore,
        keys: KeyProvider,
        journal: JournalStore,
        journal_log: JournalLog,
        clock: Clock,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        matrix: AccessMatrix = DEFAULT_MATRIX,
        rules: lifecycle.RetentionRules = lifecycle.DEFAULT_RULES,
        upload_lease: timedelta = DEFAULT_UPLOAD_LEASE,
        retainer: Retainer | None = None,
        upload_quota: UploadQuota | None = None,
        consent_window: ConsentWindow = THE_DAY,
        watch: WatchSettings | None = None,
        journal_tree: TreeStore | None = None,
    ) -> None:
        if upload_lease <= timedelta(0):
            raise ValueError("the upload lease must be positive")
        gate = Gate(
            index=index,
            keys=keys,
            journal=journal,
            clock=clock,
            matrix=matrix,
            release_months=rules.held_back_release_months,
        )
        tokens = PageTokens(keys)
        # overlaps a request's journal append with its other work (uploads, reads)
        background = ThreadPoolExecutor(_BACKGROUND_WORKERS, "vault-overlap")
        self.dossiers = Dossiers(gate, index=index, keys=keys, rules=rules, retainer=retainer)
        self.births = BirthDates(gate, index=index)  # the holder's date, after creation
        self.uploads = Uploads(
            gate,
            index=index,
            blobs=blobs,
            background=background,
            segment_size=segment_size,
            lease_us=upload_lease // timedelta(microseconds=1),
            quota=upload_quota,
        )
        self.documents = Documents(
            gate,
            index=index,
            blobs=blobs,
            background=background,
            tokens=tokens,
            journal_log=journal_log,
        )
        self.access = AccessControl(gate, index=index, consent_window=consent_window)
        self.heirs = Heirs(gate, index=index, rules=rules)
        self.notices = Notices(gate, index=index, watch=watch or WatchSettings())
        self.journal = JournalReads(
            gate, index=index, journal_log=journal_log, tokens=tokens, tree=journal_tree
        )
        self.record_refusal = gate.record_refusal  # the edge's refusals, before a decision
