"""`MemoryIndex`: the index ports the gate, the document use cases and uploads need, in
plain dicts, for fast unit tests of the service (python-tuf's repository simulator is
the model). Not shipped: the real index is `vault.index.sql.SqlIndex`, and
tests/service/test_memory_index.py runs the same behaviour tests against both.

It implements `GateIndex` (vault/service/gate.py: `ReadScope`, `DossierIndex`,
`AccessIndex`, `DocumentIndex`, `KeyIndex`, `HeirIndex`), and `SweepIndex` for uploads
(`UploadIndex`). It does not implement `LifecycleIndex` or `RetentionIndex`, so it does
not declare them: a use case that needs them does not type-check against it.

Semantics are the SQL adapter's, table by table: a document row (category, visibility,
author, its first version's time, `latest_version`: 0 while unborn) and version rows
(pending under a lease, or committed). One lock makes every method one transaction.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tests.service.memory_births import MemoryBirths
from tests.service.memory_careteams import MemoryCareTeams
from tests.service.memory_overrides import MemoryOverrides
from tests.service.memory_receipts import MemoryReceipts
from tests.service.memory_standing import MemoryStanding
from vault.crypto.keyprovider import WrappedKey
from vault.domain.clock import to_us
from vault.domain.heirs import HeirGrant
from vault.domain.lifecycle import Lifecycle
from vault.domain.model import (
    DocumentCategory,
    DocumentQuery,
    DocumentStatus,
    DossierState,
    Notification,
    Relation,
    Relationship,
    Visibility,
)
from vault.domain.notices import NoticePreferences
from vault.domain.policy import Scope
from vault.errors import (
    AlreadyExistsError,
    ConflictError,
    DossierQuotaExceededError,
    FailedPreconditionError,
    IntegrityError,
)
from vault.index.base import AccessChange, Cursor, DossierKeyRecord, DossierRecord, VersionRecord
from vault.index.births import SealedBirth

_TREATING = Relation.TREATING


@dataclass
class _Document:
    """A `documents` row."""

    dossier_id: uuid.UUID
    category: DocumentCategory
    created_us: int
    author: str
    visibility: Visibility
    metadata_version: int = 1
    latest_version: int = 0  # 0: only a pending first version


@dataclass
class _Version:
    """A `document_versions` row: the record's own columns, its status and its lease."""

    record: VersionRecord
    committed: bool = False
    lease_until_us: int | None = None


def _admits(scope: Scope, document: _Document) -> bool:
    return scope.admits(
        document.category, document.visibility, document.created_us, document.author
    )


def _of_status(statuses: frozenset[DocumentStatus], version: int, latest: int) -> bool:
    """As `_of_status` in vault/index/sql/documents.py: committed versions are those up to
    the latest (a pending one is the next)."""
    if statuses == {DocumentStatus.CURRENT}:
        return version == latest
    if statuses == {DocumentStatus.DEPRECATED}:
        return version < latest
    return version <= latest


def _kept(query: DocumentQuery, document: _Document, record: VersionRecord) -> bool:
    care = record.care_us
    return (
        (not query.categories or document.category in query.categories)
        and (not query.type_codes or record.type_code in query.type_codes - {""})
        and (query.author is None or document.author == query.author)
        and (query.care_from is None or (care is not None and care >= to_us(query.care_from)))
        and (query.care_until is None or (care is not None and care < to_us(query.care_until)))
        and (query.document_id is None or record.document_id == query.document_id)
    )


