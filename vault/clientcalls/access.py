"""`VaultClient`'s access calls: `ChangeAccess` (authorise, revoke, block, unblock,
representatives, emergency objections, treating physician, consent, occupational
grants, care teams), `ListAccess`,
`BreakGlass` and the patient's notifications."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from vault import wire, wire_grants
from vault.clientcalls.base import CallsBase
from vault.domain.model import (
    AccessRules,
    CareTeam,
    DocumentCategory,
    EmergencyReason,
    MatrixOverride,
    Notification,
    Relationship,
)
from vault.errors import VaultError
from vault.v1 import vault_pb2 as pb


class AccessCalls(CallsBase):
    def _change(self, dossier_id: uuid.UUID | str, **change: Any) -> pb.ChangeAccessResponse:
        request = pb.ChangeAccessRequest(dossier_id=str(dossier_id), **change)
        reply: pb.ChangeAccessResponse = self._call(self._stub.ChangeAccess, request)
        return reply

    def _entry(self, dossier_id: uuid.UUID | str, **change: Any) -> Relationship:
        """A change that records an entry (authorise, block, representative, consent):
        the server always answers with it."""
        reply = self._change(dossier_id, **change)
        if not reply.HasField("entry"):
            raise VaultError("the vault answered an access change without its entry")
        return wire.access_entry_from_proto(uuid.UUID(str(dossier_id)), reply.entry)

    def authorise(self, dossier_id: uuid.UUID | str, rpps: str) -> Relationship:
        return self._entry(dossier_id, authorise=rpps)

    def revoke(self, dossier_id: uuid.UUID | str, rpps: str) -> None:
        self._change(dossier_id, revoke=rpps)

    def block(self, dossier_id: uuid.UUID | str, rpps: str) -> Relationship:
        return self._entry(dossier_id, block=rpps)

    def unblock(self, dossier_id: uuid.UUID | str, rpps: str) -> None:
        self._change(dossier_id, unblock=rpps)

    def add_representative(
        self, dossier_id: uuid.UUID | str, ins: str, *, until: datetime | None = None
    ) -> Relationship:
        """Records a legal representative; `until`: their rights end then (a protected
        adult's measure), or at the holder's majority if earlier."""
        if until is None:
            return self._entry(dossier_id, add_representative=ins)
        limited = pb.RepresentativeUntil(ins=ins, expires_at=wire.timestamp(until))
        return self._entry(dossier_id, add_representative_until=limited)

    def remove_representative(self, dossier_id: uuid.UUID | str, ins: str) -> None:
        self._change(dossier_id, remove_representative=ins)

    def set_emergency_access(self, dossier_id: uuid.UUID | str, allowed: bool) -> None:
        """Both emergency accesses at once: break-the-glass and the SAMU regulator's."""
        self._change(dossier_id, allow_emergency_access=allowed)

    def set_break_glass(self, dossier_id: uuid.UUID | str, allowed: bool) -> None:
        self._change(dossier_id, allow_break_glass=allowed)

    def set_regulation_access(self, dossier_id: uuid.UUID | str, allowed: bool) -> None:
        self._change(dossier_id, allow_regulation=allowed)

    def grant_occupational(self, dossier_id: uuid.UUID | str, rpps: str) -> Relationship:
        """The holder's express consent to an occupational physician."""
        return self._entry(dossier_id, grant_occupational=rpps)

    def revoke_occupational(self, dossier_id: uuid.UUID | str, rpps: str) -> None:
        self._change(dossier_id, revoke_occupational=rpps)

    def open_category(
        self, dossier_id: uuid.UUID | str, rpps: str, category: DocumentCategory
    ) -> MatrixOverride:
        """The patient opens `category` to the professional `rpps`, beyond their row."""
        return self._override(dossier_id, "open_category", rpps, category)

    def close_category(
        self, dossier_id: uuid.UUID | str, rpps: str, category: DocumentCategory
    ) -> MatrixOverride:
        """The patient closes `category` to the professional `rpps`."""
        return self._override(dossier_id, "close_category", rpps, category)

    def clear_category(
        self, dossier_id: uuid.UUID | str, rpps: str, category: DocumentCategory
    ) -> None:
        """The matrix decides `category` for `rpps` again."""
        self._change(dossier_id, clear_category=_override_request(rpps, category))

    def _override(
        self, dossier_id: uuid.UUID | str, field: str, rpps: str, category: DocumentCategory
    ) -> MatrixOverride:
        reply = self._change(dossier_id, **{field: _override_request(rpps, category)})
        if not reply.HasField("matrix_override"):
            raise VaultError("the vault answered an override without it")
        dossier = uuid.UUID(str(dossier_id))
        return wire_grants.matrix_override_from_proto(dossier, reply.matrix_override)

    def set_treating_physician(self, dossier_id: uuid.UUID | str, rpps: str | None) -> None:
        if rpps is None:
            self._change(dossier_id, clear_treating_physician=True)
        else:
            self._change(dossier_id, set_treating_physician=rpps)

    def record_consent(self, dossier_id: uuid.UUID | str) -> Relationship:
        return self._entry(dossier_id, record_consent=True)

    def add_care_team(
        self,
        dossier_id: uuid.UUID | str,
        name: str,
        members: list[str] | tuple[str, ...],
        *,
        expires: datetime | None = None,
    ) -> CareTeam:
        """Lets a care team in (until `expires`; None: a year); the team, with its id."""
        team = pb.CareTeam(name=name, members=list(members))
        if expires is not None:
            team.expires_at.CopyFrom(wire.timestamp(expires))
        reply = self._change(dossier_id, add_care_team=team)
        if not reply.HasField("care_team"):
            raise VaultError("the vault answered a care team's addition without the team")
        return wire_grants.care_team_from_proto(uuid.UUID(str(dossier_id)), reply.care_team)

    def remove_care_team(self, dossier_id: uuid.UUID | str, team_id: uuid.UUID | str) -> None:
        self._change(dossier_id, remove_care_team=str(team_id))

    def list_access(self, dossier_id: uuid.UUID | str) -> AccessRules:
        reply = self._call(self._stub.ListAccess, pb.ListAccessRequest(dossier_id=str(dossier_id)))
        dossier = uuid.UUID(str(dossier_id))
        entries = tuple(wire.access_entry_from_proto(dossier, e) for e in reply.entries)
        teams = tuple(wire_grants.care_team_from_proto(dossier, t) for t in reply.care_teams)
        overrides = tuple(
            wire_grants.matrix_override_from_proto(dossier, o) for o in reply.matrix_overrides
        )
        return AccessRules(
            entries,
            reply.emergency_access_refused,
            reply.regulation_access_refused,
            teams,
            overrides,
        )

    def break_glass(self, dossier_id: uuid.UUID | str, reason: EmergencyReason) -> Relationship:
        request = pb.BreakGlassRequest(
            dossier_id=str(dossier_id), reason=wire.emergency_reason_to_proto(reason)
        )
        reply = self._call(self._stub.BreakGlass, request)
        return wire.access_entry_from_proto(uuid.UUID(str(dossier_id)), reply)

    def notifications(
        self, dossier_id: uuid.UUID | str, *, after_id: int = 0, page_size: int | None = None
    ) -> list[Notification]:
        """The patient's notification outbox after `after_id`, oldest first (the
        treating physician's: the emergency accesses they were told of)."""
        request = pb.ListNotificationsRequest(
            dossier_id=str(dossier_id), after_id=after_id, page_size=page_size
        )
        reply = self._call(self._stub.ListNotifications, request)
        dossier = uuid.UUID(str(dossier_id))
        return [wire.notification_from_proto(dossier, n) for n in reply.notifications]


def _override_request(rpps: str, category: DocumentCategory) -> pb.MatrixOverride:
    return pb.MatrixOverride(professional=rpps, category=wire.category_to_proto(category))
