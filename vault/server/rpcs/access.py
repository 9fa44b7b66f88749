"""The access RPCs: `ChangeAccess` (one change per request, mapped to its action and
use case; a care team added answers with the team), `ListAccess` (care teams included),
`BreakGlass`. Each calls `Vault.access` through `Calls`. The notification outbox's RPCs
are `notifications.py`'s.
"""

from __future__ import annotations

from collections.abc import Callable

from vault import wire, wire_grants
from vault.domain.model import Actor, CareTeam, DocumentCategory, MatrixOverride, Relationship
from vault.domain.policy import Action
from vault.errors import InvalidArgumentError
from vault.server.calls import Context
from vault.server.rpcs.base import Rpcs
from vault.service import Call
from vault.v1 import vault_pb2 as pb

_Entry = Relationship | CareTeam | MatrixOverride | None
_UseCase = Callable[[Actor, Call], _Entry]


class AccessRpcs(Rpcs):
    def _access_change(self, request: pb.ChangeAccessRequest) -> tuple[Action, _UseCase]:
        """The action a change request asks for, and the use case that performs it."""
        access, dossier = self._vault.access, request.dossier_id
        overrides = access.overrides
        changes: dict[str, tuple[Action, _UseCase]] = {
            "authorise": (
                Action.ACCESS_AUTHORISE,
                lambda a, c: access.authorise(a, dossier, request.authorise, c),
            ),
            "revoke": (
                Action.ACCESS_REVOKE,
                lambda a, c: access.revoke(a, dossier, request.revoke, c),
            ),
            "block": (Action.ACCESS_BLOCK, lambda a, c: access.block(a, dossier, request.block, c)),
            "unblock": (
                Action.ACCESS_UNBLOCK,
                lambda a, c: access.unblock(a, dossier, request.unblock, c),
            ),
            "add_representative": (
                Action.REPRESENTATIVE_ADD,
                lambda a, c: access.add_representative(a, dossier, request.add_representative, c),
            ),
            "add_representative_until": (  # unset expires_at: 0, refused as past
                Action.REPRESENTATIVE_ADD,
                lambda a, c: access.add_representative(
                    a,
                    dossier,
                    request.add_representative_until.ins,
                    c,
                    wire.optional_time_us(request.add_representative_until, "expires_at") or 0,
                ),
            ),
            "remove_representative": (
                Action.REPRESENTATIVE_REMOVE,
                lambda a, c: access.remove_representative(
                    a, dossier, request.remove_representative, c
                ),
            ),
            "allow_emergency_access": (
                Action.EMERGENCY_SETTING,
                lambda a, c: access.set_emergency_access(
                    a, dossier, request.allow_emergency_access, c
                ),
            ),
            "set_treating_physician": (
                Action.TREATING_PHYSICIAN_SET,
                lambda a, c: access.set_treating_physician(
                    a, dossier, request.set_treating_physician, c
                ),
            ),
            "clear_treating_physician": (
                Action.TREATING_PHYSICIAN_SET,
                lambda a, c: access.set_treating_physician(a, dossier, None, c),
            ),
            "record_consent": (
                Action.CONSENT_RECORD,
                lambda a, c: access.record_consent(a, dossier, c),
            ),
            "add_care_team": (
                Action.CARE_TEAM_ADD,
                lambda a, c: access.add_care_team(
                    a,
                    dossier,
                    request.add_care_team.name,
                    tuple(request.add_care_team.members),
                    wire.optional_time_us(request.add_care_team, "expires_at"),
                    c,
                ),
            ),
            "remove_care_team": (
                Action.CARE_TEAM_REMOVE,
                lambda a, c: access.remove_care_team(a, dossier, request.remove_care_team, c),
            ),
            "allow_break_glass": (
                Action.EMERGENCY_SETTING,
                lambda a, c: access.set_emergency_access(
                    a, dossier, request.allow_break_glass, c, regulation=False
                ),
            ),
            "allow_regulation": (
                Action.EMERGENCY_SETTING,
                lambda a, c: access.set_emergency_access(
                    a, dossier, request.allow_regulation, c, break_glass=False
                ),
            ),
            "grant_occupational": (
                Action.OCCUPATIONAL_GRANT,
                lambda a, c: access.grant_occupational(a, dossier, request.grant_occupational, c),
            ),
            "revoke_occupational": (
                Action.OCCUPATIONAL_REVOKE,
                lambda a, c: access.revoke_occupational(a, dossier, request.revoke_occupational, c),
            ),
            "open_category": (
                Action.CATEGORY_OPEN,
                lambda a, c: overrides.set(
                    a, dossier, *_override(request.open_category), c, opened=True
                ),
            ),
            "close_category": (
                Action.CATEGORY_CLOSE,
                lambda a, c: overrides.set(
                    a, dossier, *_override(request.close_category), c, opened=False
                ),
            ),
            "clear_category": (
                Action.CATEGORY_CLEAR,
                lambda a, c: overrides.clear(a, dossier, *_override(request.clear_category), c),
            ),
        }
        return changes[request.WhichOneof("change") or ""]

    async def ChangeAccess(  # noqa: N802 (generated name)
        self, request: pb.ChangeAccessRequest, context: Context
    ) -> pb.ChangeAccessResponse:
        change = request.WhichOneof("change")
        action, use_case = self._access_change(request) if change else (Action.ACCESS_CHANGE, None)

        async def body(actor: Actor, call: Call) -> pb.ChangeAccessResponse:
            if use_case is None:
                raise InvalidArgumentError("name one change")
            entry = await self._calls.run(use_case, actor, call)
            if entry is None:
                return pb.ChangeAccessResponse()
            if isinstance(entry, CareTeam):
                return pb.ChangeAccessResponse(care_team=wire_grants.care_team_to_proto(entry))
            if isinstance(entry, MatrixOverride):
                override = wire_grants.matrix_override_to_proto(entry)
                return pb.ChangeAccessResponse(matrix_override=override)
            return pb.ChangeAccessResponse(entry=wire.access_entry_to_proto(entry))

        return await self._calls.unary(context, action, body)

    async def ListAccess(  # noqa: N802 (generated name)
        self, request: pb.ListAccessRequest, context: Context
    ) -> pb.ListAccessResponse:
        async def body(actor: Actor, call: Call) -> pb.ListAccessResponse:
            rules = await self._calls.run(self._vault.access.rules, actor, request.dossier_id, call)
            return pb.ListAccessResponse(
                entries=[wire.access_entry_to_proto(e) for e in rules.entries],
                emergency_access_refused=rules.emergency_refused,
                care_teams=[wire_grants.care_team_to_proto(t) for t in rules.teams],
                regulation_access_refused=rules.regulation_refused,
                matrix_overrides=[wire_grants.matrix_override_to_proto(o) for o in rules.overrides],
            )

        return await self._calls.unary(context, Action.ACCESS_READ, body)

    async def BreakGlass(  # noqa: N802 (generated name)
        self, request: pb.BreakGlassRequest, context: Context
    ) -> pb.AccessEntry:
        async def body(actor: Actor, call: Call) -> pb.AccessEntry:
            reason = wire.emergency_reason_from_proto(request.reason)
            entry = await self._calls.run(
                self._vault.access.break_glass, actor, request.dossier_id, reason, call
            )
            return wire.access_entry_to_proto(entry)

        return await self._calls.unary(context, Action.BREAK_GLASS, body)


def _override(message: pb.MatrixOverride) -> tuple[str, Callable[[], DocumentCategory]]:
    """An override request's professional and category, parsed in the decision (`opened`
    is the field's)."""
    return message.professional, lambda: wire.category_from_proto(message.category)