class MemoryIndex(MemoryOverrides, MemoryCareTeams, MemoryBirths, MemoryReceipts, MemoryStanding):
    """Dossiers, their keys and relations, documents and their versions, in dicts; care
    teams (`MemoryCareTeams`), the patient's overrides of the matrix (`MemoryOverrides`),
    sealed dates of birth (`MemoryBirths`), deletion receipts (`MemoryReceipts`), a
    caller's standing in one read (`MemoryStanding`)."""

    def __init__(self) -> None:
        MemoryOverrides.__init__(self)
        MemoryCareTeams.__init__(self)
        MemoryBirths.__init__(self)
        MemoryReceipts.__init__(self)
        self._lock = threading.RLock()
        self._dossiers: dict[uuid.UUID, DossierRecord] = {}
        self._keys: dict[tuple[uuid.UUID, int], DossierKeyRecord] = {}
        self._relations: dict[tuple[uuid.UUID, Relation, str], Relationship] = {}
        self._changes: list[AccessChange] = []
        self._outbox: list[Notification] = []
        self._documents: dict[uuid.UUID, _Document] = {}
        self._versions: dict[tuple[uuid.UUID, int], _Version] = {}
        self._heir_grants: list[HeirGrant] = []
        self._objections: set[uuid.UUID] = set()
        self._preferences: dict[uuid.UUID, NoticePreferences] = {}

    # -- ReadScope -------------------------------------------------------------------

    def reads(self) -> contextlib.AbstractContextManager[None]:
        """Nothing to share: every method reads the dicts as they are."""
        return contextlib.nullcontext()

    # -- DossierIndex ----------------------------------------------------------------

    def add_dossier(
        self,
        dossier: DossierRecord,
        key: DossierKeyRecord,
        representative: Relationship | None = None,
        request_id: str = "",
        birth: SealedBirth | None = None,
    ) -> None:
        with self._lock:
            taken = {d.patient_index for d in self._dossiers.values()}
            if dossier.dossier_id in self._dossiers or dossier.patient_index in taken:
                raise AlreadyExistsError("this patient already has a dossier")
            # stored as the SQL adapter stores it: a new dossier's state, no closure
            self._dossiers[dossier.dossier_id] = replace(
                dossier, lifecycle=Lifecycle(dossier.state)
            )
            self._keys[key.dossier_id, key.version] = key
            if representative is not None:
                self.set_relationship(representative, request_id)
            if birth is not None:
                self._add_birth(birth)

    def dossier(self, dossier_id: uuid.UUID) -> DossierRecord | None:
        return self._dossiers.get(dossier_id)

    def dossier_by_patient(self, patient_index: bytes) -> DossierRecord | None:
        found = (d for d in self._dossiers.values() if d.patient_index == patient_index)
        return next(found, None)

    # -- AccessIndex -----------------------------------------------------------------

    def relationships(
        self, dossier_id: uuid.UUID, subject: str | None = None
    ) -> list[Relationship]:
        with self._lock:
            found = [
                r
                for (d, _, s), r in self._relations.items()
                if d == dossier_id and subject in (None, s)
            ]
        return sorted(found, key=lambda r: (r.relation.value, r.created_us, r.subject))

    def _replace(
        self, entry: Relationship, request_id: str, replacing: Sequence[Relation] = ()
    ) -> None:
        removed = [
            relation
            for relation in (entry.relation, *replacing)
            if self._relations.pop((entry.dossier_id, relation, entry.subject), None)
        ]
        self._relations[entry.dossier_id, entry.relation, entry.subject] = entry
        self._changes += [
            AccessChange(
                entry.dossier_id, r, entry.subject, "removed", entry.created_us, request_id
            )
            for r in removed
            if r is not entry.relation
        ]
        self._changes.append(_setting(entry, request_id))

    def set_relationship(
        self, entry: Relationship, request_id: str, replacing: Sequence[Relation] = ()
    ) -> None:
        with self._lock:
            self._replace(entry, request_id, replacing)

    def remove_relationship(
        self,
        dossier_id: uuid.UUID,
        relation: Relation,
        subject: str,
        removed_us: int,
        request_id: str,
    ) -> bool:
        with self._lock:
            if self._relations.pop((dossier_id, relation, subject), None) is None:
                return False
            self._changes.append(
                AccessChange(dossier_id, relation, subject, "removed", removed_us, request_id)
            )
            return True

    def set_treating_physician(
        self, dossier_id: uuid.UUID, entry: Relationship | None, changed_us: int, request_id: str
    ) -> None:
        with self._lock:
            for key in [k for k in self._relations if k[:2] == (dossier_id, _TREATING)]:
                del self._relations[key]
                self._changes.append(
                    AccessChange(dossier_id, _TREATING, key[2], "removed", changed_us, request_id)
                )
            if entry is not None:
                self._relations[dossier_id, _TREATING, entry.subject] = entry
                self._changes.append(_setting(entry, request_id))

    def access_changes(self, dossier_id: uuid.UUID) -> list[AccessChange]:
        with self._lock:
            return [c for c in self._changes if c.dossier_id == dossier_id]

    def set_emergency_objections(
        self,
        dossier_id: uuid.UUID,
        break_glass: bool | None,
        regulation: bool | None,
        changed_us: int,
        request_id: str,
    ) -> None:
        with self._lock:
            if (dossier := self._dossiers.get(dossier_id)) is None:
                return
            if break_glass is not None:
                dossier = replace(dossier, emergency_refused=break_glass)
            if regulation is not None:
                dossier = replace(dossier, regulation_refused=regulation)
            self._dossiers[dossier_id] = dossier
            for key, entry in list(self._relations.items()):
                regulator = entry.detail == "samu_regulation"
                closing = regulation if regulator else break_glass
                if key[:2] == (dossier_id, Relation.EMERGENCY) and closing:
                    del self._relations[key]
                    self._changes.append(
                        AccessChange(
                            dossier_id,
                            Relation.EMERGENCY,
                            key[2],
                            "removed",
                            changed_us,
                            request_id,
                        )
                    )

    def notify(
        self,
        notification: Notification,
        relationship: Relationship,
        copies: Sequence[Notification] = (),
    ) -> bool:
        with self._lock:
            seen = (relationship.dossier_id, relationship.relation, relationship.subject)
            if relationship.relation is Relation.SEEN:
                if seen in self._relations:
                    return False  # seen before: the first access was notified already
                self._relations[seen] = relationship
            else:
                self._replace(relationship, notification.request_id)
            for notice in (notification, *copies):
                number = len(self._outbox) + 1
                self._outbox.append(replace(notice, notification_id=number))
            return True

    def notifications(
        self, dossier_id: uuid.UUID, after_id: int, limit: int, recipient: str | None = None
    ) -> list[Notification]:
        with self._lock:
            found = [
                n
                for n in self._outbox
                if n.dossier_id == dossier_id
                and n.notification_id > after_id
                and n.recipient == recipient
            ]
        return found[:limit]

    # -- NoticeIndex -----------------------------------------------------------------

    def notice_preferences(self, dossier_id: uuid.UUID) -> NoticePreferences:
        return self._preferences.get(dossier_id, NoticePreferences())

    def set_notice_preferences(
        self,
        dossier_id: uuid.UUID,
        preferences: NoticePreferences,
        changed_us: int,
        request_id: str,
    ) -> None:
        self._preferences[dossier_id] = preferences

    def queue_notice(self, notice: Notification) -> None:
        with self._lock:
            number = len(self._outbox) + 1
            self._outbox.append(replace(notice, notification_id=number))

    # -- HeirIndex -------------------------------------------------------------------

    def add_heir_grant(self, grant: HeirGrant) -> int:
        with self._lock:
            self._heir_grants.append(replace(grant, grant_id=len(self._heir_grants) + 1))
            return len(self._heir_grants)

    def heir_grants(self, dossier_id: uuid.UUID, heir: str) -> list[HeirGrant]:
        with self._lock:
            return [g for g in self._heir_grants if (g.dossier_id, g.heir) == (dossier_id, heir)]

    def posthumous_objection(self, dossier_id: uuid.UUID) -> bool:
        return dossier_id in self._objections

    def set_posthumous_objection(
        self, dossier_id: uuid.UUID, objects: bool, recorded_us: int, request_id: str
    ) -> None:
        with self._lock:
            (self._objections.add if objects else self._objections.discard)(dossier_id)

    # -- DocumentIndex ---------------------------------------------------------------

    def _record(self, row: _Version) -> VersionRecord:
        """The row as `VersionRecord`, with its document's columns (VERSION_COLUMNS)."""
        document = self._documents[row.record.document_id]
        return replace(
            row.record,
            dossier_id=document.dossier_id,
            category=document.category,
            visibility=document.visibility,
            metadata_version=document.metadata_version,
            author=document.author,
            document_created_us=document.created_us,
            latest_version=document.latest_version,
        )

    def reserve_version(self, record: VersionRecord, lease_until_us: int) -> None:
        with self._lock:
            dossier = self._dossiers.get(record.dossier_id)
            if dossier is None or dossier.state is not DossierState.ACTIVE:
                raise FailedPreconditionError("the dossier is not active")
            number = (record.document_id, record.version)
            if record.version == 1:
                if record.document_id in self._documents:
                    raise ConflictError("another version of this document is being written")
                self._documents[record.document_id] = _Document(
                    record.dossier_id,
                    record.category,
                    record.created_us,
                    record.author,
                    record.visibility,
                )
            elif not self._at_version(record, record.version - 1):
                raise ConflictError("the document has a newer version than the one replaced")
            else:
                held = self._versions.get(number)
                if held and not held.committed and _lease_end(held) < record.created_us:
                    del self._versions[number]  # lapsed: taken over, its blob left to sweep
            if number in self._versions:
                raise ConflictError("another version of this document is being written")
            stored = replace(record, size=0, ciphertext_size=0)
            self._versions[number] = _Version(stored, lease_until_us=lease_until_us)

    def _at_version(self, record: VersionRecord, version: int) -> bool:
        document = self._documents.get(record.document_id)
        return (
            document is not None
            and document.dossier_id == record.dossier_id
            and document.latest_version == version
        )

    def _reservation(self, record: VersionRecord) -> _Version | None:
        """The pending row this upload reserved: its number and its blob key."""
        row = self._versions.get((record.document_id, record.version))
        if row is None or row.committed or row.record.blob_key != record.blob_key:
            return None
        return row

    def renew_reservation(self, record: VersionRecord, lease_until_us: int) -> bool:
        with self._lock:
            row = self._reservation(record)
            if row is not None:
                row.lease_until_us = lease_until_us
            return row is not None

    def content_size(self, dossier_id: uuid.UUID) -> int:
        return self._live_size(dossier_id, None)

    def _live_size(self, dossier_id: uuid.UUID, excluded: uuid.UUID | None) -> int:
        with self._lock:
            return sum(
                self._versions[(key, document.latest_version)].record.size
                for key, document in self._documents.items()
                if document.dossier_id == dossier_id and key != excluded
                if document.latest_version
            )

    def commit_version(self, record: VersionRecord, quota: int | None = None) -> None:
        with self._lock:
            others = self._live_size(record.dossier_id, record.document_id)
            if quota is not None and others + record.size > quota:
                raise DossierQuotaExceededError("the dossier's documents would exceed its quota")
            row = self._reservation(record)
            if row is None:
                raise ConflictError(
                    "the upload's reservation is gone: it lapsed and another upload took "
                    "its version, or it was swept"
                )
            document = self._documents[record.document_id]
            if document.latest_version != record.version - 1:
                raise ConflictError("the document has a newer version than the one replaced")
            row.record = replace(
                row.record,
                size=record.size,
                ciphertext_size=record.ciphertext_size,
                sealed_metadata=record.sealed_metadata,
            )
            row.committed, row.lease_until_us = True, None
            document.latest_version = record.version

    def version(
        self, dossier_id: uuid.UUID, document_id: uuid.UUID, version: int | None
    ) -> VersionRecord | None:
        with self._lock:
            document = self._documents.get(document_id)
            if document is None or document.dossier_id != dossier_id:
                return None
            number = document.latest_version if version is None else version
            row = self._versions.get((document_id, number))
            if row is None or not row.committed:
                return None
            return self._record(row)

    def search(
        self,
        dossier_id: uuid.UUID,
        scope: Scope,
        query: DocumentQuery,
        limit: int,
        after: Cursor | None = None,
    ) -> list[VersionRecord]:
        statuses = query.wanted_statuses
        with self._lock:
            found = [
                self._record(row)
                for (document_id, number), row in self._versions.items()
                if (document := self._documents[document_id]).dossier_id == dossier_id
                and _admits(scope, document)
                and _of_status(statuses, number, document.latest_version)
                and _kept(query, document, row.record)
            ]
        if after is not None:
            cursor = (after.created_us, after.document_id, after.version)
            found = [r for r in found if _place(r) < cursor]
        return sorted(found, key=_place, reverse=True)[:limit]

    def search_count(self, dossier_id: uuid.UUID, scope: Scope, query: DocumentQuery) -> int:
        return len(self.search(dossier_id, scope, query, limit=len(self._versions) + 1))

    def search_page(
        self,
        dossier_id: uuid.UUID,
        scope: Scope,
        query: DocumentQuery,
        limit: int,
        after: Cursor | None = None,
    ) -> tuple[list[VersionRecord], int]:
        with self._lock:
            page = self.search(dossier_id, scope, query, limit, after)
            return page, self.search_count(dossier_id, scope, query)

    def category_counts(self, dossier_id: uuid.UUID, scope: Scope) -> dict[DocumentCategory, int]:
        with self._lock:
            return dict(
                Counter(
                    d.category
                    for d in self._documents.values()
                    if d.dossier_id == dossier_id and d.latest_version > 0 and _admits(scope, d)
                )
            )

    def documents_outside(self, dossier_id: uuid.UUID, scope: Scope) -> set[uuid.UUID]:
        with self._lock:
            return {
                i
                for i, d in self._documents.items()
                if d.dossier_id == dossier_id and not _admits(scope, d)
            }

    def set_visibility(
        self, record: VersionRecord, visibility: Visibility, changed_us: int, changed_by: str
    ) -> bool:
        with self._lock:
            document = self._documents.get(record.document_id)
            if document is None or document.metadata_version != record.metadata_version:
                return False
            document.visibility = visibility
            document.metadata_version += 1
            return True

    def delete_document(self, dossier_id: uuid.UUID, document_id: uuid.UUID) -> list[str]:
        with self._lock:
            document = self._documents.get(document_id)
            if document is None or document.dossier_id != dossier_id:
                return []
            del self._documents[document_id]
            numbers = sorted(n for n in self._versions if n[0] == document_id)
            return [self._versions.pop(n).record.blob_key for n in numbers]

    # -- KeyIndex --------------------------------------------------------------------

    def dossier_key(self, dossier_id: uuid.UUID, version: int) -> DossierKeyRecord:
        key = self._keys.get((dossier_id, version))
        if key is None:
            raise IntegrityError("dossier key version missing from the index")
        return key

    def add_dossier_key(self, key: DossierKeyRecord, make_current: bool) -> None:
        with self._lock:
            self._keys[key.dossier_id, key.version] = key
            dossier = self._dossiers.get(key.dossier_id)
            if make_current and dossier is not None:
                self._dossiers[key.dossier_id] = replace(dossier, key_version=key.version)

    def dossier_keys_not_under(
        self, master_version: int, limit: int, after: DossierKeyRecord | None = None
    ) -> list[DossierKeyRecord]:
        start = (uuid.UUID(int=0), -1) if after is None else (after.dossier_id, after.version)
        with self._lock:
            found = [
                k
                for place, k in sorted(self._keys.items())
                if k.wrapped.master_version != master_version and place > start
            ]
        return found[:limit]

    def rewrap_dossier_keys(self, pairs: Sequence[tuple[DossierKeyRecord, WrappedKey]]) -> int:
        changed = 0
        with self._lock:
            for old, new in pairs:
                place = (old.dossier_id, old.version)
                if (stored := self._keys.get(place)) is not None and stored.wrapped == old.wrapped:
                    self._keys[place] = replace(stored, wrapped=new)
                    changed += 1
        return changed

    def master_version_counts(self) -> dict[int, int]:
        with self._lock:
            return dict(Counter(k.wrapped.master_version for k in self._keys.values()))

    def _rows_of(self, dossier_id: uuid.UUID) -> list[_Version]:
        """The dossier's version rows, in (document, version) order."""
        return [
            row
            for (document_id, _), row in sorted(self._versions.items(), key=lambda i: i[0])
            if self._documents[document_id].dossier_id == dossier_id
        ]

    def versions_not_under_key(
        self, dossier_id: uuid.UUID, key_version: int, limit: int
    ) -> list[VersionRecord]:
        with self._lock:
            return [
                self._record(row)
                for row in self._rows_of(dossier_id)
                if row.committed and row.record.dossier_key_version != key_version
            ][:limit]

    def uploads_under_other_key(self, dossier_id: uuid.UUID, key_version: int) -> int:
        with self._lock:
            return sum(
                not row.committed and row.record.dossier_key_version != key_version
                for row in self._rows_of(dossier_id)
            )

    def replace_encryption(self, old: VersionRecord, new: VersionRecord) -> bool:
        with self._lock:
            row = self._versions.get((old.document_id, old.version))
            if row is None or not row.committed or row.record.blob_key != old.blob_key:
                return False
            row.record = replace(
                row.record,
                blob_key=new.blob_key,
                dossier_key_version=new.dossier_key_version,
                wrapped_key=new.wrapped_key,
                sealed_metadata=new.sealed_metadata,
                ciphertext_size=new.ciphertext_size,
            )
            return True

    def destroy_dossier_keys(self, dossier_id: uuid.UUID, below_version: int | None) -> int:
        with self._lock:
            in_use = {row.record.dossier_key_version for row in self._rows_of(dossier_id)}
            in_use |= self._birth_versions(dossier_id)
            doomed = [
                (d, v)
                for d, v in self._keys
                if d == dossier_id
                and (below_version is None or (v < below_version and v not in in_use))
            ]
            for place in doomed:
                del self._keys[place]
            return len(doomed)

    # -- SweepIndex ------------------------------------------------------------------

    def pending_versions(self, lapsed_before_us: int, limit: int) -> list[VersionRecord]:
        with self._lock:
            lapsed = [
                self._record(row)
                for row in self._versions.values()
                if not row.committed and _lease_end(row) < lapsed_before_us
            ]
        return sorted(lapsed, key=lambda r: r.created_us)[:limit]

    def discard_version(self, record: VersionRecord) -> bool:
        with self._lock:
            discarded = self._reservation(record) is not None
            if discarded:
                del self._versions[record.document_id, record.version]
            document = self._documents.get(record.document_id)
            unborn = document is not None and document.latest_version == 0
            if record.version == 1 and unborn and (record.document_id, 1) not in self._versions:
                del self._documents[record.document_id]
            return discarded

    def referenced_keys(self, blob_keys: Sequence[str]) -> set[str]:
        with self._lock:
            return {row.record.blob_key for row in self._versions.values()} & set(blob_keys)

    # ScrubIndex

    def committed_versions_after(
        self, after: tuple[uuid.UUID, int] | None, limit: int
    ) -> list[VersionRecord]:
        with self._lock:
            places = sorted(place for place, row in self._versions.items() if row.committed)
            chosen = [self._record(self._versions[p]) for p in places if after is None or p > after]
        return chosen[:limit]


def _place(record: VersionRecord) -> tuple[int, uuid.UUID, int]:
    """A version's place in a search, which is newest first (`Cursor`)."""
    return (record.document_created_us, record.document_id, record.version)


def _lease_end(row: _Version) -> int:
    """When a pending row's lease ends (every reservation here has one)."""
    assert row.lease_until_us is not None
    return row.lease_until_us


def _setting(entry: Relationship, request_id: str) -> AccessChange:
    return AccessChange(
        entry.dossier_id,
        entry.relation,
        entry.subject,
        "set",
        entry.created_us,
        request_id,
        entry.expires_us,
        entry.detail,
    )
