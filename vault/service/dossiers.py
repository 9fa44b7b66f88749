"""Dossiers as a whole: create one, find one, and its lifecycle (close, reopen, request
its deletion, legal holds).

Every transition is decided and journaled through the gate, then applied, unless a
concurrent change overtook it. Destruction itself is the retention job's (retention/);
who may access a dossier is `access.py`'s, its documents `documents.py`'s. Where the
store enforces WORM (the `Retainer` port, ADR 0024), closure protects the dossier's
objects until its deadline, reopening releases them, and legal holds are mirrored as the
store's own holds, each after the index change is applied.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date, datetime
from typing import Protocol

from vault.birth_secrets import seal_birth_date
from vault.blobstore.base import NoRetainer, Retainer
from vault.crypto import sealed
from vault.crypto.keyprovider import KeyProvider
from vault.domain import lifecycle
from vault.domain.clock import from_us
from vault.domain.identifiers import parse_ins
from vault.domain.ids import new_id
from vault.domain.lifecycle import LegalHold
from vault.domain.majority import check_birth_date
from vault.domain.model import (
    Actor,
    ClosureReason,
    CreationMode,
    Dossier,
    Relation,
    Relationship,
)
from vault.domain.policy import Action, Facts, Standing
from vault.domain.representation import check_representation_expiry
from vault.domain.validation import hold_reason
from vault.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from vault.index.base import (
    DossierIndex,
    DossierKeyRecord,
    DossierRecord,
    LifecycleIndex,
    RetentionIndex,
)
from vault.index.births import SealedBirth
from vault.service.gate import Access, Call, Gate


def dossier_view(record: DossierRecord) -> Dossier:
    """A dossier as its callers see it."""
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


class DossiersIndex(DossierIndex, LifecycleIndex, RetentionIndex, Protocol):
    """What the dossier use cases touch: dossiers, their lifecycle and holds, and whether
    a destruction has begun (a hold comes too late then)."""


class Dossiers:
    """The use cases on a dossier as a whole."""

    def __init__(
        self,
        gate: Gate,
        *,
        index: DossiersIndex,
        keys: KeyProvider,
        rules: lifecycle.RetentionRules,
        retainer: Retainer | None = None,
    ) -> None:
        self._gate = gate
        self._index = index
        self._keys = keys
        self._rules = rules
        self._retainer: Retainer = retainer or NoRetainer()

    def create(
        self,
        actor: Actor,
        ins_text: str,
        call: Call,
        mode: CreationMode = CreationMode.OWN,
        born: date | None = None,
        representative_until_us: int | None = None,
    ) -> Dossier:
        """Opens the dossier of the holder of `ins_text`: the holder themself, their legal
        representative (recorded as such in the dossier's first transaction), or someone
        assisting them (journaled as the actor, `assisted-creation`; no access kept).
        The dossier is the holder's from its first second, whoever opened it. `born`,
        the holder's date of birth, is sealed under the dossier's first key: a
        representative's rights end at the holder's majority (a minor's only), or at
        `representative_until_us` (a protected adult's measure) if earlier."""
        gate = self._gate
        with gate.journaled(actor, Action.DOSSIER_CREATE, call) as access:
            patient_index = gate.patient_index(parse_ins(ins_text))
            is_holder = gate.actor_patient_index(actor) == patient_index
            standing = Standing(holder=is_holder)
            access.require(Facts(actor.kind, Action.DOSSIER_CREATE, None, standing, creation=mode))
            if self._index.dossier_by_patient(patient_index) is not None:
                raise AlreadyExistsError("this patient already has a dossier")
            now_us = gate.now_us()
            represented = mode is CreationMode.FOR_REPRESENTED
            if born is not None:
                check_birth_date(born, now_us, by_representative=represented)
            if representative_until_us is not None:
                if not represented:
                    raise InvalidArgumentError("only a representative's creation has an end")
                check_representation_expiry(representative_until_us, now_us)
            record = DossierRecord(new_id(now_us // 1000), patient_index, now_us, key_version=1)
            access.dossier = record.dossier_id
            representative = None
            if mode is CreationMode.FOR_REPRESENTED:
                subject = gate.actor_ref(actor)
                relation = Relation.REPRESENTATIVE
                until = representative_until_us
                representative = Relationship(record.dossier_id, relation, subject, now_us, until)
        context = sealed.dossier_key_context(record.dossier_id, 1)
        plain_key = os.urandom(sealed.KEY_SIZE)
        key = DossierKeyRecord(record.dossier_id, 1, self._keys.wrap(plain_key, context))
        birth = None
        if born is not None:
            box = seal_birth_date(plain_key, record.dossier_id, 1, born)
            birth = SealedBirth(record.dossier_id, 1, box)
        self._index.add_dossier(record, key, representative, call.request_id, birth)
        return dossier_view(record)

    def get(self, actor: Actor, call: Call, *, dossier_id: str = "", ins: str = "") -> Dossier:
        """Finds a dossier by opaque id, or by its holder's INS."""
        gate = self._gate
        with gate.journaled(actor, Action.DOSSIER_READ, call) as access, gate.reads():
            if ins:
                record = self._dossier_of_patient(actor, ins, access)
            elif dossier_id:
                record = gate.dossier(dossier_id, access)
                access.require(gate.facts(actor, Action.DOSSIER_READ, record))
            else:
                raise InvalidArgumentError("give a dossier id or an INS")
        return dossier_view(record)

    def _dossier_of_patient(self, actor: Actor, ins: str, access: Access) -> DossierRecord:
        """The dossier of the holder of `ins`, if the caller may see it. Any refusal is
        NOT_FOUND, exactly like a missing dossier (the journal keeps the real reason): an
        INS must not tell a caller whether that person has a dossier."""
        patient_index = self._gate.patient_index(parse_ins(ins))
        someone_else = self._gate.actor_patient_index(actor) not in (None, patient_index)
        try:
            if someone_else:  # a patient is refused before looking: no lookup of others
                access.require(Facts(actor.kind, Action.DOSSIER_READ, None))
            record = self._index.dossier_by_patient(patient_index)
            if record is None:
                raise NotFoundError("no such dossier")
            access.dossier = record.dossier_id
            access.require(self._gate.facts(actor, Action.DOSSIER_READ, record))
        except PermissionDeniedError:
            raise NotFoundError("no such dossier") from None
        return record

    # -- the lifecycle ---------------------------------------------------------------

    def close(self, actor: Actor, dossier_id: str, reason: ClosureReason, call: Call) -> Dossier:
        """The patient side asks for closure; the national insurer declares a death or an
        uncontested suspension. Nobody reaches the documents until a reopening."""
        gate = self._gate
        patient = reason is ClosureReason.PATIENT_REQUEST
        action = Action.DOSSIER_CLOSE if patient else Action.DOSSIER_CLOSE_DECLARED
        with gate.journaled(actor, action, call) as access:
            dossier = gate.dossier(dossier_id, access)
            if reason is ClosureReason.DELETION_REQUEST:
                raise InvalidArgumentError("a deletion is requested, not declared as a closure")
            access.require(gate.facts(actor, action, dossier))
            new = lifecycle.close(dossier.lifecycle, gate.now_us(), reason, self._rules)
        closed = self._move(dossier, new)
        if new.destroy_after_us is not None:  # WORM until the deadline (Object Lock)
            self._retainer.protect(self._blob_keys(dossier), from_us(new.destroy_after_us))
        return closed

    def reopen(self, actor: Actor, dossier_id: str, call: Call) -> Dossier:
        """The patient side reopens a closed dossier within its conservation period."""
        with self._gate.on_dossier(actor, dossier_id, Action.DOSSIER_REOPEN, call) as dossier:
            new = lifecycle.reopen(dossier.lifecycle, self._gate.now_us())
        reopened = self._move(dossier, new)
        self._retainer.release(self._blob_keys(dossier))
        return reopened

    def request_deletion(self, actor: Actor, dossier_id: str, call: Call) -> Dossier:
        """The patient side asks for early destruction: closed now, destroyed by the next
        retention run (the law allows three months)."""
        action = Action.DOSSIER_DELETION_REQUEST
        with self._gate.on_dossier(actor, dossier_id, action, call) as dossier:
            new = lifecycle.request_deletion(dossier.lifecycle, self._gate.now_us())
        return self._move(dossier, new)

    def _move(self, dossier: DossierRecord, new: lifecycle.Lifecycle) -> Dossier:
        """Applies a journaled lifecycle transition, unless a concurrent one overtook it."""
        if not self._index.set_lifecycle(dossier.dossier_id, dossier.lifecycle, new):
            raise FailedPreconditionError("the dossier changed meanwhile; try again")
        return dossier_view(replace(dossier, lifecycle=new))

    def _blob_keys(self, dossier: DossierRecord) -> list[str]:
        """The dossier's objects, for the store's own protection (`Retainer`)."""
        return [v.blob_key for v in self._index.dossier_versions(dossier.dossier_id)]

    # -- legal holds -----------------------------------------------------------------

    def place_hold(self, actor: Actor, dossier_id: str, reason: str, call: Call) -> LegalHold:
        """An operator places a legal hold: the dossier is never destroyed while it holds."""
        gate = self._gate
        with gate.on_dossier(actor, dossier_id, Action.DOSSIER_HOLD, call) as dossier:
            placed_by, reason = gate.actor_ref(actor), hold_reason(reason)
            if self._index.destruction(dossier.dossier_id) is not None:
                raise FailedPreconditionError("the dossier's destruction has begun")
            hold = LegalHold(0, dossier.dossier_id, gate.now_us(), placed_by, reason)
        hold_id = self._index.add_hold(hold)
        if not hold_id:  # a destruction began since the decision
            raise FailedPreconditionError("the dossier's destruction has begun")
        self._retainer.hold(self._blob_keys(dossier), on=True)
        return replace(hold, hold_id=hold_id)

    def list_holds(self, actor: Actor, dossier_id: str, call: Call) -> list[LegalHold]:
        """Operators and auditors: the dossier's legal holds, in force or released, oldest
        first. Read once the decision is journaled."""
        with self._gate.on_dossier(actor, dossier_id, Action.DOSSIER_HOLD_LIST, call) as dossier:
            pass
        return self._index.holds(dossier.dossier_id)

    def release_hold(
        self, actor: Actor, dossier_id: str, hold_id: int, reason: str, call: Call
    ) -> None:
        """An operator releases a legal hold in force, saying why."""
        gate = self._gate
        with gate.on_dossier(actor, dossier_id, Action.DOSSIER_RELEASE, call) as dossier:
            reason = hold_reason(reason)
            in_force = (h for h in self._index.holds(dossier.dossier_id) if h.released_us is None)
            if not any(h.hold_id == hold_id for h in in_force):
                raise NotFoundError("no such hold in force on this dossier")
            released_by, now_us = gate.actor_ref(actor), gate.now_us()
            hold = LegalHold(hold_id, dossier.dossier_id, 0, "", "", now_us, released_by, reason)
        if not self._index.release_hold(hold):  # released by someone else since the decision
            raise NotFoundError("no such hold in force on this dossier")
        if all(h.released_us is not None for h in self._index.holds(dossier.dossier_id)):
            self._retainer.hold(self._blob_keys(dossier), on=False)
