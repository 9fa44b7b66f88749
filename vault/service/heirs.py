"""A deceased holder's heirs (issue 15, item 4): an operator grants an heir's access on a
recorded request, and the holder, while alive, objects to it (or withdraws the
objection). Both are decided and journaled through the gate, then applied.

What an heir then reads goes through the ordinary document calls (`documents.py`): the
gate finds the heir's grant (`Gate._heir_until`) and the policy gives them the heirs'
scope (vault/domain/policy/heirs.py). The dossier is never reopened.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from vault.domain import heirs
from vault.domain.heirs import HeirGrant, HeirPurpose
from vault.domain.identifiers import parse_ins
from vault.domain.lifecycle import RetentionRules
from vault.domain.model import Actor
from vault.domain.policy import Action
from vault.index.base import HeirIndex
from vault.service.gate import Call, Gate


class HeirsIndex(HeirIndex, Protocol):
    """The heirs' grants and the holder's objection."""


class Heirs:
    """The use cases on heirs' access to a deceased holder's dossier."""

    def __init__(self, gate: Gate, *, index: HeirsIndex, rules: RetentionRules) -> None:
        self._gate = gate
        self._index = index
        self._rules = rules

    def grant(
        self,
        actor: Actor,
        dossier_id: str,
        heir_ins: str,
        purpose: HeirPurpose,
        reference: str,
        expires_us: int,
        call: Call,
    ) -> HeirGrant:
        """An operator grants an heir read access to the deceased's documents, until
        `expires_us`, on the request `reference` for `purpose`."""
        gate, action = self._gate, Action.HEIR_GRANT
        with gate.journaled(actor, action, call) as access, gate.reads():
            dossier = gate.dossier(dossier_id, access)
            objection = self._index.posthumous_objection(dossier.dossier_id)
            facts = gate.facts(actor, action, dossier)
            access.require(replace(facts, posthumous_objection=objection))
            heir, reference = gate.ins_ref(parse_ins(heir_ins)), heirs.request_reference(reference)
            now_us = gate.now_us()
            longest = self._rules.heir_access_max_days
            heirs.check_expiry(dossier.lifecycle, now_us, expires_us, longest)
            grant = HeirGrant(
                dossier.dossier_id,
                heir,
                purpose,
                reference,
                now_us,
                expires_us,
                gate.actor_ref(actor),
                call.request_id,
            )
        return replace(grant, grant_id=self._index.add_heir_grant(grant))

    def set_objection(self, actor: Actor, dossier_id: str, objects: bool, call: Call) -> None:
        """The holder, alive, objects to their heirs' access after their death (or
        withdraws the objection)."""
        action = Action.POSTHUMOUS_OBJECTION
        with self._gate.on_dossier(actor, dossier_id, action, call) as dossier:
            now_us = self._gate.now_us()
        self._index.set_posthumous_objection(dossier.dossier_id, objects, now_us, call.request_id)
