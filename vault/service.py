"""The application service: every use case, from an authenticated actor to stored bytes.

`Vault` composes the ports (Index, BlobStore, KeyProvider, JournalStore, Clock) and knows
no wire format: the gRPC edge drives it, tests can too. Each call runs inside
`_journaled`, which writes exactly one journal entry per request, allowed or denied,
before any document byte or metadata is released: no journal, no access. Writes are
journaled at the decision, before any visible effect (an upload's entry is written in
the background while its bytes stream in: docs/adr/0007).

Key hierarchy: the key provider wraps one 32-byte key per dossier (versioned); each
document version gets a random 32-byte key sealed under the dossier key, bound to its
dossier, document, version and dossier key version; metadata (title, media type, digest)
is sealed under the dossier key the same way, so it dies with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import struct
import uuid
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from vault import secrets
from vault.archive import build_archive
from vault.blobstore.base import BlobReader, BlobStore, BlobWriter
from vault.crypto import sealed
from vault.crypto.keyprovider import KeyProvider
from vault.crypto.objectformat import (
    DEFAULT_SEGMENT_SIZE,
    ObjectEncryptor,
    ObjectRef,
    decrypt_range,
    decrypt_segments,
)
from vault.domain import lifecycle
from vault.domain.clock import Clock, from_us, to_us
from vault.domain.formats import format_of
from vault.domain.identifiers import Ins, parse_ins, parse_rpps, parse_type_code
from vault.domain.ids import new_id, new_object_key, parse_id
from vault.domain.model import (
    INS_SUBJECT_KINDS,
    AccessRules,
    Actor,
    ActorKind,
    Author,
    ClosureReason,
    Document,
    DocumentCategory,
    DocumentMetadata,
    DocumentPage,
    DocumentQuery,
    DocumentStatus,
    Dossier,
    EmergencyReason,
    Notification,
    NotificationKind,
    Relation,
    Relationship,
    Replacement,
    Visibility,
)
from vault.domain.policy import (
    DEFAULT_MATRIX,
    AccessMatrix,
    Action,
    Decision,
    DocumentFacts,
    Facts,
    Reason,
    Scope,
    Standing,
    decide,
)
from vault.errors import (
    AlreadyExistsError,
    ConflictError,
    FailedPreconditionError,
    IntegrityError,
    InvalidArgumentError,
    NotFoundError,
    OutOfRangeError,
    PermissionDeniedError,
    UnauthenticatedError,
    VaultError,
)
from vault.index.base import (
    Cursor,
    DossierKeyRecord,
    DossierRecord,
    Index,
    LegalHold,
    VersionRecord,
)
from vault.journal.chain import JournalEntry, JournalEvent
from vault.journal.export import export_lines
from vault.journal.store import EntryFilter, JournalLog, JournalStore
from vault.pagetokens import PageTokens
from vault.rotation import unwrap_dossier_key

DEFAULT_PAGE_SIZE = 100
DEFAULT_UPLOAD_LEASE = timedelta(minutes=2)
AUTHORISATION_LIFETIME_US = 365 * 24 * 3600 * 1_000_000  # renewable
EMERGENCY_WINDOW_US = 3600 * 1_000_000
MAX_PAGE_SIZE = 1000
MAX_NOTIFICATION_ID = 2**63 - 1  # a signed 64-bit key in both databases
MAX_TITLE_LENGTH = 1000
MAX_MEDIA_TYPE_LENGTH = 255
_DOCUMENT_PURPOSE = 1
# purpose, dossier, query digest, created_us, document, version
_DOCUMENT_CURSOR = struct.Struct(">B16s16sq16sI")
_JOURNAL_PURPOSE = 2
_JOURNAL_CURSOR = struct.Struct(">BQQ16s")  # purpose, after seq, up to seq, query scope
_BACKGROUND_WORKERS = 32  # requests whose journal append overlaps other work at once

_HIDDEN_FROM_PATIENT_SIDE = Visibility.HIDDEN_FROM_PATIENT | Visibility.HIDDEN_FROM_REPRESENTATIVES

_REFUSALS: dict[type[VaultError], Reason] = {
    UnauthenticatedError: Reason.UNAUTHENTICATED,
    InvalidArgumentError: Reason.INVALID_ARGUMENT,
    NotFoundError: Reason.NOT_FOUND,
    AlreadyExistsError: Reason.ALREADY_EXISTS,
    ConflictError: Reason.CONFLICT,
}


def _refusal_reason(error: Exception) -> str:
    if isinstance(error, PermissionDeniedError):
        return error.reason
    return next((r for t, r in _REFUSALS.items() if isinstance(error, t)), Reason.FAILED).value


def _redacted(entry: JournalEntry, hidden: set[uuid.UUID]) -> JournalEntry:
    """The entry as a reader who may not know the `hidden` documents exist sees it: the
    entry itself is kept (it is a real access), their ids are removed from it, and so are
    the stored bytes that still name them."""
    named = entry.event.documents
    if not hidden or not named:
        return entry
    kept = tuple(d for d in named if uuid.UUID(d) not in hidden)
    if len(kept) == len(named):
        return entry
    return replace(entry, event=replace(entry.event, documents=kept), canonical=b"")


@dataclass
class Call:
    """One request as the service sees it: its id, whether it is journaled yet, and the
    facts of its last allowed decision.

    Exactly one journal entry per request: the edge journals a refusal only when the
    service has not (`journaled` is still False), e.g. a bad token or a malformed id.
    `allowed` tells the first-access notice what the decision already read (whether the
    professional was seen before, the document concerned). `dossier`, set by the edge
    before it parses the rest of a message, puts an edge refusal in that dossier's
    history."""

    request_id: str
    journaled: bool = False
    allowed: Facts | None = field(default=None, repr=False)
    dossier: str = ""  # the dossier the request names, for a refusal at the edge


@dataclass
class _Access:
    """What one request touched and what the policy said, filled in as the use case
    learns it."""

    matrix: AccessMatrix
    call: Call | None = None
    dossier: uuid.UUID | None = None
    documents: tuple[uuid.UUID, ...] = ()
    decision: Decision | None = None
    refusal: Reason | None = None
    journal_seq: int = 0  # the request's own entry, once written

    def require(self, facts: Facts) -> Decision:
        """The policy's decision, or its refusal raised. A document outside the caller's
        scope is NOT_FOUND, as if it did not exist, and journaled as hidden."""
        decision = decide(facts, self.matrix)
        if not decision.allowed:
            self.refusal = decision.reason
            if decision.reason is Reason.DOCUMENT_HIDDEN:
                raise NotFoundError("no such document")
            raise PermissionDeniedError(decision.reason.value)
        self.decision = decision
        if self.call is not None:
            self.call.allowed = facts
        return decision


def _dossier_view(record: DossierRecord) -> Dossier:
    state = record.lifecycle

    def moment(time_us: int | None) -> datetime | None:
        return None if time_us is None else from_us(time_us)

    return Dossier(
        record.dossier_id,
        record.state,
        from_us(record.created_us),
        moment(state.closed_us),
        state.closure_reason,
        moment(state.destroy_after_us),
    )


def _ref(record: VersionRecord) -> ObjectRef:
    """What a version's object is bound to (docs/format.md, "Object format v1")."""
    return ObjectRef(
        record.dossier_id, record.document_id, record.version, record.dossier_key_version
    )


