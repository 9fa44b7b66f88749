"""The heirs' RPCs (issue 15, item 4): `GrantHeirAccess` (operators) and
`SetPosthumousObjection` (the holder, alive). Each calls `Vault.heirs` through `Calls`;
an heir's reads are the ordinary document RPCs.
"""

from __future__ import annotations

from vault import wire_grants
from vault.domain.model import Actor
from vault.domain.policy import Action
from vault.server.calls import Context
from vault.server.rpcs.base import Rpcs
from vault.service import Call
from vault.v1 import vault_pb2 as pb


class HeirRpcs(Rpcs):
    async def GrantHeirAccess(  # noqa: N802 (generated name)
        self, request: pb.GrantHeirAccessRequest, context: Context
    ) -> pb.HeirGrant:
        async def body(actor: Actor, call: Call) -> pb.HeirGrant:
            call.dossier = request.dossier_id
            purpose = wire_grants.heir_purpose_from_proto(request.purpose)
            grant = await self._calls.run(
                self._vault.heirs.grant,
                actor,
                request.dossier_id,
                request.heir_ins,
                purpose,
                request.request_reference,
                wire_grants.expiry_us(request),
                call,
            )
            return wire_grants.heir_grant_to_proto(grant)

        return await self._calls.unary(context, Action.HEIR_GRANT, body)

    async def SetPosthumousObjection(  # noqa: N802 (generated name)
        self, request: pb.SetPosthumousObjectionRequest, context: Context
    ) -> pb.SetPosthumousObjectionResponse:
        async def body(actor: Actor, call: Call) -> pb.SetPosthumousObjectionResponse:
            await self._calls.run(
                self._vault.heirs.set_objection, actor, request.dossier_id, request.objects, call
            )
            return pb.SetPosthumousObjectionResponse()

        return await self._calls.unary(context, Action.POSTHUMOUS_OBJECTION, body)
