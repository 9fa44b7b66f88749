"""Who may access a dossier: authorisations, consent, blocks, legal representatives, the
treating physician, the emergency objections and break-the-glass (with the SAMU
regulator's access), the holder's grant to an occupational physician, care teams (their
use cases are careteams.py's), and the patient side's view of them (the access list; the
notification outbox, the treating physician's emergency notices included, is
`notifications.py`'s).

Each use case decides on the dossier as a whole through the gate (`Gate.on_dossier`),
then records the change in the index. What the rules mean for a request is the policy's
(`vault.domain.policy`); the journal's read side is `journal.py`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from vault.domain.identifiers import parse_ins, parse_rpps
from vault.domain.ids import parse_id
from vault.domain.model import (
    DECLARED_CONSENT,
    AccessRules,
    Actor,
    ActorKind,
    CareTeam,
    EmergencyReason,
    Notification,
    NotificationKind,
    Relation,
    Relationship,
)
from vault.domain.notices import representative_ended
from vault.domain.policy import Action, Reason
from vault.domain.policy.consent import THE_DAY, ConsentWindow
from vault.domain.representation import (
    check_not_own_representation,
    check_representation_expiry,
    check_within_own_term,
)
from vault.errors import FailedPreconditionError, NotFoundError
from vault.index.base import AccessIndex, DocumentIndex, DossierRecord, NoticeIndex
from vault.index.overrides import OverrideIndex
from vault.service.careteams import CareTeams
from vault.service.gate import Call, Gate
from vault.service.overrides import MatrixOverrides

AUTHORISATION_LIFETIME_US = 365 * 24 * 3600 * 1_000_000  # renewable
EMERGENCY_WINDOW_US = 3600 * 1_000_000


class AccessControlIndex(AccessIndex, DocumentIndex, NoticeIndex, OverrideIndex, Protocol):
    """The access records, which documents are a minor's confidential care, and the
    notices queued on their own (a representative's rights ended)."""


class AccessControl:
    """The use cases on who may access a dossier."""

    def __init__(
        self, gate: Gate, *, index: AccessControlIndex, consent_window: ConsentWindow = THE_DAY
    ) -> None:
        self._gate = gate
        self._index = index
        self._consent_window = consent_window
        self._teams = CareTeams(gate, index)
        self.overrides = MatrixOverrides(gate, index)  # the patient's, of the matrix

    def authorise(self, actor: Actor, dossier_id: str, rpps: str, call: Call) -> Relationship:
        """The patient side authorises a professional for a year (again: renews)."""
        with self._gate.on_dossier(actor, dossier_id, Action.ACCESS_AUTHORISE, call) as dossier:
            entry = self._window(
                dossier, Relation.AUTHORISED, parse_rpps(rpps), AUTHORISATION_LIFETIME_US
            )
        self._index.set_relationship(entry, call.request_id, replacing=(Relation.BLOCKED,))
        return entry

    def record_consent(self, actor: Actor, dossier_id: str, call: Call) -> Relationship:
        """A professional declares the patient's consent, given at a consultation: the
        dossier opens to them for the consent window (`VAULT_CONSENT_WINDOW`, the day by
        default), never shortening a longer authorisation the patient side gave. The
        allow entry (`access.consent`, reason `consent`) is the declaration; the holder
        gets the first-access notice (once per professional), queued before the window
        opens: a crash in between may announce a consent that opened nothing, never
        open one unannounced."""
        with self._gate.on_dossier(actor, dossier_id, Action.CONSENT_RECORD, call) as dossier:
            now_us = self._gate.now_us()
            until = self._consent_window.until_us(now_us)
            held = self._authorisation(dossier, actor.subject)
            entry = Relationship(
                dossier.dossier_id,
                Relation.AUTHORISED,
                actor.subject,
                now_us,
                until,
                actor.profession,
                DECLARED_CONSENT,
            )
        self._gate.notify_first_access(actor, dossier, call)
        if held is not None and held.expires_us is not None and held.expires_us >= until:
            return held  # the patient's own authorisation lasts longer: kept as it is
        self._index.set_relationship(entry, call.request_id)
        return entry

    def _authorisation(self, dossier: DossierRecord, subject: str) -> Relationship | None:
        return self._relation(dossier, Relation.AUTHORISED, subject)

    def _relation(
        self, dossier: DossierRecord, relation: Relation, subject: str
    ) -> Relationship | None:
        entries = self._index.relationships(dossier.dossier_id, subject)
        return next((e for e in entries if e.relation is relation), None)

    def block(self, actor: Actor, dossier_id: str, rpps: str, call: Call) -> Relationship:
        """The patient side blocks a professional (any authorisation ends)."""
        with self._gate.on_dossier(actor, dossier_id, Action.ACCESS_BLOCK, call) as dossier:
            subject = parse_rpps(rpps)
            if self._has(dossier, Relation.TREATING, subject):
                raise FailedPreconditionError("the treating physician cannot be blocked")
            entry = Relationship(dossier.dossier_id, Relation.BLOCKED, subject, self._gate.now_us())
        self._index.set_relationship(entry, call.request_id, replacing=(Relation.AUTHORISED,))
        return entry

    def revoke(self, actor: Actor, dossier_id: str, rpps: str, call: Call) -> None:
        self._remove(
            actor,
            dossier_id,
            Action.ACCESS_REVOKE,
            Relation.AUTHORISED,
            lambda: parse_rpps(rpps),
            call,
        )

    def unblock(self, actor: Actor, dossier_id: str, rpps: str, call: Call) -> None:
        self._remove(
            actor,
            dossier_id,
            Action.ACCESS_UNBLOCK,
            Relation.BLOCKED,
            lambda: parse_rpps(rpps),
            call,
        )

    def add_representative(
        self, actor: Actor, dossier_id: str, ins: str, call: Call, expires_us: int | None = None
    ) -> Relationship:
        """The patient side records a legal representative (again: in place of the
        recorded one). `expires_us`: a protected adult's measure ends then (tutelle,
        curatelle; vault/domain/representation.py), the rights with it; None: until
        removed, or the holder's majority. Nobody records their own representation, nor,
        a representative whose measure ends, anyone beyond that end."""
        action, gate = Action.REPRESENTATIVE_ADD, self._gate
        with gate.on_dossier(actor, dossier_id, action, call) as dossier:
            subject, now_us = gate.ins_ref(parse_ins(ins)), gate.now_us()
            check_not_own_representation(gate.actor_ref(actor), subject)
            if expires_us is not None:
                check_representation_expiry(expires_us, now_us)
            if actor.kind is ActorKind.LEGAL_REPRESENTATIVE:  # not beyond their own end
                own = self._relation(dossier, Relation.REPRESENTATIVE, gate.actor_ref(actor))
                check_within_own_term(None if own is None else own.expires_us, expires_us)
            relation = Relation.REPRESENTATIVE
            entry = Relationship(dossier.dossier_id, relation, subject, now_us, expires_us)
        self._index.set_relationship(entry, call.request_id)
        return entry

    def remove_representative(self, actor: Actor, dossier_id: str, ins: str, call: Call) -> None:
        """Ends a representative's rights; the holder is told (`rights_ended`)."""

        def subject() -> str:  # parsed in the decision: a malformed INS is journaled
            return self._gate.ins_ref(parse_ins(ins))

        action, relation = Action.REPRESENTATIVE_REMOVE, Relation.REPRESENTATIVE
        self._remove(actor, dossier_id, action, relation, subject, call)
        dossier = parse_id(dossier_id, "dossier id")
        ended = representative_ended(dossier, subject(), self._gate.now_us(), call.request_id)
        self._index.queue_notice(ended)

    def _remove(
        self,
        actor: Actor,
        dossier_id: str,
        action: Action,
        relation: Relation,
        subject_of: Callable[[], str],
        call: Call,
    ) -> None:
        """Ends one relation; NOT_FOUND (journaled as such) if there is none to end."""
        with self._gate.on_dossier(actor, dossier_id, action, call) as dossier:
            subject = subject_of()
            if not self._has(dossier, relation, subject):
                raise NotFoundError(f"no such {relation.value} entry")
        self._index.remove_relationship(
            dossier.dossier_id, relation, subject, self._gate.now_us(), call.request_id
        )

    def _has(self, dossier: DossierRecord, relation: Relation, subject: str) -> bool:
        entries = self._index.relationships(dossier.dossier_id, subject)
        return any(e.relation is relation for e in entries)

    def set_emergency_access(
        self,
        actor: Actor,
        dossier_id: str,
        allowed: bool,
        call: Call,
        *,
        break_glass: bool = True,
        regulation: bool = True,
    ) -> None:
        """The patient side allows or objects to emergency access: break-the-glass, the
        SAMU regulator's access, or both (the default: the setting's older meaning). An
        objection closes every open window of its kind for good (in the same index
        transaction): allowing again later opens none; a new glass must be broken."""
        action = Action.EMERGENCY_SETTING
        with self._gate.on_dossier(actor, dossier_id, action, call) as dossier:
            pass  # the decision is all there is to check
        refused = not allowed
        self._index.set_emergency_objections(
            dossier.dossier_id,
            refused if break_glass else None,
            refused if regulation else None,
            self._gate.now_us(),
            call.request_id,
        )

    def grant_occupational(
        self, actor: Actor, dossier_id: str, rpps: str, call: Call
    ) -> Relationship:
        """The holder's express consent to one occupational physician (by RPPS), for a
        year, revocable: the only way such a physician reads (never a declared consent)."""
        with self._gate.on_dossier(actor, dossier_id, Action.OCCUPATIONAL_GRANT, call) as dossier:
            entry = self._window(
                dossier, Relation.OCCUPATIONAL, parse_rpps(rpps), AUTHORISATION_LIFETIME_US
            )
        self._index.set_relationship(entry, call.request_id)
        return entry

    def revoke_occupational(self, actor: Actor, dossier_id: str, rpps: str, call: Call) -> None:
        self._remove(
            actor,
            dossier_id,
            Action.OCCUPATIONAL_REVOKE,
            Relation.OCCUPATIONAL,
            lambda: parse_rpps(rpps),
            call,
        )

    def set_treating_physician(
        self, actor: Actor, dossier_id: str, rpps: str | None, call: Call
    ) -> None:
        """The national insurer records the declared treating physician (None: none).

        The treating physician cannot be blocked: designating a blocked professional
        lifts the block (decided `block-lifted`, journaled as such), and the holder is
        told. A former treating physician keeps nothing, and is not blocked again."""
        gate, action = self._gate, Action.TREATING_PHYSICIAN_SET
        with gate.journaled(actor, action, call) as access, gate.reads():
            dossier = gate.dossier(dossier_id, access)
            facts = gate.facts(actor, action, dossier)
            access.require(facts)
            entry, lifted = None, False
            if rpps is not None:
                subject = parse_rpps(rpps)
                entry = Relationship(dossier.dossier_id, Relation.TREATING, subject, gate.now_us())
                blocked = self._has(dossier, Relation.BLOCKED, subject)
                decision = access.require(replace(facts, target_blocked=blocked))
                lifted = decision.reason is Reason.BLOCK_LIFTED
        self._index.set_treating_physician(
            dossier.dossier_id, entry, gate.now_us(), call.request_id
        )
        if entry is not None and lifted:
            self._lift_block(entry, call)

    def _lift_block(self, treating: Relationship, call: Call) -> None:
        """Tells the holder, then removes the block. The notice is queued with the
        treating relation it announces (recorded again, unchanged); a crash before the
        removal leaves a block the policy already ignores (the treating physician wins),
        and the designation, retried, completes it."""
        notice = Notification(
            treating.dossier_id,
            NotificationKind.BLOCK_LIFTED,
            treating.subject,
            treating.created_us,
            call.request_id,
        )
        self._index.notify(notice, treating)
        self._index.remove_relationship(
            treating.dossier_id,
            Relation.BLOCKED,
            treating.subject,
            treating.created_us,
            call.request_id,
        )

    def break_glass(
        self, actor: Actor, dossier_id: str, reason: EmergencyReason, call: Call
    ) -> Relationship:
        """A professional opens the dossier without authorisation for a short window:
        break-the-glass, or the SAMU regulator's access when the reason is regulation
        (each barred by its own objection). The holder and the treating physician (if
        any, and not the caller) are notified in the transaction that opens the window;
        the journal flags it."""
        gate, action = self._gate, Action.BREAK_GLASS
        with gate.journaled(actor, action, call) as access, gate.reads():
            dossier = gate.dossier(dossier_id, access)
            regulation = reason is EmergencyReason.SAMU_REGULATION
            access.require(replace(gate.facts(actor, action, dossier), regulation=regulation))
            entry = self._window(
                dossier,
                Relation.EMERGENCY,
                actor.subject,
                EMERGENCY_WINDOW_US,
                actor.profession,
                reason.value,
            )
            notice = Notification(
                dossier.dossier_id,
                NotificationKind.EMERGENCY_ACCESS,
                actor.subject,
                entry.created_us,
                call.request_id,
                actor.profession,
                reason.value,
            )
            treating = self._treating_physician(dossier, actor.subject)
        copies = [] if treating is None else [replace(notice, recipient=treating)]
        self._index.notify(notice, entry, copies)
        return entry

    def _treating_physician(self, dossier: DossierRecord, caller: str) -> str | None:
        """The dossier's treating physician's RPPS, unless none or the caller."""
        entries = self._index.relationships(dossier.dossier_id)
        treating = [e.subject for e in entries if e.relation is Relation.TREATING]
        return treating[0] if treating and treating[0] != caller else None

    def _window(
        self,
        dossier: DossierRecord,
        relation: Relation,
        subject: str,
        lifetime_us: int,
        profession: str | None = None,
        detail: str | None = None,
    ) -> Relationship:
        """A relation that starts now and lasts `lifetime_us`."""
        now_us = self._gate.now_us()
        return Relationship(
            dossier.dossier_id, relation, subject, now_us, now_us + lifetime_us, profession, detail
        )

    def rules(self, actor: Actor, dossier_id: str, call: Call) -> AccessRules:
        """The patient side's view of who may (or may not) access the dossier, care
        teams included (their names opened after the allow entry is written)."""
        with self._gate.on_dossier(actor, dossier_id, Action.ACCESS_READ, call) as dossier:
            entries = self._index.relationships(dossier.dossier_id)
        shown = tuple(e for e in entries if e.relation is not Relation.SEEN)
        teams = self._teams.listed(dossier.dossier_id)
        overrides = self._index.matrix_overrides(dossier.dossier_id)
        return AccessRules(
            shown, dossier.emergency_refused, dossier.regulation_refused, teams, overrides
        )

    def add_care_team(
        self,
        actor: Actor,
        dossier_id: str,
        name: str,
        members: tuple[str, ...],
        expires_us: int | None,
        call: Call,
    ) -> CareTeam:
        """The patient side lets a care team in (careteams.py)."""
        return self._teams.add(actor, dossier_id, name, members, expires_us, call)

    def remove_care_team(self, actor: Actor, dossier_id: str, team_id: str, call: Call) -> None:
        """The patient side refuses a care team as a whole (careteams.py)."""
        self._teams.remove(actor, dossier_id, team_id, call)
