"""`decide`: the DMP's rules about a dossier, one pure function from `Facts` to a
`Decision`; the first rule that applies wins. The rules about one document that narrow
an allowed decision are `documents.py`'s; the package's docstring lists the rules.
"""

from __future__ import annotations

from vault.domain.lifecycle import released_up_to_us
from vault.domain.model import ActorKind, ClosureReason, DossierState, Visibility
from vault.domain.policy.birth import decide_birth_date
from vault.domain.policy.codes import Action, Reason
from vault.domain.policy.creation import decide_creation
from vault.domain.policy.deletion import decide_destroyed
from vault.domain.policy.documents import (
    authors_own,
    decide_document,
    decide_new_document,
    decide_replacement,
)
from vault.domain.policy.emergency import decide_break_glass, window_decision
from vault.domain.policy.facts import Facts
from vault.domain.policy.heirs import decide_heirs
from vault.domain.policy.matrix import ALL_CATEGORIES, DEFAULT_MATRIX, AccessMatrix
from vault.domain.policy.occupational import decide_occupational, is_occupational
from vault.domain.policy.overrides import OVERRIDE_ACTIONS, adjusted
from vault.domain.policy.scope import EVERYTHING, Decision, Scope, deny
from vault.domain.policy.teams import TEAM_ACTIONS, as_team_member
from vault.domain.policy.windows import is_open as _open
from vault.domain.policy.writing import within_write_rights

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
    Action.DOSSIER_HOLD_LIST: frozenset({DossierState.ACTIVE, DossierState.CLOSED}),
}
_PATIENT_LIFECYCLE = frozenset(
    {Action.DOSSIER_CLOSE, Action.DOSSIER_REOPEN, Action.DOSSIER_DELETION_REQUEST}
)
_OPERATOR_LIFECYCLE = frozenset({Action.DOSSIER_HOLD, Action.DOSSIER_RELEASE})
_HOLD_READERS = {ActorKind.OPERATOR: Reason.OPERATOR, ActorKind.AUDITOR: Reason.AUDITOR}
"""Who lists a dossier's legal holds (their ids, dates and court references)."""
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
        Action.OCCUPATIONAL_GRANT,
        Action.OCCUPATIONAL_REVOKE,
        Action.REPRESENTATIVE_ADD,
        Action.REPRESENTATIVE_REMOVE,
        Action.NOTIFICATIONS_READ,
        Action.NOTIFICATIONS_SETTING,  # the notices the holder asks for (issue 15 item 9)
        Action.JOURNAL_READ,
        Action.DOSSIER_EXPORT,
        Action.BIRTH_DATE_SET,  # the holder's date of birth, after creation (birth.py)
    }
    | TEAM_ACTIONS  # care teams (teams.py)
    | OVERRIDE_ACTIONS  # the patient's overrides of the matrix (overrides.py)
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
_HOLDER_ONLY = frozenset({Action.OCCUPATIONAL_GRANT, Action.OCCUPATIONAL_REVOKE})
"""The patient side's actions that are the holder's own: an express consent."""
_INSURER = frozenset({Action.DOSSIER_READ, Action.DOCUMENT_WRITE, Action.TREATING_PHYSICIAN_SET})


def decide(facts: Facts, matrix: AccessMatrix = DEFAULT_MATRIX) -> Decision:
    """Allows or denies one request; the first rule that applies wins."""
    if facts.action in _JOURNAL and facts.actor_kind is ActorKind.AUDITOR:
        return Decision(True, Reason.AUDITOR)
    if (heirs := decide_heirs(facts)) is not None:  # a deceased holder's heirs: heirs.py
        return heirs
    if facts.action in _LIFECYCLE:
        return _decide_lifecycle(facts)
    if facts.action is Action.JOURNAL_EXPORT or facts.actor_kind in _NEVER:
        return deny(Reason.ACTOR_NEVER_ALLOWED)
    if facts.action is Action.DOSSIER_CREATE:
        return decide_creation(facts)  # who opens a dossier: creation.py
    if facts.dossier_state is None:  # only auditors act beyond one dossier
        return deny(Reason.ACTION_NOT_PERMITTED)
    if facts.dossier_state is DossierState.CLOSED and facts.action is Action.DOSSIER_READ:
        return _patient_side_only(facts)  # the patient sees that it is closed, no more
    if facts.dossier_state is DossierState.CLOSED and facts.action is Action.DOSSIER_EXPORT:
        return _closed_copy(facts)
    if facts.dossier_state is DossierState.DESTROYED:  # its holder's last notice: deletion.py
        return decide_destroyed(facts)
    if facts.dossier_state is not DossierState.ACTIVE:
        return deny(Reason.DOSSIER_NOT_ACTIVE)
    decision = _decide_dossier(facts, matrix)
    if not decision.allowed:
        return decision
    decision = authors_own(facts, decision)  # an author sees what they wrote: documents.py
    if facts.action is Action.DOCUMENT_WRITE:
        return decide_new_document(facts.document, decision)
    if facts.action is Action.BIRTH_DATE_SET:
        return decide_birth_date(facts, decision)
    if facts.document is None:
        return decision
    if facts.action is Action.DOCUMENT_REPLACE:
        return decide_replacement(facts.document, decision)
    return decide_document(facts.document, decision)


def _decide_lifecycle(facts: Facts) -> Decision:
    """Closure and reopening are the patient side's; the national insurer declares a death
    or an uncontested suspension; operators place and release legal holds, and list them
    with auditors. Who may ask is
    decided before the state, so that nobody else learns the dossier's state."""
    decision = _lifecycle_requester(facts)
    if decision.allowed and facts.dossier_state not in _LIFECYCLE[facts.action]:
        return deny(Reason.DOSSIER_NOT_ACTIVE)
    return decision


