"""The access policy: one pure function from plain values to a decision.

`decide` does no I/O and reads no clock: the service gathers the facts (who is calling,
whether they hold the dossier, the dossier's state) and journals whatever comes back,
allowed or denied. Reason codes are stable strings: they are written to the journal and
shown to auditors, so renaming one is a format change.

This version knows the holder and the auditor: a patient reaches their own active
dossier and its access history, and nothing else; an auditor reads and exports the
journal, never a document. The DMP's full rules (representatives, treating physician,
authorised and blocked professionals, break-the-glass) extend this table; every other
actor is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vault.domain.model import ActorKind, DossierState


class Action(StrEnum):
    DOSSIER_CREATE = "dossier.create"
    DOSSIER_READ = "dossier.read"
    DOCUMENT_WRITE = "document.write"
    DOCUMENT_READ = "document.read"
    DOCUMENT_LIST = "document.list"
    JOURNAL_READ = "journal.read"
    JOURNAL_EXPORT = "journal.export"


class Reason(StrEnum):
    """Why a request was allowed or refused, as written to the journal."""

    HOLDER = "holder"
    AUDITOR = "auditor"
    NOT_HOLDER = "not-holder"
    ACTOR_NEVER_ALLOWED = "actor-never-allowed"
    NO_AUTHORISATION = "no-authorisation"
    DOSSIER_NOT_ACTIVE = "dossier-not-active"
    # Refusals decided before or beside the policy, journaled all the same.
    UNAUTHENTICATED = "unauthenticated"
    INVALID_ARGUMENT = "invalid-argument"
    NOT_FOUND = "not-found"
    ALREADY_EXISTS = "already-exists"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Facts:
    """What the policy needs to know about one request."""

    actor_kind: ActorKind
    action: Action
    is_holder: bool
    dossier_state: DossierState | None  # None: the dossier does not exist yet (creation)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: Reason


_NEVER = frozenset({ActorKind.INSURER, ActorKind.OPERATOR, ActorKind.AUDITOR})
_JOURNAL = frozenset({Action.JOURNAL_READ, Action.JOURNAL_EXPORT})


def decide(facts: Facts) -> Decision:
    """Allows or denies one request; the first rule that applies wins."""
    if facts.action in _JOURNAL:
        return _decide_journal(facts)
    if facts.actor_kind in _NEVER:
        return Decision(False, Reason.ACTOR_NEVER_ALLOWED)
    if facts.actor_kind is not ActorKind.PATIENT:
        return Decision(False, Reason.NO_AUTHORISATION)
    if not facts.is_holder:
        return Decision(False, Reason.NOT_HOLDER)
    creating = facts.action is Action.DOSSIER_CREATE
    if not creating and facts.dossier_state is not DossierState.ACTIVE:
        return Decision(False, Reason.DOSSIER_NOT_ACTIVE)
    return Decision(True, Reason.HOLDER)


def _decide_journal(facts: Facts) -> Decision:
    """Auditors read and export the whole journal; a holder reads their dossier's part."""
    if facts.actor_kind is ActorKind.AUDITOR:
        return Decision(True, Reason.AUDITOR)
    if facts.actor_kind is ActorKind.PATIENT and facts.action is Action.JOURNAL_READ:
        if not facts.is_holder:
            return Decision(False, Reason.NOT_HOLDER)
        if facts.dossier_state is not DossierState.ACTIVE:
            return Decision(False, Reason.DOSSIER_NOT_ACTIVE)
        return Decision(True, Reason.HOLDER)
    never = facts.actor_kind in _NEVER
    return Decision(False, Reason.ACTOR_NEVER_ALLOWED if never else Reason.NO_AUTHORISATION)