MAX_HOLD_REASON_LENGTH = 200


def _hold_reason(text: str) -> str:
    """A legal hold's reason: a court or case reference, short, printable, one line."""
    reason = text.strip()
    if not reason or len(reason) > MAX_HOLD_REASON_LENGTH or not reason.isprintable():
        raise InvalidArgumentError(
            f"a hold needs a reason: 1 to {MAX_HOLD_REASON_LENGTH} printable characters"
        )
    return reason


MIN_CARE_DATE_US = to_us(datetime(1900, 1, 1, tzinfo=UTC))
CARE_DATE_SLACK_US = 24 * 3600 * 1_000_000  # time zones and clocks: a day ahead at most


def validate_metadata(metadata: DocumentMetadata, now_us: int) -> DocumentMetadata:
    """The metadata as stored: checked, its format derived from the media type when not
    declared."""
    if not isinstance(metadata.category, DocumentCategory):
        raise InvalidArgumentError("unknown document category")
    if len(metadata.title) > MAX_TITLE_LENGTH:
        raise InvalidArgumentError(f"title longer than {MAX_TITLE_LENGTH} characters")
    if len(metadata.media_type) > MAX_MEDIA_TYPE_LENGTH:
        raise InvalidArgumentError(f"media type longer than {MAX_MEDIA_TYPE_LENGTH} characters")
    if metadata.type_code:
        parse_type_code(metadata.type_code)
    if metadata.care_date is not None:
        care_us = to_us(metadata.care_date)
        if not MIN_CARE_DATE_US <= care_us <= now_us + CARE_DATE_SLACK_US:
            raise InvalidArgumentError("the date of care is in the future or before 1900")
    return replace(metadata, format=format_of(metadata.media_type, metadata.format))


MAX_FILTER_VALUES = 100


def validate_query(query: DocumentQuery) -> DocumentQuery:
    """A search's filters, checked: known values, well-formed codes, a date range the
    right way round."""
    if not query.statuses <= set(DocumentStatus):
        raise InvalidArgumentError("unknown document status")
    if not query.categories <= set(DocumentCategory):
        raise InvalidArgumentError("unknown document category")
    if max(len(query.categories), len(query.type_codes)) > MAX_FILTER_VALUES:
        raise InvalidArgumentError(f"at most {MAX_FILTER_VALUES} values per filter")
    for code in query.type_codes:
        parse_type_code(code)
    if query.author is not None:
        parse_rpps(query.author)
    if (
        query.care_from is not None
        and query.care_until is not None
        and query.care_from >= query.care_until
    ):
        raise InvalidArgumentError("the date range ends before it starts")
    return query