def _lifecycle_requester(facts: Facts) -> Decision:
    kind = facts.actor_kind
    if facts.action is Action.DOSSIER_HOLD_LIST:
        if (reader := _HOLD_READERS.get(kind)) is not None:
            return Decision(True, reader)
    elif facts.action in _OPERATOR_LIFECYCLE:
        if kind is ActorKind.OPERATOR:
            return Decision(True, Reason.OPERATOR)
    elif facts.action is Action.DOSSIER_CLOSE_DECLARED:
        if kind is ActorKind.INSURER:
            return Decision(True, Reason.INSURER)
    else:
        return _patient_side_only(facts)
    return deny(Reason.ACTOR_NEVER_ALLOWED if kind in _NEVER else Reason.ACTION_NOT_PERMITTED)


def _patient_side_only(facts: Facts) -> Decision:
    if facts.actor_kind is ActorKind.PATIENT and facts.standing.holder:
        return Decision(True, Reason.HOLDER)
    if facts.actor_kind is ActorKind.LEGAL_REPRESENTATIVE and _represents(facts):
        return Decision(True, Reason.REPRESENTATIVE)
    if facts.actor_kind in _NEVER:
        return deny(Reason.ACTOR_NEVER_ALLOWED)
    return deny(Reason.ACTION_NOT_PERMITTED)


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
    return deny(Reason.ACTOR_NEVER_ALLOWED)  # a kind these rules do not know gets nothing


def _patient_side(facts: Facts, standing: bool, allow: Reason, refuse: Reason) -> Decision:
    if not standing:
        return deny(refuse)
    if facts.action not in _PATIENT_SIDE:
        return deny(Reason.ACTION_NOT_PERMITTED)
    if facts.action in _HOLDER_ONLY and allow is not Reason.HOLDER:
        return deny(Reason.ACTION_NOT_PERMITTED)
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
    return Scope(hidden, ALL_CATEGORIES, released)


_COPY_CLOSURES = frozenset({ClosureReason.PATIENT_REQUEST, ClosureReason.INSURER_SUSPENSION})
"""Closures during whose conservation the holder keeps the right to a copy (a death's is
the heirs' own access; a deletion request has no conservation)."""


def _closed_copy(facts: Facts) -> Decision:
    """The holder's copy of a closed dossier during its conservation: nothing else of it
    opens, to anyone else; everyone else gets what a closed dossier answers."""
    holder = facts.actor_kind is ActorKind.PATIENT and facts.standing.holder
    if not holder or facts.closure_reason not in _COPY_CLOSURES:
        return deny(Reason.DOSSIER_NOT_ACTIVE)
    return Decision(True, Reason.HOLDER, _patient_scope(facts, representative=False))


def _insurer(facts: Facts) -> Decision:
    if facts.action not in _INSURER:
        return deny(Reason.ACTOR_NEVER_ALLOWED)
    if facts.action is Action.TREATING_PHYSICIAN_SET and facts.target_blocked:
        return Decision(True, Reason.BLOCK_LIFTED)  # the treating physician is unblockable
    return Decision(True, Reason.INSURER)


def _professional(facts: Facts, matrix: AccessMatrix) -> Decision:
    standing, action = facts.standing, facts.action
    if standing.blocked and not standing.treating_physician:
        return deny(Reason.BLOCKED)
    if is_occupational(facts):  # nothing but the holder's express grant
        return within_write_rights(facts, matrix, decide_occupational(facts, matrix))
    if action is Action.CONSENT_RECORD:
        return Decision(True, Reason.CONSENT)
    if action is Action.BREAK_GLASS:
        return decide_break_glass(facts, matrix)
    if action is Action.NOTIFICATIONS_READ and standing.treating_physician:
        return Decision(True, Reason.TREATING_PHYSICIAN)  # the emergency notices sent them
    if action not in _CARE:
        return deny(Reason.ACTION_NOT_PERMITTED)
    if standing.treating_physician:
        return Decision(True, Reason.TREATING_PHYSICIAN, EVERYTHING)
    readable = matrix.rights(facts.profession, facts.specialty).read
    if _open(standing.authorised_until_us, facts.now_us):
        scope = Scope(Visibility.MASKED_FROM_PROFESSIONALS, readable)
        authorised = Decision(True, Reason.AUTHORISED, scope)
        return within_write_rights(facts, matrix, adjusted(facts, authorised))
    team = as_team_member(facts, Scope(Visibility.MASKED_FROM_PROFESSIONALS, readable))
    if team is not None:  # care teams (teams.py)
        return within_write_rights(facts, matrix, adjusted(facts, team))
    window = window_decision(facts, matrix)
    if window is not None:  # the patient's overrides of the matrix apply (overrides.py)
        return within_write_rights(facts, matrix, adjusted(facts, window))
    if action is Action.DOSSIER_READ:  # finding the dossier, to record consent or break glass
        return Decision(True, Reason.PROFESSIONAL_LOOKUP)
    if standing.authorised_until_us is not None:
        return deny(Reason.AUTHORISATION_EXPIRED)
    return deny(Reason.NO_AUTHORISATION)


def _represents(facts: Facts) -> bool:
    """A representative's standing: it ends at the holder's majority (when known)."""
    until = facts.standing.representative_until_us
    return facts.standing.representative and (until is None or _open(until, facts.now_us))
