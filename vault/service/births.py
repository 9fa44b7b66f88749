"""The holder's date of birth set or corrected after creation (issue 15, item 3): the
use case behind `SetBirthDate`. Who may is the policy's (`dossier.birth-date`,
vault/domain/policy/birth.py: the holder always; a representative while still one and
never to a date of age); here the date is checked (not in the future; for the holder,
agreeing with the year and month of their NIR), decided and journaled, then sealed under
the dossier's current key version in place of any recorded one.

Not here: what the date decides (vault/domain/majority.py), its format (birth_secrets.py),
recording it at creation (dossiers.py), re-sealing it at rotation (rotation.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Protocol

from vault.birth_secrets import seal_birth_date
from vault.domain.identifiers import parse_ins
from vault.domain.majority import check_birth_date, majority_us
from vault.domain.model import Actor, ActorKind
from vault.domain.policy import Action
from vault.domain.representation import agrees_with_nir
from vault.errors import FailedPreconditionError
from vault.index.births import BirthIndex, SealedBirth
from vault.service.gate import Call, Gate


class BirthDatesIndex(BirthIndex, Protocol):
    """Where the sealed date of birth is written."""


class BirthDates:
    """The use case on the holder's date of birth, once the dossier exists."""

    def __init__(self, gate: Gate, *, index: BirthDatesIndex) -> None:
        self._gate = gate
        self._index = index

    def set(self, actor: Actor, dossier_id: str, born: date, call: Call) -> None:
        """Records `born` as the holder's date of birth, in place of any recorded one:
        decided (with the majority it gives) and journaled first, sealed after. The date
        takes effect at the next request: a representative's standing is read from it."""
        gate, action = self._gate, Action.BIRTH_DATE_SET
        with gate.journaled(actor, action, call) as access:
            with gate.reads():
                dossier = gate.dossier(dossier_id, access)
                facts = gate.facts(actor, action, dossier)
            access.require(replace(facts, new_majority_us=majority_us(born)))
            check_birth_date(born, gate.now_us(), by_representative=False)  # not ahead
            if actor.kind is ActorKind.PATIENT and not agrees_with_nir(
                parse_ins(actor.subject), born
            ):
                raise FailedPreconditionError(
                    "the date of birth does not agree with the year and month of the INS"
                )
        version = dossier.key_version
        key = gate.dossier_key(dossier.dossier_id, version)
        box = seal_birth_date(key, dossier.dossier_id, version, born)
        self._index.set_birth(SealedBirth(dossier.dossier_id, version, box))
