"""The decision gate every use case passes through: one request, one policy decision, one
journal entry.

`Gate.journaled` runs a decision and writes exactly one journal entry for the request,
allowed or denied, before any document byte or metadata is released: no journal, no
access. A use case that changes something decides inside the block and applies the change
after it, once the allow entry is written (ADR 0003); an upload journals its decision in
the background while its bytes stream in (`Gate.refusal_journaled`, docs/adr/0007).

The gate also owns what every decision needs: the facts the policy reads (the caller's
standing in the dossier, the document's visibility), the dossier named by the request,
how identities appear in the journal and the index (an INS only as its blind index), the
time, and the dossier keys.

It performs no use case and changes nothing but the journal and first-access notices:
the use cases are the other modules of this package.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from vault.crypto.dossierkeys import unwrap_dossier_key, unwrap_key_record
from vault.crypto.keyprovider import KeyProvider
from vault.crypto.objectformat import ObjectRef
from vault.domain import heirs
from vault.domain.clock import Clock, to_us
from vault.domain.identifiers import Ins, parse_ins
from vault.domain.ids import parse_id
from vault.domain.model import (
    INS_SUBJECT_KINDS,
    Actor,
    ActorKind,
    Notification,
    NotificationKind,
    Relation,
    Relationship,
    Visibility,
)
from vault.domain.policy import (
    AccessMatrix,
    Action,
    Decision,
    DocumentFacts,
    Facts,
    Reason,
    Standing,
    decide,
)
from vault.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
    VaultError,
)
from vault.index.base import (
    AccessIndex,
    DocumentIndex,
    DossierIndex,
    DossierKeyRecord,
    DossierRecord,
    HeirIndex,
    KeyIndex,
    NoticeIndex,
    ReadScope,
    VersionRecord,
)
from vault.index.births import BirthIndex, SealedBirth
from vault.index.overrides import OverrideIndex
from vault.index.receipts import ReceiptIndex
from vault.index.standing import Member, StandingIndex
from vault.journal.chain import JournalEvent
from vault.journal.store import JoiningJournal, JournalStore
from vault.observability import tracing
from vault.service.majorities import Majorities
from vault.service.receipts import is_holder
from vault.service.representation import end_lapsed_representation
from vault.service.standings import standing_of

_HIDDEN_FROM_PATIENT_SIDE = Visibility.HIDDEN_FROM_PATIENT | Visibility.HIDDEN_FROM_REPRESENTATIVES
_BLIND_INDEXES = 65_536  # INS -> blind index kept; about 200 bytes each

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


class GateIndex(
    ReadScope,
    DossierIndex,
    AccessIndex,
    DocumentIndex,
    KeyIndex,
    HeirIndex,
    OverrideIndex,
    BirthIndex,
    NoticeIndex,
    ReceiptIndex,  # the holder of a dossier destroyed at their request (receipts.py)
    StandingIndex,  # a professional's or representative's standing, in one read
    Protocol,
):
    """What the gate reads, in one scope a decision (`Gate.reads`): dossier, standing,
    version, keys; and writes: first-access notices, ends of lapsed representations."""


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
class Access:
    """What one request touched and what the policy said, filled in as the use case
    learns it."""

    matrix: AccessMatrix
    call: Call | None = None
    dossier: uuid.UUID | None = None
    documents: tuple[uuid.UUID, ...] = ()
    document_set: tuple[int, str] | None = None  # (count, digest): vault/journal/docset.py
    decision: Decision | None = None
    refusal: Reason | None = None
    refused: Facts | None = field(default=None, repr=False)  # what the refusal decided
    journal_seq: int = 0  # the request's own entry, once written

    def require(self, facts: Facts) -> Decision:
        """The policy's decision, or its refusal raised. A document outside the caller's
        scope is NOT_FOUND, as if it did not exist, and journaled as hidden."""
        with tracing.span("vault.decision") as traced:
            decision = decide(facts, self.matrix)
            traced.set(outcome="allow" if decision.allowed else decision.reason.value)
        if not decision.allowed:
            self.refusal, self.refused = decision.reason, facts
            if decision.reason is Reason.DOCUMENT_HIDDEN:
                raise NotFoundError("no such document")
            raise PermissionDeniedError(decision.reason.value)
        self.decision = decision
        if self.call is not None:
            self.call.allowed = facts
        return decision


def object_ref(record: VersionRecord) -> ObjectRef:
    """What a version's object is bound to (docs/format.md, "Object format v1")."""
    return ObjectRef(
        record.dossier_id, record.document_id, record.version, record.dossier_key_version
    )


