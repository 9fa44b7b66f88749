"""What is left of a dossier destroyed at its holder's request (issue 15, item 6): the
notice that the deletion was carried out, which the holder alone reads
(`notifications.read`, reason `holder`, an empty scope: no document is left). Everything
else, and everyone else, gets `dossier-not-active`, as for any destroyed dossier.

Pure: `Standing.holder` says the caller is the holder the receipt names, while it is
kept (the gate reads it: vault/service/receipts.py).
"""

from __future__ import annotations

from vault.domain.model import ActorKind
from vault.domain.policy.codes import Action, Reason
from vault.domain.policy.facts import Facts
from vault.domain.policy.scope import NOTHING, Decision, deny


def decide_destroyed(facts: Facts) -> Decision:
    holder = facts.actor_kind is ActorKind.PATIENT and facts.standing.holder
    if holder and facts.action is Action.NOTIFICATIONS_READ:
        return Decision(True, Reason.HOLDER, NOTHING)
    return deny(Reason.DOSSIER_NOT_ACTIVE)
