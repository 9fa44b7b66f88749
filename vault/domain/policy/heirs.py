"""The rules about a deceased holder's heirs (issue 15, item 4): who grants their access,
what it opens, and the holder's objection while alive. `decide_heirs` answers the
requests these rules own and None for every other, which `rules.decide` then decides.

* **The grant** (`dossier.heir-grant`): an operator's, on a recorded request, to a
  dossier closed for a death only (`not-deceased` otherwise), never when the holder
  objected while alive (`posthumous-objection`).
* **The heir's reads**: a patient-kind caller (the heir, by their own INS) with a grant
  on that dossier reads it (`dossier.read`), lists, counts and reads its documents, and
  nothing else (`action-not-permitted`), until the grant's expiry
  (`heir-access-expired`). Their scope leaves out what the deceased kept from others or
  never saw: masked documents, a minor's confidential care, a document still held back
  from the patient. The dossier stays closed: nobody else reads it.
* **The objection** (`dossier.posthumous-objection`): the holder's alone, while the
  dossier is active (the holder alive); a representative does not object for them.

Pure: plain facts in, a decision out; docs/access-control.md gives the articles.
"""

from __future__ import annotations

from vault.domain.lifecycle import released_up_to_us
from vault.domain.model import ActorKind, ClosureReason, DossierState, Visibility
from vault.domain.policy.codes import Action, Reason
from vault.domain.policy.documents import decide_document
from vault.domain.policy.facts import Facts
from vault.domain.policy.matrix import ALL_CATEGORIES
from vault.domain.policy.scope import Decision, Scope, deny

HEIR_READS = frozenset({Action.DOSSIER_READ, Action.DOCUMENT_LIST, Action.DOCUMENT_READ})
HEIR_HIDDEN = (
    Visibility.MASKED_FROM_PROFESSIONALS
    | Visibility.HIDDEN_FROM_REPRESENTATIVES
    | Visibility.HIDDEN_FROM_PATIENT
)
"""What an heir never reads: what the deceased masked, a minor's secret care, and what
was held back from the deceased (unless its delay ran, as for the holder)."""


def decide_heirs(facts: Facts) -> Decision | None:
    """The decision when the heirs' rules own the request, else None."""
    if facts.action is Action.HEIR_GRANT:
        return _grant(facts)
    if facts.action is Action.POSTHUMOUS_OBJECTION:
        return _objection(facts)
    if _is_heir(facts):
        return _heir_reads(facts)
    return None


def _deceased(facts: Facts) -> bool:
    return (
        facts.dossier_state is DossierState.CLOSED and facts.closure_reason is ClosureReason.DEATH
    )


def _grant(facts: Facts) -> Decision:
    if facts.actor_kind is not ActorKind.OPERATOR:
        return deny(Reason.ACTION_NOT_PERMITTED)
    if not _deceased(facts):
        return deny(Reason.NOT_DECEASED)
    if facts.posthumous_objection:
        return deny(Reason.POSTHUMOUS_OBJECTION)
    return Decision(True, Reason.OPERATOR)


def _objection(facts: Facts) -> Decision:
    if facts.actor_kind is not ActorKind.PATIENT or not facts.standing.holder:
        return deny(Reason.NOT_HOLDER)
    if facts.dossier_state is not DossierState.ACTIVE:
        return deny(Reason.DOSSIER_NOT_ACTIVE)
    return Decision(True, Reason.HOLDER)


def _is_heir(facts: Facts) -> bool:
    standing = facts.standing
    return (
        facts.actor_kind is ActorKind.PATIENT
        and not standing.holder
        and standing.heir_until_us is not None
        and _deceased(facts)
    )


def _heir_reads(facts: Facts) -> Decision:
    until = facts.standing.heir_until_us
    if until is None or facts.now_us is None or facts.now_us >= until:
        return deny(Reason.HEIR_ACCESS_EXPIRED)
    if facts.action not in HEIR_READS:
        return deny(Reason.ACTION_NOT_PERMITTED)
    released = released_up_to_us(facts.now_us, facts.release_months)
    decision = Decision(True, Reason.HEIR, Scope(HEIR_HIDDEN, ALL_CATEGORIES, released))
    if facts.document is None:
        return decision
    return decide_document(facts.document, decision)