class Gate:
    """Decides and journals requests for the use cases; holds no request state."""

    def __init__(
        self,
        *,
        index: GateIndex,
        keys: KeyProvider,
        journal: JournalStore,
        clock: Clock,
        matrix: AccessMatrix,
        release_months: int = 1,
    ) -> None:
        self._index = index
        self._keys = keys
        self._journal = journal
        self._joining = (
            journal if isinstance(journal, JoiningJournal) and journal.joins(index) else None
        )
        self._clock = clock
        self._matrix = matrix
        self._release_months = release_months  # a held-back document's delay
        self._majorities = Majorities(keys)  # holders' majorities, by sealed date of birth
        # an INS's blind index never changes (the index key is not rotated): a key
        # provider call (an HSM's) saved on each of a patient's requests, twice
        self._blind_index = functools.lru_cache(maxsize=_BLIND_INDEXES)(self._ins_hmac)

    # -- the journal -----------------------------------------------------------------

    def _append(
        self,
        actor: Actor | None,
        action: Action,
        call: Call,
        access: Access,
        decision: str,
        reason: str,
        write: Callable[[], None] | None = None,
    ) -> Exception | None:
        event = JournalEvent(
            time_us=self.now_us(),
            actor_kind=actor.kind.value if actor else "anonymous",
            actor_ref=self.actor_ref(actor),
            actor_profession=actor.profession if actor else None,
            action=action.value,
            dossier=str(access.dossier) if access.dossier else None,
            documents=tuple(str(d) for d in access.documents),
            decision=decision,
            reason=reason,
            emergency=access.decision is not None and access.decision.emergency,
            request_id=call.request_id,
            secret_care=actor is not None and actor.secret_care,
            document_set=access.document_set,
        )
        failed = None
        with tracing.span("vault.journal.append", outcome=decision):
            if write is None:
                written = self._journal.append(event)
            else:
                assert self._joining is not None
                written, failed = self._joining.append_with(event, write)
        access.journal_seq = written.seq
        call.journaled = True
        return failed

    @contextlib.contextmanager
    def journaled(self, actor: Actor, action: Action, call: Call) -> Iterator[Access]:
        """Runs one decision; journals it as allowed on exit, or as denied on error. A
        use case that changes something applies the change after the block, once the
        allow entry is written (ADR 0003)."""
        with self.refusal_journaled(actor, action, call) as access:
            yield access
        self.journal_allowed(actor, action, call, access)

    @contextlib.contextmanager
    def refusal_journaled(self, actor: Actor, action: Action, call: Call) -> Iterator[Access]:
        """Runs one decision and journals it if denied; an allowed one is the caller's to
        journal (`journal_allowed`) before any visible effect."""
        access = Access(self._matrix, call)
        try:
            yield access
        except Exception as error:  # any failure is a refusal, and is journaled as one
            reason = access.refusal.value if access.refusal else _refusal_reason(error)
            self._append(actor, action, call, access, "deny", reason)
            if access.refused is not None and access.dossier is not None:
                end_lapsed_representation(
                    self._index,
                    access.dossier,
                    self.actor_ref(actor),
                    access.refused,
                    call.request_id,
                )
            raise

    def journal_allowed(self, actor: Actor, action: Action, call: Call, access: Access) -> None:
        if access.decision is None:
            raise AssertionError("a use case ended without a policy decision")
        self._append(actor, action, call, access, "allow", access.decision.reason.value)

    @property
    def journal_joins_index(self) -> bool:
        """Whether `journal_allowed_with` can write to the index in the entry's
        transaction (the journal is in the index's database)."""
        return self._joining is not None

    def index_write(self, write: Callable[[], None]) -> None:
        """Runs `write` (index writes), in the journal's next group commit when the
        journal is in the index's database (its durable commit shared with the appends
        of the moment: docs/adr/0014), else on its own."""
        if self._joining is None:
            write()
        else:
            self._joining.write(write)

    def journal_allowed_with(
        self, actor: Actor, action: Action, call: Call, access: Access, write: Callable[[], None]
    ) -> None:
        """`journal_allowed`, with `write` (index writes) in the entry's transaction: one
        durable commit for both (docs/adr/0014). The entry is written even if `write`
        fails (nothing it wrote is kept): its error is raised once the entry is."""
        if access.decision is None:
            raise AssertionError("a use case ended without a policy decision")
        reason = access.decision.reason.value
        failed = self._append(actor, action, call, access, "allow", reason, write)
        if failed is not None:
            raise failed

    def record_refusal(
        self, actor: Actor | None, action: Action, call: Call, error: Exception
    ) -> None:
        """Journals a request the edge refused before the service decided (bad token,
        malformed message); does nothing if the request is journaled already."""
        if not call.journaled:
            refusal = Access(self._matrix)
            with contextlib.suppress(InvalidArgumentError):
                refusal.dossier = parse_id(call.dossier, "dossier id") if call.dossier else None
            self._append(actor, action, call, refusal, "deny", _refusal_reason(error))

    @contextlib.contextmanager
    def on_dossier(
        self, actor: Actor, dossier_id: str, action: Action, call: Call
    ) -> Iterator[DossierRecord]:
        """Decides one request about a dossier as a whole and yields the dossier.

        Inside the block the use case only decides: it parses its arguments, checks its
        preconditions and works out the change. The allow entry is written when the block
        ends; the change is applied after the block, never inside it (ADR 0003: no effect
        before its journal entry). A refusal in the block is journaled as a denial."""
        with self.journaled(actor, action, call) as access:
            with self.reads():
                dossier = self.dossier(dossier_id, access)
                access.require(self.facts(actor, action, dossier))
            yield dossier

    # -- identities ------------------------------------------------------------------

    def patient_index(self, ins: Ins) -> bytes:
        return self._blind_index(ins.value)

    def _ins_hmac(self, ins: str) -> bytes:
        return self._keys.blind_index(b"DVLT/v1/ins\x00" + ins.encode())

    def actor_patient_index(self, actor: Actor) -> bytes | None:
        """The blind index of the actor's INS, for a patient (the dossier's holder)."""
        if actor.kind is not ActorKind.PATIENT:
            return None
        return self.patient_index(parse_ins(actor.subject))

    def actor_ref(self, actor: Actor | None) -> str:
        """How the journal names an actor: whoever is identified by an INS (a patient, a
        legal representative) appears only as its blind index, never the INS itself."""
        if actor is None:
            return "-"
        if actor.kind in INS_SUBJECT_KINDS:
            return self.ins_ref(parse_ins(actor.subject))
        return actor.subject

    def ins_ref(self, ins: Ins) -> str:
        return f"ins-hmac:{self.patient_index(ins).hex()}"

    # -- the facts a decision reads ----------------------------------------------------

    def reads(self) -> contextlib.AbstractContextManager[None]:
        """The decision's reads in one go: the index reads this thread makes in the block
        share one connection (and on SQLite one snapshot). No write inside (a first-access
        notice comes after it): a write would take a second connection."""
        return self._index.reads()

    def _standing(self, actor: Actor, dossier: DossierRecord) -> Standing:
        """What the dossier records about the actor."""
        if actor.kind is ActorKind.PATIENT:
            holder = is_holder(self._index, dossier, self.actor_patient_index(actor), self.now_us())
            heir = None if holder else self._heir_until(actor, dossier)
            return Standing(
                holder=holder, emergency_refused=dossier.emergency_refused, heir_until_us=heir
            )
        if actor.kind not in (ActorKind.PROFESSIONAL, ActorKind.LEGAL_REPRESENTATIVE):
            return Standing()
        member = None  # a professional's care teams and overrides; none for others
        if actor.kind is ActorKind.PROFESSIONAL:
            member = Member(actor.subject, actor.structure)
        rows = self._index.standing_rows(dossier.dossier_id, self.actor_ref(actor), member)
        return standing_of(rows, dossier, self._majority)

    def _majority(self, birth: SealedBirth) -> int:
        return self._majorities.of(self._index, birth)

    def _heir_until(self, actor: Actor, dossier: DossierRecord) -> int | None:
        """Until when a patient-kind caller is a deceased holder's heir (issue 15 item 4,
        vault/domain/heirs.py); read only for a dossier closed for a death."""
        if not heirs.is_deceased(dossier.lifecycle):
            return None
        grants = self._index.heir_grants(dossier.dossier_id, self.actor_ref(actor))
        return heirs.latest_expiry(grants)

    def facts(
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
            self.now_us(),
            actor.profession,
            actor.specialty,
            document,
            self._release_months,
            dossier.lifecycle.closure_reason,
            caller=self.actor_ref(actor) if actor.kind is ActorKind.PROFESSIONAL else None,
        )

    def now(self) -> datetime:
        return self._clock.now()

    def now_us(self) -> int:
        return to_us(self.now())

    def dossier(self, dossier_text: str, access: Access) -> DossierRecord:
        """The dossier the request names (NOT_FOUND if there is none), recorded in
        `access` for the journal."""
        dossier_id = parse_id(dossier_text, "dossier id")
        access.dossier = dossier_id
        record = self._index.dossier(dossier_id)
        if record is None:
            raise NotFoundError("no such dossier")
        return record

    def visible_version(
        self,
        actor: Actor,
        action: Action,
        dossier: DossierRecord,
        access: Access,
        version: int | None = None,
        new_visibility: Visibility | None = None,
    ) -> VersionRecord:
        """The version of `access.documents[0]` if the caller may reach it: the dossier is
        decided first (a stranger learns nothing), then the document (a hidden one is
        NOT_FOUND, like a missing one)."""
        facts = self.facts(actor, action, dossier)
        access.require(facts)
        record = self._index.version(dossier.dossier_id, access.documents[0], version)
        if record is None:
            raise NotFoundError("no such document")
        authored = record.author == self.actor_ref(actor)
        document = DocumentFacts(
            record.category, record.visibility, authored, new_visibility, record.document_created_us
        )
        access.require(replace(facts, document=document))
        return record

    def notify_first_access(self, actor: Actor, dossier: DossierRecord, call: Call) -> None:
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
        if actor.secret_care:  # a minor's secret-care context: no notice, not seen either
            return
        if facts.document is not None and facts.document.visibility & _HIDDEN_FROM_PATIENT_SIDE:
            return
        now_us = self.now_us()
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

    # -- keys ------------------------------------------------------------------------

    def dossier_key(self, dossier_id: uuid.UUID, version: int) -> bytes:
        return unwrap_dossier_key(self._index, self._keys, dossier_id, version)

    def wrapped_dossier_key(self, dossier_id: uuid.UUID, version: int) -> DossierKeyRecord:
        """A dossier key as the index keeps it, to read with the decision's other reads
        (`reads`) and unwrap later (`unwrap`), in the background."""
        return self._index.dossier_key(dossier_id, version)

    def unwrap(self, wrapped: DossierKeyRecord) -> bytes:
        return unwrap_key_record(self._keys, wrapped)
