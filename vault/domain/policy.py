"""The DMP's access rules: one pure function from plain values to a decision.

`decide` does no I/O and reads no clock: the service gathers the facts (who is calling,
what the dossier records about them, the dossier's state, the document concerned, the
time) and journals whatever comes back, allowed or denied. Reason codes are stable
strings: they are written to the journal and shown to patients and auditors, so renaming
one is a format change. docs/access-control.md states the rules in prose.

The rules (CSP L.1111-14 to L.1111-24, the DMP's regulatory articles R.1111-40 and
following; each rule's article is in docs/access-control.md, "Where each rule comes
from"):

* the holder and their legal representatives (until the holder's majority) run the
  dossier; the patient side does not see a document held back for an announcement
  consultation until its author or the treating physician releases it, or its delay
  (`Facts.release_months`) ran; representatives never see a minor's confidential care
  (L.1111-5), which an author may declare but only the minor (holder) lifts;
* the treating physician sees everything, masked documents included, unblockable;
* another professional needs an unexpired authorisation (or records consent), never
  once blocked, reads only what the matrix gives their profession, never masked;
* an emergency professional may break the glass unless the patient refused it, for a
  short window, masked documents still hidden; a blocked professional never;
* only a document's author replaces it, while it is in the author's scope;
* the national insurer writes the reimbursement history and sets the treating physician,
  and reads nothing; complementary insurers, occupational and insurance physicians and
  operators get nothing; auditors get the journal only;
* a dossier that is not active is closed to everyone, but for its holder's copy of a
  dossier closed at their request or suspended, during its conservation.

What a caller may see of a dossier's documents is a `Scope`; the index applies the same
scope in SQL so that listings, counts and page tokens never reveal a hidden document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from vault.domain.lifecycle import released_up_to_us
from vault.domain.model import ActorKind, ClosureReason, DocumentCategory, DossierState, Visibility


class Action(StrEnum):
    DOSSIER_CREATE = "dossier.create"
    DOSSIER_READ = "dossier.read"
    DOSSIER_CLOSE = "dossier.close"  # the patient side asks for closure
    DOSSIER_CLOSE_DECLARED = "dossier.close-declared"  # the insurer: death, suspension
    DOSSIER_REOPEN = "dossier.reopen"
    DOSSIER_DELETION_REQUEST = "dossier.deletion-request"
    DOSSIER_HOLD = "dossier.hold"
    DOSSIER_RELEASE = "dossier.release"
    DOSSIER_EXPORT = "dossier.export"
    DOCUMENT_WRITE = "document.write"
    DOCUMENT_REPLACE = "document.replace"  # a new version of an existing document
    DOCUMENT_READ = "document.read"
    DOCUMENT_LIST = "document.list"
    DOCUMENT_DELETE = "document.delete"
    DOCUMENT_VISIBILITY = "document.visibility"
    ACCESS_READ = "access.read"
    ACCESS_AUTHORISE = "access.authorise"
    ACCESS_REVOKE = "access.revoke"
    ACCESS_BLOCK = "access.block"
    ACCESS_UNBLOCK = "access.unblock"
    EMERGENCY_SETTING = "access.emergency-setting"
    REPRESENTATIVE_ADD = "access.representative-add"
    REPRESENTATIVE_REMOVE = "access.representative-remove"
    CONSENT_RECORD = "access.consent"
    TREATING_PHYSICIAN_SET = "access.treating-physician"
    BREAK_GLASS = "access.break-glass"
    ACCESS_CHANGE = "access.change"  # a change request naming no change: malformed
    NOTIFICATIONS_READ = "notifications.read"
    JOURNAL_READ = "journal.read"
    JOURNAL_EXPORT = "journal.export"
    # The retention job's, decided by the lifecycle's rules (vault/domain/lifecycle.py),
    # never by `decide`: journaled with the reasons below.
    DOSSIER_DESTROY = "dossier.destroy"
    DOSSIER_DESTROYED = "dossier.destroyed"
    DOCUMENT_EXPIRE = "document.expire"
    DOCUMENT_RELEASE = "document.release"  # a held-back document's delay ran


class Reason(StrEnum):
    """Why a request was allowed or refused, as written to the journal."""

    HOLDER = "holder"
    REPRESENTATIVE = "representative"
    TREATING_PHYSICIAN = "treating-physician"
    AUTHORISED = "authorised"
    CONSENT = "consent"
    EMERGENCY = "emergency"
    PROFESSIONAL_LOOKUP = "professional-lookup"
    INSURER = "insurer"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    NOT_HOLDER = "not-holder"
    NOT_REPRESENTATIVE = "not-representative"
    ACTOR_NEVER_ALLOWED = "actor-never-allowed"
    ACTION_NOT_PERMITTED = "action-not-permitted"
    NO_AUTHORISATION = "no-authorisation"
    AUTHORISATION_EXPIRED = "authorisation-expired"
    BLOCKED = "blocked"
    EMERGENCY_REFUSED = "emergency-refused"
    NOT_EMERGENCY_PROFESSIONAL = "not-emergency-professional"
    CATEGORY_NOT_WRITABLE = "category-not-writable"
    DOCUMENT_HIDDEN = "document-hidden"
    NOT_AUTHOR = "not-author"
    VISIBILITY_NOT_SETTABLE = "visibility-not-settable"
    DOSSIER_NOT_ACTIVE = "dossier-not-active"
    CONSERVATION_DEADLINE = "conservation-deadline"
    DELETION_REQUESTED = "deletion-requested"
    ROLLING_WINDOW = "rolling-window"
    RELEASE_DELAY = "release-delay"  # a held-back document's delay ran: released
    LEGAL_HOLD = "legal-hold"  # a deletion refused while a legal hold is in force
    # Refusals decided before or beside the policy, journaled all the same.
    UNAUTHENTICATED = "unauthenticated"
    INVALID_ARGUMENT = "invalid-argument"
    NOT_FOUND = "not-found"
    ALREADY_EXISTS = "already-exists"
    CONFLICT = "conflict"  # a concurrent change won (a newer version, say)
    FAILED = "failed"


Categories = frozenset[DocumentCategory]
AccessMatrix = Mapping[str, Categories]
"""Profession code -> the document categories an authorised professional may read."""

_ALL = frozenset(DocumentCategory)
_CLINICAL = _ALL - {DocumentCategory.REIMBURSEMENT_HISTORY}
_C = DocumentCategory
_EVERYDAY = frozenset({_C.SYNTHESIS, _C.TREATMENTS_AND_CARE, _C.BIOLOGY, _C.VACCINATION})
DEFAULT_MATRIX: AccessMatrix = {
    "physician": _ALL,
    "midwife": _ALL,
    "dentist": _CLINICAL,
    "pharmacist": _EVERYDAY | {_C.PREVENTION},
    "nurse": _EVERYDAY | {_C.PREVENTION, _C.ADVANCE_DIRECTIVES},
    "physiotherapist": frozenset({_C.SYNTHESIS, _C.TREATMENTS_AND_CARE, _C.REPORTS, _C.IMAGING}),
}
EMERGENCY_SPECIALTIES = frozenset({"emergency_medicine", "medical_regulation"})  # SAMU too


@dataclass(frozen=True, slots=True)
class Standing:
    """What the dossier records about the caller. Times are Unix microseconds."""

    holder: bool = False
    representative: bool = False
    treating_physician: bool = False
    authorised_until_us: int | None = None
    blocked: bool = False
    emergency_until_us: int | None = None  # a break-the-glass window this caller opened
    emergency_refused: bool = False  # the patient's setting, for everyone
    seen: bool = False  # first access notified already (the service's concern, no rule's)
    representative_until_us: int | None = None  # the holder's majority, when known


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    """The document a request concerns: an existing one (read, delete, visibility
    change: `new_visibility`), or the one being written (`visibility` requested)."""

    category: DocumentCategory
    visibility: Visibility = Visibility.NORMAL
    authored_by_caller: bool = False
    new_visibility: Visibility | None = None
    deposited_us: int | None = None  # the document's first version; None: unknown


@dataclass(frozen=True, slots=True)
class Facts:
    """What the policy needs to know about one request. Without `now_us` (None), time
    is unknown and no time-bound standing (authorisation, emergency window) is open, and
    no held-back document is released by its delay. `release_months` is that delay (a
    setting, the law's month by default)."""

    actor_kind: ActorKind
    action: Action
    dossier_state: DossierState | None  # None: no dossier yet (creation) or none concerned
    standing: Standing = Standing()
    now_us: int | None = None
    profession: str | None = None
    specialty: str | None = None
    document: DocumentFacts | None = None
    release_months: int = 1
    closure_reason: ClosureReason | None = None  # why a closed dossier was closed


@dataclass(frozen=True, slots=True)
class Scope:
    """Which of a dossier's documents a caller may see: none carrying a `hidden` flag,
    and only the `categories` listed; except that a document hidden from the patient
    only and deposited at or before `released_up_to_us` is released (its delay ran)."""

    hidden: Visibility
    categories: Categories
    released_up_to_us: int | None = None

    def admits(
        self, category: DocumentCategory, visibility: Visibility, deposited_us: int | None = None
    ) -> bool:
        return category in self.categories and not visibility & self.hidden_for(deposited_us)

    def hidden_for(self, deposited_us: int | None) -> Visibility:
        """The flags that hide a document deposited at `deposited_us` (None: unknown)."""
        released = self.released_up_to_us
        if released is not None and deposited_us is not None and deposited_us <= released:
            return self.hidden & ~Visibility.HIDDEN_FROM_PATIENT
        return self.hidden


NOTHING = Scope(Visibility.NORMAL, frozenset())
EVERYTHING = Scope(Visibility.NORMAL, _ALL)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: Reason
    scope: Scope = NOTHING
    emergency: bool = False


_NEVER = frozenset(
    {
        ActorKind.COMPLEMENTARY_INSURER,
        ActorKind.OCCUPATIONAL_PHYSICIAN,
        ActorKind.INSURANCE_PHYSICIAN,
        ActorKind.OPERATOR,
        ActorKind.AUDITOR,
    }
)
_JOURNAL = frozenset({Action.JOURNAL_READ, Action.JOURNAL_EXPORT})
_LIFECYCLE: dict[Action, frozenset[DossierState]] = {
    # action -> the states it applies to
    Action.DOSSIER_CLOSE: frozenset({DossierState.ACTIVE}),
    Action.DOSSIER_CLOSE_DECLARED: frozenset({DossierState.ACTIVE}),
    Action.DOSSIER_REOPEN: frozenset({DossierState.CLOSED}),
    Action.DOSSIER_DELETION_REQUEST: frozenset({DossierState.ACTIVE, DossierState.CLOSED}),
    Action.DOSSIER_HOLD: frozenset({DossierState.ACTIVE, DossierState.CLOSED}),
    Action.DOSSIER_RELEASE: frozenset({DossierState.ACTIVE, DossierState.CLOSED}),
}
_PATIENT_LIFECYCLE = frozenset(
    {Action.DOSSIER_CLOSE, Action.DOSSIER_REOPEN, Action.DOSSIER_DELETION_REQUEST}
)
_OPERATOR_LIFECYCLE = frozenset({Action.DOSSIER_HOLD, Action.DOSSIER_RELEASE})
_PATIENT_SIDE = frozenset(
    {
        Action.DOSSIER_READ,
        Action.DOCUMENT_WRITE,
        Action.DOCUMENT_REPLACE,
        Action.DOCUMENT_READ,
        Action.DOCUMENT_LIST,
        Action.DOCUMENT_DELETE,
        Action.DOCUMENT_VISIBILITY,
        Action.ACCESS_READ,
        Action.ACCESS_AUTHORISE,
        Action.ACCESS_REVOKE,
        Action.ACCESS_BLOCK,
        Action.ACCESS_UNBLOCK,
        Action.EMERGENCY_SETTING,
        Action.REPRESENTATIVE_ADD,
        Action.REPRESENTATIVE_REMOVE,
        Action.NOTIFICATIONS_READ,
        Action.JOURNAL_READ,
        Action.DOSSIER_EXPORT,
    }
)
_CARE = frozenset(
    {
        Action.DOSSIER_READ,
        Action.DOCUMENT_WRITE,
        Action.DOCUMENT_REPLACE,
        Action.DOCUMENT_READ,
        Action.DOCUMENT_LIST,
        Action.DOCUMENT_VISIBILITY,
    }
)
_INSURER = frozenset({Action.DOSSIER_READ, Action.DOCUMENT_WRITE, Action.TREATING_PHYSICIAN_SET})
_SETTABLE: dict[Reason, Visibility] = {
    Reason.HOLDER: Visibility.MASKED_FROM_PROFESSIONALS | Visibility.HIDDEN_FROM_REPRESENTATIVES,
    Reason.REPRESENTATIVE: Visibility.MASKED_FROM_PROFESSIONALS,
}
_AUTHOR_SETTABLE = Visibility.HIDDEN_FROM_PATIENT | Visibility.HIDDEN_FROM_REPRESENTATIVES
_AUTHOR_CLEARS_ONLY = Visibility.HIDDEN_FROM_PATIENT  # set at upload, cleared when announced


def decide(facts: Facts, matrix: AccessMatrix = DEFAULT_MATRIX) -> Decision:
    """Allows or denies one request; the first rule that applies wins."""
    if facts.action in _JOURNAL and facts.actor_kind is ActorKind.AUDITOR:
        return Decision(True, Reason.AUDITOR)
    if facts.action in _LIFECYCLE:
        return _decide_lifecycle(facts)
    if facts.action is Action.JOURNAL_EXPORT or facts.actor_kind in _NEVER:
        return _deny(Reason.ACTOR_NEVER_ALLOWED)
    if facts.action is Action.DOSSIER_CREATE:
        return _decide_creation(facts)
    if facts.dossier_state is None:  # only auditors act beyond one dossier
        return _deny(Reason.ACTION_NOT_PERMITTED)
    if facts.dossier_state is DossierState.CLOSED and facts.action is Action.DOSSIER_READ:
        return _patient_side_only(facts)  # the patient sees that it is closed, no more
    if facts.dossier_state is DossierState.CLOSED and facts.action is Action.DOSSIER_EXPORT:
        return _closed_copy(facts)
    if facts.dossier_state is not DossierState.ACTIVE:
        return _deny(Reason.DOSSIER_NOT_ACTIVE)
    decision = _decide_dossier(facts, matrix)
    if not decision.allowed:
        return decision
    if facts.action is Action.DOCUMENT_WRITE:
        return _decide_new_document(facts.document, decision)
    if facts.document is None:
        return decision
    if facts.action is Action.DOCUMENT_REPLACE:
        return _decide_replacement(facts.document, decision)
    return _decide_document(facts.document, decision)


def _deny(reason: Reason) -> Decision:
    return Decision(False, reason)


def _decide_lifecycle(facts: Facts) -> Decision:
    """Closure and reopening are the patient side's; the national insurer declares a death
    or an uncontested suspension; operators place and release legal holds. Who may ask is
    decided before the state, so that nobody else learns the dossier's state."""
    decision = _lifecycle_requester(facts)
    if decision.allowed and facts.dossier_state not in _LIFECYCLE[facts.action]:
        return _deny(Reason.DOSSIER_NOT_ACTIVE)
    return decision


def _lifecycle_requester(facts: Facts) -> Decision:
    kind = facts.actor_kind
    if facts.action in _OPERATOR_LIFECYCLE:
        if kind is ActorKind.OPERATOR:
            return Decision(True, Reason.OPERATOR)
    elif facts.action is Action.DOSSIER_CLOSE_DECLARED:
        if kind is ActorKind.INSURER:
            return Decision(True, Reason.INSURER)
    else:
        return _patient_side_only(facts)
    return _deny(Reason.ACTOR_NEVER_ALLOWED if kind in _NEVER else Reason.ACTION_NOT_PERMITTED)


def _patient_side_only(facts: Facts) -> Decision:
    if facts.actor_kind is ActorKind.PATIENT and facts.standing.holder:
        return Decision(True, Reason.HOLDER)
    if facts.actor_kind is ActorKind.LEGAL_REPRESENTATIVE and _represents(facts):
        return Decision(True, Reason.REPRESENTATIVE)
    if facts.actor_kind in _NEVER:
        return _deny(Reason.ACTOR_NEVER_ALLOWED)
    return _deny(Reason.ACTION_NOT_PERMITTED)


def _decide_creation(facts: Facts) -> Decision:
    if facts.dossier_state is not None:  # creation is decided before any dossier exists
        return _deny(Reason.ACTION_NOT_PERMITTED)
    if facts.actor_kind is not ActorKind.PATIENT:
        return _deny(Reason.ACTION_NOT_PERMITTED)
    if not facts.standing.holder:
        return _deny(Reason.NOT_HOLDER)
    return Decision(True, Reason.HOLDER)


def _decide_dossier(facts: Facts, matrix: AccessMatrix) -> Decision:
    kind = facts.actor_kind
    if kind is ActorKind.PATIENT:
        return _patient_side(facts, facts.standing.holder, Reason.HOLDER, Reason.NOT_HOLDER)
    if kind is ActorKind.LEGAL_REPRESENTATIVE:
        standing = _represents(facts)
        return _patient_side(facts, standing, Reason.REPRESENTATIVE, Reason.NOT_REPRESENTATIVE)
    if kind is ActorKind.INSURER:
        return _insurer(facts)
    if kind is ActorKind.PROFESSIONAL:
        return _professional(facts, matrix)
    return _deny(Reason.ACTOR_NEVER_ALLOWED)  # a kind these rules do not know gets nothing


def _patient_side(facts: Facts, standing: bool, allow: Reason, refuse: Reason) -> Decision:
    if not standing:
        return _deny(refuse)
    if facts.action not in _PATIENT_SIDE:
        return _deny(Reason.ACTION_NOT_PERMITTED)
    return Decision(True, allow, _patient_scope(facts, allow is Reason.REPRESENTATIVE))


def _patient_scope(facts: Facts, representative: bool) -> Scope:
    """What the patient side sees: nothing held back whose delay has not run, and for a
    representative nothing hidden from representatives."""
    hidden = Visibility.HIDDEN_FROM_PATIENT
    if representative:
        hidden |= Visibility.HIDDEN_FROM_REPRESENTATIVES
    released = None
    if facts.now_us is not None:  # an unknown time releases nothing
        released = released_up_to_us(facts.now_us, facts.release_months)
    return Scope(hidden, _ALL, released)


_COPY_CLOSURES = frozenset({ClosureReason.PATIENT_REQUEST, ClosureReason.INSURER_SUSPENSION})
"""Closures during whose conservation the holder keeps the right to a copy (a death's is
the heirs' own access; a deletion request has no conservation)."""


def _closed_copy(facts: Facts) -> Decision:
    """The holder's copy of a closed dossier during its conservation: nothing else of it
    opens, to anyone else; everyone else gets what a closed dossier answers."""
    holder = facts.actor_kind is ActorKind.PATIENT and facts.standing.holder
    if not holder or facts.closure_reason not in _COPY_CLOSURES:
        return _deny(Reason.DOSSIER_NOT_ACTIVE)
    return Decision(True, Reason.HOLDER, _patient_scope(facts, representative=False))


def _insurer(facts: Facts) -> Decision:
    if facts.action not in _INSURER:
        return _deny(Reason.ACTOR_NEVER_ALLOWED)
    return Decision(True, Reason.INSURER)


def _professional(facts: Facts, matrix: AccessMatrix) -> Decision:
    standing, action = facts.standing, facts.action
    if standing.blocked and not standing.treating_physician:
        return _deny(Reason.BLOCKED)
    if action is Action.CONSENT_RECORD:
        return Decision(True, Reason.CONSENT)
    if action is Action.BREAK_GLASS:
        return _break_glass(facts)
    if action not in _CARE:
        return _deny(Reason.ACTION_NOT_PERMITTED)
    readable = matrix.get(facts.profession or "", frozenset())
    if standing.treating_physician:
        return Decision(True, Reason.TREATING_PHYSICIAN, EVERYTHING)
    masked = Visibility.MASKED_FROM_PROFESSIONALS
    if _open(standing.authorised_until_us, facts.now_us):
        return Decision(True, Reason.AUTHORISED, Scope(masked, readable))
    if _open(standing.emergency_until_us, facts.now_us) and not standing.emergency_refused:
        return Decision(True, Reason.EMERGENCY, Scope(masked, readable), emergency=True)
    if action is Action.DOSSIER_READ:  # finding the dossier, to record consent or break glass
        return Decision(True, Reason.PROFESSIONAL_LOOKUP)
    if standing.authorised_until_us is not None:
        return _deny(Reason.AUTHORISATION_EXPIRED)
    return _deny(Reason.NO_AUTHORISATION)


def _break_glass(facts: Facts) -> Decision:
    if facts.specialty not in EMERGENCY_SPECIALTIES:
        return _deny(Reason.NOT_EMERGENCY_PROFESSIONAL)
    if facts.standing.emergency_refused:
        return _deny(Reason.EMERGENCY_REFUSED)
    return Decision(True, Reason.EMERGENCY, emergency=True)


def _represents(facts: Facts) -> bool:
    """A representative's standing: it ends at the holder's majority (when known)."""
    until = facts.standing.representative_until_us
    return facts.standing.representative and (until is None or _open(until, facts.now_us))


def _open(until_us: int | None, now_us: int | None) -> bool:
    """Whether a time-bound standing is still open; an unknown time opens none."""
    return until_us is not None and now_us is not None and now_us < until_us


def _decide_document(document: DocumentFacts, decision: Decision) -> Decision:
    """A request about one existing document: it must be in the caller's scope, and a
    visibility change may only flip the flags the caller's role may set (an author, or
    the treating physician, only clears `HIDDEN_FROM_PATIENT`: held back at upload,
    released at the announcement consultation)."""
    if not decision.scope.admits(document.category, document.visibility, document.deposited_us):
        return _deny(Reason.DOCUMENT_HIDDEN)
    new = document.new_visibility
    if new is None:
        return decision
    settable = _SETTABLE.get(decision.reason, Visibility.NORMAL)
    clear_only = Visibility.NORMAL
    if document.authored_by_caller and decision.reason not in _SETTABLE:
        settable |= _AUTHOR_SETTABLE
        clear_only = _AUTHOR_CLEARS_ONLY
    if decision.reason is Reason.TREATING_PHYSICIAN or _released_by_delay(decision, document):
        settable |= _AUTHOR_CLEARS_ONLY  # the treating physician releases early, as the
        clear_only |= _AUTHOR_CLEARS_ONLY  # author may; a flag whose delay ran is spent
    if decision.reason is not Reason.HOLDER:  # the minor's secret: only the minor lifts it
        settable &= ~(document.visibility & Visibility.HIDDEN_FROM_REPRESENTATIVES)
    flipped = document.visibility ^ new
    if flipped & ~settable or flipped & new & clear_only:
        return _deny(Reason.VISIBILITY_NOT_SETTABLE)
    return decision


def _released_by_delay(decision: Decision, document: DocumentFacts) -> bool:
    """Whether the patient side sees the document only because its delay ran: its
    `hidden_from_patient` flag is then spent, and clearing it changes nothing."""
    scope, held = decision.scope, Visibility.HIDDEN_FROM_PATIENT
    spent = not scope.hidden_for(document.deposited_us) & held
    return bool(scope.hidden & held and document.visibility & held) and spent


def _decide_replacement(document: DocumentFacts, decision: Decision) -> Decision:
    """A new version of an existing document: only its author replaces it, and only while
    they may still see it. The version keeps the document's category and visibility, so
    nothing else is the writer's to choose."""
    if not decision.scope.admits(document.category, document.visibility, document.deposited_us):
        return _deny(Reason.DOCUMENT_HIDDEN)
    if not document.authored_by_caller:
        return _deny(Reason.NOT_AUTHOR)
    return decision


def _decide_new_document(document: DocumentFacts | None, decision: Decision) -> Decision:
    """A new document: its category must be the writer's to write, and its visibility
    flags ones the writer's role may set (an author may hold a document back from the
    patient; the patient side may mask)."""
    if document is None:
        return _deny(Reason.CATEGORY_NOT_WRITABLE)
    insurer = decision.reason is Reason.INSURER
    if insurer != (document.category is DocumentCategory.REIMBURSEMENT_HISTORY):
        return _deny(Reason.CATEGORY_NOT_WRITABLE)
    settable = Visibility.NORMAL if insurer else _SETTABLE.get(decision.reason, _AUTHOR_SETTABLE)
    if document.visibility & ~settable:
        return _deny(Reason.VISIBILITY_NOT_SETTABLE)
    return decision