def _query_digest(query: DocumentQuery) -> bytes:
    """What a page token binds its query by: a digest of the filters, canonical."""
    canonical = json.dumps(
        [
            sorted(c.value for c in query.categories),
            sorted(query.type_codes),
            query.author,
            None if query.care_from is None else to_us(query.care_from),
            None if query.care_until is None else to_us(query.care_until),
            sorted(s.value for s in query.wanted_statuses),
            None if query.document_id is None else str(query.document_id),
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).digest()[:16]


def _author(actor: Actor) -> Author:
    """The author of what `actor` writes, as sealed with the metadata."""
    professional_id = actor.subject if actor.kind is ActorKind.PROFESSIONAL else ""
    return Author(actor.kind, professional_id, actor.profession, actor.specialty)


def _inherited(metadata: DocumentMetadata, replaced: VersionRecord) -> DocumentMetadata:
    """A new version's metadata: what the replaced version had in the clear fields the
    writer left out (its type code, its date of care)."""
    care_us = replaced.care_us if metadata.care_date is None else to_us(metadata.care_date)
    return replace(
        metadata,
        type_code=metadata.type_code or replaced.type_code,
        care_date=None if care_us is None else from_us(care_us),
    )


def _next_version(
    replaced: VersionRecord,
    replaces: Replacement,
    metadata: DocumentMetadata,
    visibility: Visibility,
    now_us: int,
) -> VersionRecord:
    """The version that replaces `replaced`: same document, category, visibility and
    author, the next number. The caller names the version it replaces, so that a
    replacement never silently overtakes one it has not seen."""
    if replaces.version != replaced.version:
        raise ConflictError("the document has a newer version than the one replaced")
    if metadata.category is not replaced.category:
        raise InvalidArgumentError("a new version keeps its document's category")
    if visibility not in (Visibility.NORMAL, replaced.visibility):
        raise InvalidArgumentError(
            "a new version keeps its document's visibility: change it separately"
        )
    return replace(
        replaced,
        version=replaced.version + 1,
        created_us=now_us,
        latest_version=0,
        size=0,
        ciphertext_size=0,
        wrapped_key=b"",
        sealed_metadata=b"",
    )


class _Lease:
    """An upload's hold on its version number, from its start (`record.created_us`):
    renewed as chunks arrive once a quarter of it has run, so that only an upload that
    stopped sending for three quarters of a lease or more can lose its reservation (to
    the next upload of that number)."""

    def __init__(
        self, index: Index, record: VersionRecord, length_us: int, now_us: Callable[[], int]
    ) -> None:
        self._index = index
        self._record = record
        self._length_us = length_us
        self._now_us = now_us
        self.first_until_us = record.created_us + length_us  # what the reservation records
        self._renew_from_us = record.created_us + length_us // 4

    def due(self) -> bool:
        return self._now_us() >= self._renew_from_us

    def renew(self) -> None:
        """Pushes the lease one length ahead; ConflictError if the reservation is gone."""
        now_us = self._now_us()
        if not self._index.renew_reservation(self._record, now_us + self._length_us):
            raise ConflictError(
                "the upload's reservation lapsed and another upload took its version"
            )
        self._renew_from_us = now_us + self._length_us // 4


class Upload:
    """A document being written: `write` chunks, then `commit` with the size and SHA-256
    the client computed (or `abort`).

    Created by `Vault.begin_upload` once the decision is made and the blob writer open.
    Two background jobs run while the chunks stream in: `prepared` seals the document
    key and records the pending version row, then `journaled` writes the decision's
    journal entry (after it, as both write to the database and the row is needed first).
    `commit` waits for the row before it commits the blob, and for the entry (which had
    the blob's upload to finish) before it makes the version visible: the write order of
    docs/architecture.md. While chunks arrive, `write` renews the row's lease. Nothing is
    visible until `commit` returns; memory holds about two segments. After `commit` or
    `abort` the upload is spent: `abort` becomes a no-op."""

    def __init__(
        self,
        index: Index,
        writer: BlobWriter,
        record: VersionRecord,
        lease: _Lease,
        journaled: Future[None],
        prepared: Future[_Prepared],
        document_key: bytes,
        metadata: DocumentMetadata,
        author: Author,
        segment_size: int,
    ) -> None:
        self._index = index
        self._writer = writer
        self._record = record
        self._lease = lease
        self._journaled = journaled
        self._prepared = prepared
        self._metadata = metadata
        self._author = author
        self._digest = hashlib.sha256()
        self._open = True
        ref = ObjectRef(
            record.dossier_id, record.document_id, record.version, record.dossier_key_version
        )
        self._encryptor = ObjectEncryptor(
            document_key, ref, writer.write, segment_size=segment_size
        )

    def write(self, chunk: bytes) -> None:
        if not self._open:
            raise FailedPreconditionError("the upload is finished")
        self._keep_reservation()
        self._digest.update(chunk)
        self._encryptor.write(chunk)

    def _keep_reservation(self) -> None:
        if self._lease.due():
            self._prepared.result()  # the row is reserved (or its failure raised here)
            self._lease.renew()

    def commit(self, expected_size: int, expected_sha256: bytes) -> Document:
        """Stores the document if what arrived is what the client says it sent."""
        if not self._open:
            raise FailedPreconditionError("the upload is finished")
        if (self._encryptor.plaintext_size, self._digest.digest()) != (
            expected_size,
            expected_sha256,
        ):
            raise IntegrityError("the content received does not match its size and digest")
        self._encryptor.close()
        prepared = self._prepared.result()  # the pending row is recorded
        self._keep_reservation()  # through the wait for the last parts and the entry
        if self._journaled.done():
            self._journaled.result()  # an entry that failed already: commit nothing
        self._writer.commit()
        self._open = False
        self._journaled.result()  # the decision is journaled (before the version is visible)
        digest = self._digest.digest()
        record = replace(
            prepared.record,
            size=self._encryptor.plaintext_size,
            ciphertext_size=self._encryptor.ciphertext_size,
            sealed_metadata=secrets.seal_metadata(
                prepared.dossier_key, prepared.record, self._metadata, digest, self._author
            ),
        )
        self._index.commit_version(record)
        return secrets.document(record, self._metadata, digest, self._author)

    def abort(self) -> None:
        """Discards the blob and the pending row; does nothing once committed or aborted."""
        if self._open:
            self._open = False
            self._writer.abort()
            _discard_pending(self._index, self._record, self._journaled, self._prepared)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What an upload records in the background: its pending row, and the dossier key
    that seals its document key and metadata."""

    record: VersionRecord
    dossier_key: bytes


def _after(job: Future[Any], then: Callable[[], None]) -> None:
    """Runs `then` once `job` has ended, whatever its outcome (`job` was submitted first:
    it is already running, so this never waits for a free worker)."""
    wait([job])
    then()


def _discard_pending(index: Index, record: VersionRecord, *jobs: Future[Any]) -> None:
    """Waits for an upload's background jobs to end, then removes its pending row if
    there is one (they may have failed before recording it, or after)."""
    for job in jobs:
        with contextlib.suppress(Exception):  # its error is moot: the upload is abandoned
            job.result()
    index.discard_version(record)


def _read_ahead(chunks: Generator[bytes, None, None]) -> Generator[bytes, None, None]:
    """`chunks` with its first item already read (a failure to read it is raised at the
    first iteration, where it would have been); closing the result closes `chunks`."""
    ahead = _ahead(chunks)
    next(ahead)
    return ahead


def _ahead(chunks: Generator[bytes, None, None]) -> Generator[bytes, None, None]:
    try:
        failure: Exception | None = None
        first: bytes | None = None
        try:
            first = next(chunks, None)
        except Exception as error:  # raised below, once someone asks for the data
            failure = error
        yield b""  # primed: `_read_ahead` stops here
        if failure is not None:
            raise failure
        if first is not None:
            yield first
            yield from chunks
    finally:
        chunks.close()


_Opened = tuple[Document, Generator[bytes, None, None]]


class _Opening:
    """A document's object being opened in the background while the read is journaled;
    on an error (the journal failed), what was opened is closed unread."""

    def __init__(self) -> None:
        self._future: Future[_Opened] | None = None

    def start(self, future: Future[_Opened]) -> None:
        self._future = future

    def result(self) -> _Opened:
        assert self._future is not None, "no document was opened"
        return self._future.result()

    def __enter__(self) -> _Opening:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None and self._future is not None:
            with contextlib.suppress(Exception):  # its error is moot: the read is refused
                self._future.result()[1].close()


class Vault:
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
    ) -> None:
        self._index = index
        self._blobs = blobs
        self._keys = keys
        self._journal = journal
        self._journal_log = journal_log
        self._clock = clock
        self._segment_size = segment_size
        self._matrix = matrix
        self._rules = rules
        if upload_lease <= timedelta(0):
            raise ValueError("the upload lease must be positive")
        self._upload_lease_us = upload_lease // timedelta(microseconds=1)
        self._tokens = PageTokens(keys)
        # overlaps a request's journal append with its other work (uploads, reads)
        self._background = ThreadPoolExecutor(_BACKGROUND_WORKERS, "vault-overlap")

    # -- journal -------------------------------------------------------------------

    def _append(
        self,
        actor: Actor | None,
        action: Action,
        call: Call,
        access: _Access,
        decision: str,
        reason: str,
    ) -> None:
        written = self._journal.append(
            JournalEvent(
                time_us=to_us(self._clock.now()),
                actor_kind=actor.kind.value if actor else "anonymous",
                actor_ref=self._actor_ref(actor),
                actor_profession=actor.profession if actor else None,
                action=action.value,
                dossier=str(access.dossier) if access.dossier else None,
                documents=tuple(str(d) for d in access.documents),
                decision=decision,
                reason=reason,
                emergency=access.decision is not None and access.decision.emergency,
                request_id=call.request_id,
            )
        )
        access.journal_seq = written.seq
        call.journaled = True

    @contextlib.contextmanager
    def _journaled(self, actor: Actor, action: Action, call: Call) -> Iterator[_Access]:
        """Runs one decision; journals it as allowed on exit, or as denied on error. A
        use case that changes something applies the change after the block, once the
        allow entry is written (ADR 0003)."""
        with self._refusal_journaled(actor, action, call) as access:
            yield access
        self._journal_allowed(actor, action, call, access)

    @contextlib.contextmanager
    def _refusal_journaled(self, actor: Actor, action: Action, call: Call) -> Iterator[_Access]:
        """Runs one decision and journals it if denied; an allowed one is the caller's to
        journal (`_journal_allowed`) before any visible effect."""
        access = _Access(self._matrix, call)
        try:
            yield access
        except Exception as error:  # any failure is a refusal, and is journaled as one
            reason = access.refusal.value if access.refusal else _refusal_reason(error)
            self._append(actor, action, call, access, "deny", reason)
            raise

    def _journal_allowed(self, actor: Actor, action: Action, call: Call, access: _Access) -> None:
        if access.decision is None:
            raise AssertionError("a use case ended without a policy decision")
        self._append(actor, action, call, access, "allow", access.decision.reason.value)

    def record_refusal(
        self, actor: Actor | None, action: Action, call: Call, error: Exception
    ) -> None:
        """Journals a request the edge refused before the service decided (bad token,
        malformed message); does nothing if the request is journaled already."""
        if not call.journaled:
            refusal = _Access(self._matrix)
            with contextlib.suppress(InvalidArgumentError):
                refusal.dossier = parse_id(call.dossier, "dossier id") if call.dossier else None
            self._append(actor, action, call, refusal, "deny", _refusal_reason(error))

    # -- identities ----------------------------------------------------------------

    def _patient_index(self, ins: Ins) -> bytes:
        return self._keys.blind_index(b"DVLT/v1/ins\x00" + ins.value.encode())

    def _actor_patient_index(self, actor: Actor) -> bytes | None:
        """The blind index of the actor's INS, for a patient (the dossier's holder)."""
        if actor.kind is not ActorKind.PATIENT:
            return None
        return self._patient_index(parse_ins(actor.subject))

    def _actor_ref(self, actor: Actor | None) -> str:
        """How the journal names an actor: whoever is identified by an INS (a patient, a
        legal representative) appears only as its blind index, never the INS itself."""
        if actor is None:
            return "-"
        if actor.kind in INS_SUBJECT_KINDS:
            return self._ins_ref(parse_ins(actor.subject))
        return actor.subject

    def _ins_ref(self, ins: Ins) -> str:
        return f"ins-hmac:{self._patient_index(ins).hex()}"

    def _standing(self, actor: Actor, dossier: DossierRecord) -> Standing:
        """What the dossier records about the actor."""
        if actor.kind is ActorKind.PATIENT:
            holder = self._actor_patient_index(actor) == dossier.patient_index
            return Standing(holder=holder, emergency_refused=dossier.emergency_refused)
        if actor.kind not in (ActorKind.PROFESSIONAL, ActorKind.LEGAL_REPRESENTATIVE):
            return Standing()
        found = {
            r.relation: r
            for r in self._index.relationships(dossier.dossier_id, self._actor_ref(actor))
        }

        def until(relation: Relation) -> int | None:
            entry = found.get(relation)
            return None if entry is None else entry.expires_us

        return Standing(
            representative=Relation.REPRESENTATIVE in found,
            treating_physician=Relation.TREATING in found,
            authorised_until_us=until(Relation.AUTHORISED),
            blocked=Relation.BLOCKED in found,
            emergency_until_us=until(Relation.EMERGENCY),
            emergency_refused=dossier.emergency_refused,
            seen=Relation.SEEN in found,
        )

    def _facts(
        self,
        actor: Actor,
        action: Action,
        dossier: DossierRecord,
        document: DocumentFacts | None = None,
    ) -> Facts:
        return Facts(
            actor.kind,
            action,
            dossier.state,
            self._standing(actor, dossier),
            self._now_us(),
            actor.profession,
            actor.specialty,
            document,
        )

    def _now_us(self) -> int:
        return to_us(self._clock.now())

    def _dossier(self, dossier_text: str, access: _Access) -> DossierRecord:
        dossier_id = parse_id(dossier_text, "dossier id")
        access.dossier = dossier_id
        record = self._index.dossier(dossier_id)
        if record is None:
            raise NotFoundError("no such dossier")
        return record

    def _visible_version(
        self,
        actor: Actor,
        action: Action,
        dossier: DossierRecord,
        access: _Access,
        version: int | None = None,
        new_visibility: Visibility | None = None,
    ) -> VersionRecord:
        """The version of `access.documents[0]` if the caller may reach it: the dossier is
        decided first (a stranger learns nothing), then the document (a hidden one is
        NOT_FOUND, like a missing one)."""
        facts = self._facts(actor, action, dossier)
        access.require(facts)
        record = self._index.version(dossier.dossier_id, access.documents[0], version)
        if record is None:
            raise NotFoundError("no such document")
        authored = record.author == self._actor_ref(actor)
        document = DocumentFacts(record.category, record.visibility, authored, new_visibility)
        access.require(replace(facts, document=document))
        return record

    def _notify_first_access(self, actor: Actor, dossier: DossierRecord, call: Call) -> None:
        """Tells the patient the first time each professional reaches the dossier's
        documents. Queued before the access is journaled and anything released: a crash
        in between may notify an access that did not happen, never miss one.

        Nothing is written when the decision's standing says the professional was seen
        already (the common case: no write transaction), nor for a request about one
        document the patient side may not see (hidden from the patient or from
        representatives): the notice would reveal that care; a later visible access
        sends it."""
        facts = call.allowed
        if actor.kind is not ActorKind.PROFESSIONAL or facts is None or facts.standing.seen:
            return
        if facts.document is not None and facts.document.visibility & _HIDDEN_FROM_PATIENT_SIDE:
            return
        now_us = self._now_us()
        seen = Relationship(dossier.dossier_id, Relation.SEEN, actor.subject, now_us)
        notice = Notification(
            dossier.dossier_id,
            NotificationKind.FIRST_ACCESS,
            actor.subject,
            now_us,
            call.request_id,
            actor.profession,
        )
        self._index.notify(notice, seen)

    # -- keys and metadata -----------------------------------------------------------

    def _dossier_key(self, dossier_id: uuid.UUID, version: int) -> bytes:
        return unwrap_dossier_key(self._index, self._keys, dossier_id, version)

    # -- page tokens -----------------------------------------------------------------

    def _document_page_token(
        self, dossier_id: uuid.UUID, query: DocumentQuery, cursor: Cursor
    ) -> str:
        return self._tokens.seal(
            _DOCUMENT_CURSOR.pack(
                _DOCUMENT_PURPOSE,
                dossier_id.bytes,
                _query_digest(query),
                cursor.created_us,
                cursor.document_id.bytes,
                cursor.version,
            )
        )

    def _document_cursor(
        self, dossier_id: uuid.UUID, query: DocumentQuery, token: str
    ) -> Cursor | None:
        if not token:
            return None
        payload = self._tokens.open(token, _DOCUMENT_CURSOR.size, _DOCUMENT_PURPOSE)
        _, dossier, digest, created_us, document, version = _DOCUMENT_CURSOR.unpack(payload)
        if (dossier, digest) != (dossier_id.bytes, _query_digest(query)):
            raise InvalidArgumentError("page token belongs to another query")
        return Cursor(created_us, uuid.UUID(bytes=document), version)

    @staticmethod
    def _page_limit(page_size: int | None) -> int:
        if page_size is None:
            return DEFAULT_PAGE_SIZE
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidArgumentError(
                f"page size must be 1 to {MAX_PAGE_SIZE} (unset: {DEFAULT_PAGE_SIZE})"
            )
        return page_size

    # -- use cases -------------------------------------------------------------------

    def create_dossier(self, actor: Actor, ins_text: str, call: Call) -> Dossier:
        with self._journaled(actor, Action.DOSSIER_CREATE, call) as access:
            patient_index = self._patient_index(parse_ins(ins_text))
            is_holder = self._actor_patient_index(actor) == patient_index
            access.require(
                Facts(actor.kind, Action.DOSSIER_CREATE, None, Standing(holder=is_holder))
            )
            if self._index.dossier_by_patient(patient_index) is not None:
                raise AlreadyExistsError("this patient already has a dossier")
            now_us = self._now_us()
            record = DossierRecord(new_id(now_us // 1000), patient_index, now_us, key_version=1)
            access.dossier = record.dossier_id
        context = sealed.dossier_key_context(record.dossier_id, 1)
        wrapped = self._keys.wrap(os.urandom(sealed.KEY_SIZE), context)
        self._index.add_dossier(record, DossierKeyRecord(record.dossier_id, 1, wrapped))
        return _dossier_view(record)

    def get_dossier(
        self, actor: Actor, call: Call, *, dossier_id: str = "", ins: str = ""
    ) -> Dossier:
        """Finds a dossier by opaque id, or by its holder's INS."""
        with self._journaled(actor, Action.DOSSIER_READ, call) as access:
            if ins:
                record = self._dossier_of_patient(actor, ins, access)
            elif dossier_id:
                record = self._dossier(dossier_id, access)
                access.require(self._facts(actor, Action.DOSSIER_READ, record))
            else:
                raise InvalidArgumentError("give a dossier id or an INS")
        return _dossier_view(record)

    def _dossier_of_patient(self, actor: Actor, ins: str, access: _Access) -> DossierRecord:
        """The dossier of the holder of `ins`, if the caller may see it. Any refusal is
        NOT_FOUND, exactly like a missing dossier (the journal keeps the real reason): an
        INS must not tell a caller whether that person has a dossier."""
        patient_index = self._patient_index(parse_ins(ins))
        someone_else = self._actor_patient_index(actor) not in (None, patient_index)
        try:
            if someone_else:  # a patient is refused before looking: no lookup of others
                access.require(Facts(actor.kind, Action.DOSSIER_READ, None))
            record = self._index.dossier_by_patient(patient_index)
            if record is None:
                raise NotFoundError("no such dossier")
            access.dossier = record.dossier_id
            access.require(self._facts(actor, Action.DOSSIER_READ, record))
        except PermissionDeniedError:
            raise NotFoundError("no such dossier") from None
        return record

    def begin_upload(
        self,
        actor: Actor,
        dossier_id: str,
        metadata: DocumentMetadata,
        call: Call,
        visibility: Visibility = Visibility.NORMAL,
        replaces: Replacement | None = None,
    ) -> Upload:
        """Starts writing a new document, or a new version of one (`replaces`); the caller
        streams into the returned Upload.

        Only the decision is made here: its journal entry, and the sealed document key
        and pending version row, are recorded in the background while the first chunks
        arrive (`Upload.commit` waits for them before anything becomes visible)."""
        action = Action.DOCUMENT_WRITE if replaces is None else Action.DOCUMENT_REPLACE
        with self._refusal_journaled(actor, action, call) as access:
            dossier = self._dossier(dossier_id, access)
            now_us = self._now_us()
            metadata = validate_metadata(metadata, now_us)
            if replaces is None:
                record = self._new_document(actor, dossier, metadata, visibility, access, now_us)
            else:
                access.documents = (parse_id(replaces.document_id, "document id"),)
                replaced = self._visible_version(actor, action, dossier, access)
                metadata = _inherited(metadata, replaced)
                record = _next_version(replaced, replaces, metadata, visibility, now_us)
            self._notify_first_access(actor, dossier, call)
        record = replace(
            record,
            blob_key=new_object_key(),
            dossier_key_version=dossier.key_version,
            type_code=metadata.type_code,
            care_us=None if metadata.care_date is None else to_us(metadata.care_date),
        )
        document_key = os.urandom(sealed.KEY_SIZE)
        lease = _Lease(self._index, record, self._upload_lease_us, self._now_us)
        prepared = self._background.submit(
            self._prepare_upload, record, document_key, lease.first_until_us
        )
        allowed = functools.partial(self._journal_allowed, actor, action, call, access)
        journaled = self._background.submit(_after, prepared, allowed)
        try:
            writer = self._blobs.create(record.blob_key)
        except BaseException:
            _discard_pending(self._index, record, journaled, prepared)
            raise
        return Upload(
            self._index,
            writer,
            record,
            lease,
            journaled,
            prepared,
            document_key,
            metadata,
            _author(actor),
            self._segment_size,
        )

    def _new_document(
        self,
        actor: Actor,
        dossier: DossierRecord,
        metadata: DocumentMetadata,
        visibility: Visibility,
        access: _Access,
        now_us: int,
    ) -> VersionRecord:
        """The first version of a new document, if the caller may write it."""
        new = DocumentFacts(metadata.category, visibility)
        access.require(self._facts(actor, Action.DOCUMENT_WRITE, dossier, new))
        document_id = new_id(now_us // 1000)
        access.documents = (document_id,)
        return VersionRecord(
            dossier_id=dossier.dossier_id,
            document_id=document_id,
            version=1,
            category=metadata.category,
            created_us=now_us,
            blob_key="",
            dossier_key_version=0,
            wrapped_key=b"",
            sealed_metadata=b"",
            visibility=visibility,
            author=self._actor_ref(actor),
            document_created_us=now_us,
        )

    def _prepare_upload(
        self, record: VersionRecord, document_key: bytes, lease_until_us: int
    ) -> _Prepared:
        """Seals the document key under the dossier key; records the pending version row."""
        dossier_key = self._dossier_key(record.dossier_id, record.dossier_key_version)
        record = replace(
            record, wrapped_key=secrets.wrap_document_key(dossier_key, record, document_key)
        )
        self._index.reserve_version(record, lease_until_us)
        return _Prepared(record, dossier_key)

    def open_document(
        self,
        actor: Actor,
        dossier_id: str,
        document_id: str,
        version: int | None,
        call: Call,
        *,
        offset: int = 0,
        length: int | None = None,
    ) -> tuple[Document, Generator[bytes, None, None]]:
        """The document's metadata and its plaintext (or a byte range of it), segment by
        segment, each authenticated before it is released.

        The keys, the metadata and the first segment are read in the background while
        the decision is journaled; nothing is returned before the entry is durable."""
        opening = _Opening()
        with opening, self._journaled(actor, Action.DOCUMENT_READ, call) as access:
            dossier = self._dossier(dossier_id, access)
            document_uuid = parse_id(document_id, "document id")
            access.documents = (document_uuid,)
            record = self._visible_version(actor, Action.DOCUMENT_READ, dossier, access, version)
            self._notify_first_access(actor, dossier, call)
            if offset > record.size:
                raise OutOfRangeError("the range starts past the end of the document")
            opening.start(self._background.submit(self._open_version, record, offset, length))
        return opening.result()

    def _open_version(self, record: VersionRecord, offset: int, length: int | None) -> _Opened:
        dossier_key = self._dossier_key(record.dossier_id, record.dossier_key_version)
        document = secrets.open_metadata(dossier_key, record)
        document_key = secrets.unwrap_document_key(dossier_key, record)
        ref = ObjectRef(
            record.dossier_id, record.document_id, record.version, record.dossier_key_version
        )
        if offset == 0 and length is None:
            chunks = self._plaintext(record, document_key)
        else:
            chunks = self._plaintext_range(record, document_key, ref, offset, length)
        return document, _read_ahead(chunks)

    def _plaintext(
        self, record: VersionRecord, document_key: bytes
    ) -> Generator[bytes, None, None]:
        """The whole plaintext, one new `bytes` per segment (the object's recorded size
        says which segment is last: no read-ahead)."""
        reader = self._blobs.open(record.blob_key)
        try:
            yield from decrypt_segments(document_key, _ref(record), reader, record.ciphertext_size)
        finally:
            reader.close()

    def _plaintext_range(
        self,
        record: VersionRecord,
        document_key: bytes,
        ref: ObjectRef,
        offset: int,
        length: int | None,
    ) -> Generator[bytes, None, None]:
        readers: list[BlobReader] = []

        def open_at(at: int, size: int) -> Callable[[int], bytes]:
            readers.append(self._blobs.open(record.blob_key, at, size))
            return readers[-1].read

        try:
            yield from decrypt_range(
                document_key, ref, open_at, record.ciphertext_size, offset, length
            )
        finally:
            for reader in readers:
                reader.close()

    def list_documents(
        self,
        actor: Actor,
        dossier_id: str,
        query: DocumentQuery,
        page_size: int | None,
        page_token: str,
        call: Call,
    ) -> DocumentPage:
        """One page of the dossier's document versions that `query` keeps (by default
        each document at its latest version), newest first."""
        with self._journaled(actor, Action.DOCUMENT_LIST, call) as access:
            dossier = self._dossier(dossier_id, access)
            decision = access.require(self._facts(actor, Action.DOCUMENT_LIST, dossier))
            query = validate_query(query)
            limit = self._page_limit(page_size)
            cursor = self._document_cursor(dossier.dossier_id, query, page_token)
            records = self._index.search(
                dossier.dossier_id, decision.scope, query, limit + 1, cursor
            )
            page, more = records[:limit], len(records) > limit
            access.documents = tuple(dict.fromkeys(r.document_id for r in page))
            self._notify_first_access(actor, dossier, call)
        next_token = ""
        if more:
            next_token = self._document_page_token(
                dossier.dossier_id, query, Cursor.after(page[-1])
            )
        keys: dict[int, bytes] = {}
        documents = []
        for record in page:
            version = record.dossier_key_version
            if version not in keys:
                keys[version] = self._dossier_key(record.dossier_id, version)
            documents.append(secrets.open_metadata(keys[version], record))
        return DocumentPage(tuple(documents), next_token)

    def count_documents(
        self, actor: Actor, dossier_id: str, call: Call
    ) -> dict[DocumentCategory, int]:
        """How many documents the caller may see in each category (a summary screen);
        hidden documents are not counted."""
        with self._journaled(actor, Action.DOCUMENT_LIST, call) as access:
            dossier = self._dossier(dossier_id, access)
            decision = access.require(self._facts(actor, Action.DOCUMENT_LIST, dossier))
            counts = self._index.category_counts(dossier.dossier_id, decision.scope)
            self._notify_first_access(actor, dossier, call)
        return counts

    def delete_document(self, actor: Actor, dossier_id: str, document_id: str, call: Call) -> None:
        """The patient side removes a document, every version of it, for good."""
        with self._journaled(actor, Action.DOCUMENT_DELETE, call) as access:
            dossier = self._dossier(dossier_id, access)
            access.documents = (parse_id(document_id, "document id"),)
            self._visible_version(actor, Action.DOCUMENT_DELETE, dossier, access)
        for blob_key in self._index.delete_document(dossier.dossier_id, access.documents[0]):
            self._blobs.delete(blob_key)  # after a crash here, the sweeper finds the orphan

    def set_visibility(
        self,
        actor: Actor,
        dossier_id: str,
        document_id: str,
        visibility: Visibility,
        call: Call,
    ) -> Document:
        """Changes a document's visibility codes: a new metadata version, recorded once the
        decision is journaled."""
        with self._journaled(actor, Action.DOCUMENT_VISIBILITY, call) as access:
            dossier = self._dossier(dossier_id, access)
            access.documents = (parse_id(document_id, "document id"),)
            record = self._visible_version(
                actor, Action.DOCUMENT_VISIBILITY, dossier, access, new_visibility=visibility
            )
        if not self._index.set_visibility(
            record, visibility, self._now_us(), self._actor_ref(actor)
        ):
            # allowed and journaled, then overtaken by a concurrent change: nothing changed
            raise ConflictError("the document changed meanwhile; try again")
        dossier_key = self._dossier_key(record.dossier_id, record.dossier_key_version)
        return secrets.open_metadata(dossier_key, replace(record, visibility=visibility))

    # -- the lifecycle ---------------------------------------------------------------------

    def close_dossier(
        self, actor: Actor, dossier_id: str, reason: ClosureReason, call: Call
    ) -> Dossier:
        """The patient side asks for closure; the national insurer declares a death or an
        uncontested suspension. Nobody reaches the documents until a reopening."""
        patient = reason is ClosureReason.PATIENT_REQUEST
        action = Action.DOSSIER_CLOSE if patient else Action.DOSSIER_CLOSE_DECLARED
        with self._journaled(actor, action, call) as access:
            dossier = self._dossier(dossier_id, access)
            if reason is ClosureReason.DELETION_REQUEST:
                raise InvalidArgumentError("a deletion is requested, not declared as a closure")
            access.require(self._facts(actor, action, dossier))
            new = lifecycle.close(dossier.lifecycle, self._now_us(), reason, self._rules)
        self._move(dossier, new)
        return _dossier_view(replace(dossier, lifecycle=new))

    def reopen_dossier(self, actor: Actor, dossier_id: str, call: Call) -> Dossier:
        """The patient side reopens a closed dossier within its conservation period."""
        with self._on_dossier(actor, dossier_id, Action.DOSSIER_REOPEN, call) as dossier:
            new = lifecycle.reopen(dossier.lifecycle, self._now_us())
        self._move(dossier, new)
        return _dossier_view(replace(dossier, lifecycle=new))

    def request_deletion(self, actor: Actor, dossier_id: str, call: Call) -> Dossier:
        """The patient side asks for early destruction: closed now, destroyed by the next
        retention run (the law allows three months)."""
        with self._on_dossier(actor, dossier_id, Action.DOSSIER_DELETION_REQUEST, call) as dossier:
            new = lifecycle.request_deletion(dossier.lifecycle, self._now_us())
        self._move(dossier, new)
        return _dossier_view(replace(dossier, lifecycle=new))

    def _move(self, dossier: DossierRecord, new: lifecycle.Lifecycle) -> None:
        """Applies a journaled lifecycle transition, unless a concurrent one overtook it."""
        if not self._index.set_lifecycle(dossier.dossier_id, dossier.lifecycle, new):
            raise FailedPreconditionError("the dossier changed meanwhile; try again")

    def place_hold(self, actor: Actor, dossier_id: str, reason: str, call: Call) -> LegalHold:
        """An operator places a legal hold: the dossier is never destroyed while it holds."""
        with self._on_dossier(actor, dossier_id, Action.DOSSIER_HOLD, call) as dossier:
            placed_by, reason = self._actor_ref(actor), _hold_reason(reason)
            if self._index.destruction(dossier.dossier_id) is not None:
                raise FailedPreconditionError("the dossier's destruction has begun")
            hold = LegalHold(0, dossier.dossier_id, self._now_us(), placed_by, reason)
        hold_id = self._index.add_hold(hold)
        if not hold_id:  # a destruction began since the decision
            raise FailedPreconditionError("the dossier's destruction has begun")
        return replace(hold, hold_id=hold_id)

    def release_hold(
        self, actor: Actor, dossier_id: str, hold_id: int, reason: str, call: Call
    ) -> None:
        """An operator releases a legal hold in force, saying why."""
        with self._on_dossier(actor, dossier_id, Action.DOSSIER_RELEASE, call) as dossier:
            reason = _hold_reason(reason)
            in_force = (h for h in self._index.holds(dossier.dossier_id) if h.released_us is None)
            if not any(h.hold_id == hold_id for h in in_force):
                raise NotFoundError("no such hold in force on this dossier")
            released_by, now_us = self._actor_ref(actor), self._now_us()
            hold = LegalHold(hold_id, dossier.dossier_id, 0, "", "", now_us, released_by, reason)
        if not self._index.release_hold(hold):  # released by someone else since the decision
            raise NotFoundError("no such hold in force on this dossier")

    def export_dossier(self, actor: Actor, dossier_id: str, call: Call) -> Iterator[bytes]:
        """The patient's copy (docs/format.md, "Patient copy archive v2"): every version
        of every document the patient side may see, decrypted, with its metadata and the
        access history, streamed in constant memory. One journal entry names every
        document exported."""
        with self._journaled(actor, Action.DOSSIER_EXPORT, call) as access:
            dossier = self._dossier(dossier_id, access)
            decision = access.require(self._facts(actor, Action.DOSSIER_EXPORT, dossier))
            records = self._all_versions_in(dossier.dossier_id, decision.scope)
            hidden = self._index.documents_outside(dossier.dossier_id, decision.scope)
            access.documents = tuple(dict.fromkeys(r.document_id for r in records))
        now = self._clock.now()
        dossier_key = functools.cache(functools.partial(self._dossier_key, dossier.dossier_id))
        opened = {
            (r.document_id, r.version): (
                secrets.open_metadata(dossier_key(r.dossier_key_version), r),
                r,
            )
            for r in records
        }

        def read(document: Document) -> Iterator[bytes]:
            """A document's plaintext; its key is unwrapped when its turn comes."""
            _, record = opened[document.document_id, document.version]
            key = secrets.unwrap_document_key(dossier_key(record.dossier_key_version), record)
            return self._plaintext(record, key)

        history = self._history(dossier.dossier_id, hidden, access.journal_seq)
        view = _dossier_view(dossier)
        documents = [document for document, _ in opened.values()]
        return build_archive(view, documents, read, history, now)

    def _all_versions_in(self, dossier_id: uuid.UUID, scope: Scope) -> list[VersionRecord]:
        records: list[VersionRecord] = []
        cursor: Cursor | None = None
        every = DocumentQuery(statuses=frozenset(DocumentStatus))
        while page := self._index.search(dossier_id, scope, every, MAX_PAGE_SIZE, cursor):
            records += page
            cursor = Cursor.after(page[-1])
        return records

    def _history(
        self, dossier_id: uuid.UUID, hidden: set[uuid.UUID], last_seq: int
    ) -> Iterator[dict[str, object]]:
        """The dossier's journal entries up to `last_seq` (the export's own), oldest
        first, as the patient side may see them: hidden documents' ids redacted."""
        where = EntryFilter(dossier=str(dossier_id))
        while page := self._journal_log.query(where, MAX_PAGE_SIZE):
            for entry in page:
                if entry.seq > last_seq:
                    return
                yield {"seq": entry.seq, **dataclasses.asdict(_redacted(entry, hidden).event)}
            where = replace(where, after_seq=page[-1].seq)

    # -- who may access a dossier ----------------------------------------------------------

    @contextlib.contextmanager
    def _on_dossier(
        self, actor: Actor, dossier_id: str, action: Action, call: Call
    ) -> Iterator[DossierRecord]:
        """Decides one request about a dossier as a whole and yields the dossier.

        Inside the block the use case only decides: it parses its arguments, checks its
        preconditions and works out the change. The allow entry is written when the block
        ends; the change is applied after the block, never inside it (ADR 0003: no effect
        before its journal entry). A refusal in the block is journaled as a denial."""
        with self._journaled(actor, action, call) as access:
            dossier = self._dossier(dossier_id, access)
            access.require(self._facts(actor, action, dossier))
            yield dossier

    def authorise(self, actor: Actor, dossier_id: str, rpps: str, call: Call) -> Relationship:
        """The patient side authorises a professional for a year (again: renews)."""
        with self._on_dossier(actor, dossier_id, Action.ACCESS_AUTHORISE, call) as dossier:
            subject, now_us = parse_rpps(rpps), self._now_us()
            entry = Relationship(
                dossier.dossier_id,
                Relation.AUTHORISED,
                subject,
                now_us,
                now_us + AUTHORISATION_LIFETIME_US,
            )
        self._index.set_relationship(entry, call.request_id, replacing=(Relation.BLOCKED,))
        return entry

    def record_consent(self, actor: Actor, dossier_id: str, call: Call) -> Relationship:
        """A professional records the patient's consent, given at a consultation."""
        with self._on_dossier(actor, dossier_id, Action.CONSENT_RECORD, call) as dossier:
            now_us = self._now_us()
            entry = Relationship(
                dossier.dossier_id,
                Relation.AUTHORISED,
                actor.subject,
                now_us,
                now_us + AUTHORISATION_LIFETIME_US,
                actor.profession,
            )
        self._index.set_relationship(entry, call.request_id)
        return entry

    def block(self, actor: Actor, dossier_id: str, rpps: str, call: Call) -> Relationship:
        """The patient side blocks a professional (any authorisation ends)."""
        with self._on_dossier(actor, dossier_id, Action.ACCESS_BLOCK, call) as dossier:
            subject = parse_rpps(rpps)
            if self._has(dossier, Relation.TREATING, subject):
                raise FailedPreconditionError("the treating physician cannot be blocked")
            entry = Relationship(dossier.dossier_id, Relation.BLOCKED, subject, self._now_us())
        self._index.set_relationship(entry, call.request_id, replacing=(Relation.AUTHORISED,))
        return entry

    def revoke(self, actor: Actor, dossier_id: str, rpps: str, call: Call) -> None:
        self._remove(
            actor,
            dossier_id,
            Action.ACCESS_REVOKE,
            Relation.AUTHORISED,
            lambda: parse_rpps(rpps),
            call,
        )

    def unblock(self, actor: Actor, dossier_id: str, rpps: str, call: Call) -> None:
        self._remove(
            actor,
            dossier_id,
            Action.ACCESS_UNBLOCK,
            Relation.BLOCKED,
            lambda: parse_rpps(rpps),
            call,
        )

    def add_representative(
        self, actor: Actor, dossier_id: str, ins: str, call: Call
    ) -> Relationship:
        with self._on_dossier(actor, dossier_id, Action.REPRESENTATIVE_ADD, call) as dossier:
            subject = self._ins_ref(parse_ins(ins))
            entry = Relationship(
                dossier.dossier_id, Relation.REPRESENTATIVE, subject, self._now_us()
            )
        self._index.set_relationship(entry, call.request_id)
        return entry

    def remove_representative(self, actor: Actor, dossier_id: str, ins: str, call: Call) -> None:
        self._remove(
            actor,
            dossier_id,
            Action.REPRESENTATIVE_REMOVE,
            Relation.REPRESENTATIVE,
            lambda: self._ins_ref(parse_ins(ins)),
            call,
        )

    def _remove(
        self,
        actor: Actor,
        dossier_id: str,
        action: Action,
        relation: Relation,
        subject_of: Callable[[], str],
        call: Call,
    ) -> None:
        """Ends one relation; NOT_FOUND (journaled as such) if there is none to end."""
        with self._on_dossier(actor, dossier_id, action, call) as dossier:
            subject = subject_of()
            if not self._has(dossier, relation, subject):
                raise NotFoundError(f"no such {relation.value} entry")
        self._index.remove_relationship(
            dossier.dossier_id, relation, subject, self._now_us(), call.request_id
        )

    def _has(self, dossier: DossierRecord, relation: Relation, subject: str) -> bool:
        entries = self._index.relationships(dossier.dossier_id, subject)
        return any(e.relation is relation for e in entries)

    def set_emergency_access(
        self, actor: Actor, dossier_id: str, allowed: bool, call: Call
    ) -> None:
        """The patient side allows or refuses break-the-glass access."""
        with self._on_dossier(actor, dossier_id, Action.EMERGENCY_SETTING, call) as dossier:
            pass  # the decision is all there is to check
        self._index.set_emergency_refused(dossier.dossier_id, not allowed)

    def set_treating_physician(
        self, actor: Actor, dossier_id: str, rpps: str | None, call: Call
    ) -> None:
        """The national insurer records the declared treating physician (None: none)."""
        with self._on_dossier(actor, dossier_id, Action.TREATING_PHYSICIAN_SET, call) as dossier:
            entry = None
            if rpps is not None:
                subject = parse_rpps(rpps)
                entry = Relationship(dossier.dossier_id, Relation.TREATING, subject, self._now_us())
        self._index.set_treating_physician(
            dossier.dossier_id, entry, self._now_us(), call.request_id
        )

    def break_glass(
        self, actor: Actor, dossier_id: str, reason: EmergencyReason, call: Call
    ) -> Relationship:
        """An emergency professional opens the dossier without authorisation for a short
        window; the patient is notified (in the same transaction as the window opens) and
        the journal flags it."""
        with self._on_dossier(actor, dossier_id, Action.BREAK_GLASS, call) as dossier:
            now_us = self._now_us()
            entry = Relationship(
                dossier.dossier_id,
                Relation.EMERGENCY,
                actor.subject,
                now_us,
                now_us + EMERGENCY_WINDOW_US,
                actor.profession,
                reason.value,
            )
            notice = Notification(
                dossier.dossier_id,
                NotificationKind.EMERGENCY_ACCESS,
                actor.subject,
                now_us,
                call.request_id,
                actor.profession,
                reason.value,
            )
        self._index.notify(notice, entry)
        return entry

    def list_access(self, actor: Actor, dossier_id: str, call: Call) -> AccessRules:
        """The patient side's view of who may (or may not) access the dossier."""
        with self._on_dossier(actor, dossier_id, Action.ACCESS_READ, call) as dossier:
            entries = self._index.relationships(dossier.dossier_id)
        shown = tuple(e for e in entries if e.relation is not Relation.SEEN)
        return AccessRules(shown, dossier.emergency_refused)

    def notifications(
        self, actor: Actor, dossier_id: str, after_id: int, page_size: int | None, call: Call
    ) -> list[Notification]:
        """The patient's notification outbox after `after_id`, oldest first."""
        with self._on_dossier(actor, dossier_id, Action.NOTIFICATIONS_READ, call) as dossier:
            limit = self._page_limit(page_size)
            if not 0 <= after_id <= MAX_NOTIFICATION_ID:
                raise InvalidArgumentError("after_id is not a notification id")
            found = self._index.notifications(dossier.dossier_id, after_id, limit)
        return found

    # -- the journal's read side ---------------------------------------------------------

    def export_journal(
        self,
        actor: Actor,
        call: Call,
        *,
        from_seq: int = 0,
        to_seq: int = 0,
        since_us: int | None = None,
        until_us: int | None = None,
    ) -> Generator[bytes, None, None]:
        """Auditors: export lines (entries and their checkpoints) for a range."""
        with self._journaled(actor, Action.JOURNAL_EXPORT, call) as access:
            access.require(Facts(actor.kind, Action.JOURNAL_EXPORT, None))
            if to_seq and from_seq > to_seq:
                raise InvalidArgumentError("from_seq is after to_seq")
            if since_us is not None and until_us is not None and since_us >= until_us:
                raise InvalidArgumentError("the time range is the wrong way round")
        first, last = max(from_seq, 1), to_seq or None
        checkpoints = dict(self._journal_log.checkpoints(first, last))
        entries = self._journal_log.entries(first, last, since_us=since_us, until_us=until_us)
        return export_lines(entries, checkpoints)

    def query_journal(
        self,
        actor: Actor,
        call: Call,
        where: EntryFilter,
        page_size: int | None,
        page_token: str,
    ) -> tuple[list[JournalEntry], str]:
        """A dossier's access history (its patient side, auditors), or auditors' filters.

        The patient side sees every entry, with the ids of documents hidden from it
        redacted. A query ends at the journal as it was at its first page (its own entry
        excluded): paging never chases the entries its own pages add."""
        with self._journaled(actor, Action.JOURNAL_READ, call) as access:
            hidden: set[uuid.UUID] = set()
            if where.dossier:
                dossier = self._dossier(where.dossier, access)
                where = replace(where, dossier=str(dossier.dossier_id))
                decision = access.require(self._facts(actor, Action.JOURNAL_READ, dossier))
                if decision.reason is not Reason.AUDITOR:
                    hidden = self._index.documents_outside(dossier.dossier_id, decision.scope)
            else:
                access.require(Facts(actor.kind, Action.JOURNAL_READ, None))
            limit = self._page_limit(page_size)
            scope = hashlib.sha256(repr(replace(where, after_seq=0)).encode()).digest()[:16]
            last_seq = 0  # first page: the journal's end, known once this entry is written
            if page_token:
                payload = self._tokens.open(page_token, _JOURNAL_CURSOR.size, _JOURNAL_PURPOSE)
                _, after_seq, last_seq, token_scope = _JOURNAL_CURSOR.unpack(payload)
                if token_scope != scope:
                    raise InvalidArgumentError("page token belongs to another query")
                where = replace(where, after_seq=after_seq)
            entries = self._journal_log.query(where, limit + 1)
        last_seq = last_seq or access.journal_seq - 1
        entries = [e for e in entries if e.seq <= last_seq]
        page, more = entries[:limit], len(entries) > limit
        token = ""
        if more:
            cursor = _JOURNAL_CURSOR.pack(_JOURNAL_PURPOSE, page[-1].seq, last_seq, scope)
            token = self._tokens.seal(cursor)
        return [_redacted(e, hidden) for e in page], token
