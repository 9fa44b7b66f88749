"""Who opens a dossier (issue 15, item 5; CSP L.1111-14 as we read it, article
unverified): the holder themself; a legal representative, for the person they represent
(a minor, a protected adult), who is recorded as their representative in the same
transaction; or, assisted, a professional or the national insurer's office (a CPAM
agent) on the holder's behalf, who keeps no access from having opened it. The mode a
request states must be its caller's: a representative does not open a dossier as its
holder, nor a professional as a representative.

Pure: plain facts in, a decision out.
"""

from __future__ import annotations

from vault.domain.model import ActorKind, CreationMode
from vault.domain.policy.codes import Reason
from vault.domain.policy.facts import Facts
from vault.domain.policy.scope import Decision, deny

_ASSISTANTS = frozenset({ActorKind.PROFESSIONAL, ActorKind.INSURER})


def decide_creation(facts: Facts) -> Decision:
    if facts.dossier_state is not None:  # creation is decided before any dossier exists
        return deny(Reason.ACTION_NOT_PERMITTED)
    kind, mode = facts.actor_kind, facts.creation
    if mode is CreationMode.OWN and kind is ActorKind.PATIENT:
        return Decision(True, Reason.HOLDER) if facts.standing.holder else deny(Reason.NOT_HOLDER)
    if mode is CreationMode.FOR_REPRESENTED and kind is ActorKind.LEGAL_REPRESENTATIVE:
        return Decision(True, Reason.REPRESENTATIVE)
    if mode is CreationMode.ASSISTED and kind in _ASSISTANTS:
        return Decision(True, Reason.ASSISTED_CREATION)
    return deny(Reason.ACTION_NOT_PERMITTED)
