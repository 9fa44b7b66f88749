"""The index's ports: one Protocol per role, and `Index`, their union.

Each consumer asks for the narrowest port it needs: the sweeper for `SweepIndex`, the scrub
for `ScrubIndex`, key rotation for `KeyIndex`, the retention job (retention/destroyer.py)
for `RetentionIndex` and the two methods it borrows; the service for whichever its use cases
call. Every method belongs to exactly one port; `vault.index.sql.SqlIndex` implements
them all. Records live in `vault.index.records` (re-exported); no query, no behaviour.

Write order for a document (docs/architecture.md): `reserve_version` records a pending
version (invisible), the blob is written, then `commit_version` makes the document
visible in one transaction. A crash leaves at worst a pending row and an orphan blob.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from vault.domain.heirs import HeirGrant
from vault.domain.lifecycle import LegalHold, Lifecycle
from vault.domain.model import (
    DocumentCategory,
    DocumentQuery,
    Notification,
    Relation,
    Relationship,
    Visibility,
)
from vault.domain.notices import NoticePreferences
from vault.domain.policy import Scope
from vault.index.births import BirthIndex, SealedBirth
from vault.index.keys import KeyIndex
from vault.index.overrides import OverrideIndex
from vault.index.receipts import ReceiptIndex
from vault.index.records import (
    AccessChange,
    CareTeamRecord,
    Cursor,
    Destruction,
    DossierKeyRecord,
    DossierRecord,
    DueSummary,
    ManifestBuilder,
    VersionRecord,
)
from vault.index.standing import StandingIndex

__all__ = [
    "AccessChange",
    "AccessIndex",
    "BirthIndex",
    "CareTeamRecord",
    "Cursor",
    "Destruction",
    "DocumentIndex",
    "DossierIndex",
    "DossierKeyRecord",
    "DossierRecord",
    "DueSummary",
    "HeirIndex",
    "Index",
    "KeyIndex",
    "LifecycleIndex",
    "ManifestBuilder",
    "NoticeIndex",
    "OverrideIndex",
    "ReadScope",
    "RetentionIndex",
    "ScrubIndex",
    "SweepIndex",
    "VersionRecord",
]


class DossierIndex(Protocol):
    """Dossiers: created with their first key, found by id or by patient."""

    def add_dossier(
        self,
        dossier: DossierRecord,
        key: DossierKeyRecord,
        representative: Relationship | None = None,
        request_id: str = "",
        birth: SealedBirth | None = None,
    ) -> None:
        """Stores a new dossier, its first key, the legal representative who opened it
        (an access change of `request_id`) and the holder's sealed date of birth, in one
        transaction; AlreadyExistsError for a second dossier of the same patient."""
        ...

    def dossier(self, dossier_id: uuid.UUID) -> DossierRecord | None: ...

    def dossier_by_patient(self, patient_index: bytes) -> DossierRecord | None: ...


class DocumentIndex(Protocol):
    """Documents and their versions: the write order (reserve, renew, commit), reads,
    listings, visibility and deletion. An aborted upload's reservation is discarded
    through `SweepIndex.discard_version`."""

    def reserve_version(self, record: VersionRecord, lease_until_us: int) -> None:
        """Records a pending version, leased until `lease_until_us`: invisible to reads
        and listings. Version 1 creates the document; a later version needs the document
        at the version before it and no other upload of that version under way
        (ConflictError otherwise), so that versions are unique and gapless whatever the
        number of writers. Another upload's reservation whose lease lapsed before
        `record.created_us` is not under way: this one takes its place (one without a
        lease, from an older server, holds as long as this one's from its creation)."""
        ...

    def renew_reservation(self, record: VersionRecord, lease_until_us: int) -> bool:
        """Extends this version's lease; False if its reservation is gone (it lapsed and
        was taken over, or swept)."""
        ...

    def commit_version(self, record: VersionRecord, quota: int | None = None) -> None:
        """Sets the final sizes and makes the version the document's visible one; the
        previous version becomes deprecated. A new document's notice is queued in the
        same transaction when the holder asked for it (vault/domain/notices.py).
        ConflictError if the reservation is gone; DossierQuotaExceededError (nothing
        written) if the dossier's live versions would then hold more than `quota` bytes,
        checked under the dossier's lock."""
        ...

    def content_size(self, dossier_id: uuid.UUID) -> int:
        """The content bytes of the dossier's live versions (not the replaced ones)."""
        ...

    def version(
        self, dossier_id: uuid.UUID, document_id: uuid.UUID, version: int | None
    ) -> VersionRecord | None:
        """A committed version (`None`: the latest), or None."""
        ...

    def search(
        self,
        dossier_id: uuid.UUID,
        scope: Scope,
        query: DocumentQuery,
        limit: int,
        after: Cursor | None = None,
    ) -> list[VersionRecord]:
        """The committed versions of the dossier's documents in `scope` that `query`
        keeps, in `Cursor` order."""
        ...

    def search_count(self, dossier_id: uuid.UUID, scope: Scope, query: DocumentQuery) -> int:
        """How many versions `search` would return, over all its pages."""
        ...

    def search_page(
        self,
        dossier_id: uuid.UUID,
        scope: Scope,
        query: DocumentQuery,
        limit: int,
        after: Cursor | None = None,
    ) -> tuple[list[VersionRecord], int]:
        """`search`, and `search_count` read in the same statement (one snapshot)."""
        ...

    def category_counts(self, dossier_id: uuid.UUID, scope: Scope) -> dict[DocumentCategory, int]:
        """How many of the dossier's documents in `scope` each category holds."""
        ...

    def documents_outside(self, dossier_id: uuid.UUID, scope: Scope) -> set[uuid.UUID]:
        """The ids of the dossier's documents that `scope` does not admit."""
        ...

    def set_visibility(
        self, record: VersionRecord, visibility: Visibility, changed_us: int, changed_by: str
    ) -> bool:
        """Records a new metadata version with `visibility`, if the document is still at
        `record.metadata_version` (False: a concurrent change won)."""
        ...

    def delete_document(self, dossier_id: uuid.UUID, document_id: uuid.UUID) -> list[str]:
        """Removes a document and all its versions; returns their blob keys to delete."""
        ...


class CareTeamIndex(Protocol):
    """Care teams: added and removed by the patient side, matched at each request."""

    def add_care_team(self, team: CareTeamRecord, request_id: str) -> None:
        """Stores the team and its members in one transaction."""
        ...

    def remove_care_team(
        self, dossier_id: uuid.UUID, team_id: uuid.UUID, removed_us: int, request_id: str
    ) -> bool:
        """Marks the team removed (its row kept as the trail); whether it was in force."""
        ...

    def care_teams(self, dossier_id: uuid.UUID) -> list[CareTeamRecord]:
        """The dossier's teams not removed (lapsed ones included), oldest first."""
        ...

    def care_team_until(
        self, dossier_id: uuid.UUID, rpps: str, structure: str | None = None
    ) -> int | None:
        """The latest expiry of the dossier's teams (not removed) that list the
        professional's RPPS number or their token's structure; None: in none."""
        ...


class AccessIndex(CareTeamIndex, Protocol):
    """Access: relations, their trail, the emergency setting and the notification outbox;
    care teams."""

    def relationships(
        self, dossier_id: uuid.UUID, subject: str | None = None
    ) -> list[Relationship]:
        """The dossier's relations (only `subject`'s, if given)."""
        ...

    def set_relationship(
        self, entry: Relationship, request_id: str, replacing: Sequence[Relation] = ()
    ) -> None:
        """Stores `entry` (replacing the same relation of the same subject) and removes
        the subject's `replacing` relations, in one transaction that also records each
        change in `access_changes` (`entry` set, any replaced relation removed)."""
        ...

    def remove_relationship(
        self,
        dossier_id: uuid.UUID,
        relation: Relation,
        subject: str,
        removed_us: int,
        request_id: str,
    ) -> bool:
        """Removes one relation (recording the removal); returns whether it existed."""
        ...

    def set_treating_physician(
        self, dossier_id: uuid.UUID, entry: Relationship | None, changed_us: int, request_id: str
    ) -> None:
        """Replaces the dossier's treating physician (None: clears it), recording the
        changes."""
        ...

    def access_changes(self, dossier_id: uuid.UUID) -> list[AccessChange]:
        """The dossier's access changes, oldest first."""
        ...

    def set_emergency_objections(
        self,
        dossier_id: uuid.UUID,
        break_glass: bool | None,
        regulation: bool | None,
        changed_us: int,
        request_id: str,
    ) -> None:
        """Sets the patient's objections to break-the-glass and to the SAMU regulator's
        access (None: unchanged). An objection made (True) removes, in the same
        transaction, every emergency window of its kind (a regulator's: reason
        `samu_regulation`), recording each removal: a window closed so stays closed,
        whatever the patient allows later."""
        ...

    def notify(
        self,
        notification: Notification,
        relationship: Relationship,
        copies: Sequence[Notification] = (),
    ) -> bool:
        """Records `relationship` and queues `notification` (and `copies`, notices
        addressed to professionals), in one transaction.

        A `SEEN` relation (a first access) is recorded once: if the subject was seen
        already, nothing is recorded or queued. Any other relation (a break-the-glass
        window) replaces the subject's same relation and is recorded as an access change
        under the notification's request id. Returns whether it queued."""
        ...

    def notifications(
        self, dossier_id: uuid.UUID, after_id: int, limit: int, recipient: str | None = None
    ) -> list[Notification]:
        """The dossier's outbox after `after_id`, oldest first: the patient side's
        (`recipient` None), or the notices addressed to the professional `recipient`."""
        ...


class LifecycleIndex(Protocol):
    """The lifecycle: closure, reopening, deletion requests and legal holds."""

    def set_lifecycle(self, dossier_id: uuid.UUID, expected: Lifecycle, new: Lifecycle) -> bool:
        """Moves the dossier to `new` if it is still at `expected` (False: it moved)."""
        ...

    def add_hold(self, hold: LegalHold) -> int:
        """Records a legal hold in force; returns its id."""
        ...

    def release_hold(self, hold: LegalHold) -> bool:
        """Records the release of a hold in force (`released_*` set); False if there is
        no such hold in force on that dossier."""
        ...

    def holds(self, dossier_id: uuid.UUID) -> list[LegalHold]:
        """Every hold the dossier has had, oldest first."""
        ...


class HeirIndex(Protocol):
    """A deceased holder's heirs: the grants an operator recorded, and the holder's
    objection while alive (vault/domain/heirs.py)."""

    def add_heir_grant(self, grant: HeirGrant) -> int:
        """Records a grant; returns its id."""
        ...

    def heir_grants(self, dossier_id: uuid.UUID, heir: str) -> list[HeirGrant]:
        """The grants `heir` has on the dossier, oldest first (expired ones included)."""
        ...

    def posthumous_objection(self, dossier_id: uuid.UUID) -> bool:
        """Whether the holder's objection to heirs' access stands."""
        ...

    def set_posthumous_objection(
        self, dossier_id: uuid.UUID, objects: bool, recorded_us: int, request_id: str
    ) -> None:
        """Records the objection (again: unchanged), or withdraws it."""
        ...


class NoticeIndex(Protocol):
    """The holder's notification preferences, and a notice queued on its own (the deposit
    notice is queued by `DocumentIndex.commit_version`, in its transaction)."""

    def notice_preferences(self, dossier_id: uuid.UUID) -> NoticePreferences: ...

    def set_notice_preferences(
        self,
        dossier_id: uuid.UUID,
        preferences: NoticePreferences,
        changed_us: int,
        request_id: str,
    ) -> None: ...

    def queue_notice(self, notice: Notification) -> None: ...


class RetentionIndex(Protocol):
    """Retention: what is due, destructions (manifest, completion, certificates), rolling
    windows, and what a destroyed dossier may still hold."""

    def due_dossiers(self, by_us: int, limit: int) -> list[DossierRecord]:
        """Closed, unheld dossiers whose deadline is at or before `by_us`, earliest first."""
        ...

    def due_summary(self, by_us: int) -> list[DueSummary]:
        """What `due_dossiers(by_us)` holds, per closure reason."""
        ...

    def begin_destruction(
        self, destruction: Destruction, by_us: int, manifest: ManifestBuilder
    ) -> Destruction | None:
        """Records the destruction, its manifest built by `manifest` from the dossier's
        version rows and key versions read in the same transaction, if the dossier is due
        at `by_us` and no destruction is recorded yet (None otherwise). From then on no
        write, closure change or hold reaches the dossier."""
        ...

    def destruction(self, dossier_id: uuid.UUID) -> Destruction | None: ...

    def unfinished_destructions(self) -> list[Destruction]:
        """Destructions begun and not completed (an interrupted run), oldest first."""
        ...

    def destructions(self, since_us: int, until_us: int) -> list[Destruction]:
        """Destructions completed in [since, until), in order."""
        ...

    def complete_destruction(
        self, dossier_id: uuid.UUID, completed_us: int, certificate: str, tombstone: bytes
    ) -> None:
        """In one transaction: every document, version, relation, access change and
        notification row of the dossier removed (not a receipt's `deleted` notice), the
        dossier a tombstone (destroyed, its patient index replaced by `tombstone`), the
        certificate recorded."""
        ...

    def expired_documents(
        self, category: DocumentCategory, created_before_us: int, limit: int
    ) -> list[VersionRecord]:
        """Latest versions of documents of `category` whose window anchor (the date of
        care, `lifecycle.window_anchor_us`) is before the time, in active dossiers
        without a legal hold (rolling retention windows)."""
        ...

    def dossier_versions(self, dossier_id: uuid.UUID) -> list[VersionRecord]:
        """Every version row of the dossier, pending ones included."""
        ...

    def dossier_key_versions(self, dossier_id: uuid.UUID) -> list[int]: ...

    def protected_dossiers(
        self, now_us: int, after: uuid.UUID | None, limit: int
    ) -> list[DossierRecord]:
        """Dossiers whose objects the store must protect (ADR 0024), by id, after `after`:
        closed ones whose deadline is after `now_us` (not a deletion request, which is
        destroyed early) and every one with a legal hold in force; none whose
        destruction has begun."""
        ...


class SweepIndex(Protocol):
    """What interrupted uploads leave: lapsed reservations, discarded (by the sweeper, and
    by an upload that aborts), and which blobs a version row references."""

    def pending_versions(self, lapsed_before_us: int, limit: int) -> list[VersionRecord]:
        """Pending versions whose lease lapsed before the time (without a lease: that
        were begun before it), oldest first: uploads a crash or a hang-up left. A live
        upload renews its lease, however long it runs."""
        ...

    def discard_version(self, record: VersionRecord) -> bool:
        """Removes this version's reservation (the row with its blob key) if it is still
        pending; returns whether it was. A version committed meanwhile, or another
        writer's reservation of the same number, is left alone."""
        ...

    def referenced_keys(self, blob_keys: Sequence[str]) -> set[str]:
        """Those of `blob_keys` that a version row (pending or committed) references."""
        ...


class ScrubIndex(Protocol):
    """Every committed version, for the scrub (vault/scrub.py) to read back."""

    def committed_versions_after(
        self, after: tuple[uuid.UUID, int] | None, limit: int
    ) -> list[VersionRecord]:
        """Up to `limit` committed versions after the (document id, version) given (from
        the first when None), in that order: a page of a walk that a crash can resume."""
        ...


class ReadScope(Protocol):
    """A request's reads in one go: those a thread makes inside `reads()` share one
    connection (and on SQLite one snapshot) instead of one each. Reads only: a write
    in the block would not be seen by the reads after it."""

    def reads(self) -> AbstractContextManager[None]: ...


class Index(
    ReadScope,
    DossierIndex,
    BirthIndex,
    DocumentIndex,
    AccessIndex,
    LifecycleIndex,
    HeirIndex,
    NoticeIndex,
    OverrideIndex,
    ReceiptIndex,
    RetentionIndex,
    KeyIndex,
    SweepIndex,
    ScrubIndex,
    StandingIndex,
    Protocol,
):
    """The whole index: every role's port."""
