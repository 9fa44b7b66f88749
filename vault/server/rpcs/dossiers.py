"""The dossier's RPCs: create, read, close, reopen, ask for deletion, legal holds, the
patient's copy (`ExportDossier`), the holder's date of birth after creation
(`SetBirthDate`). Each maps the request to domain values (`vault.wire`),
calls `Vault.dossiers` (or `Vault.documents.export`) through `Calls` and maps the result
back; nothing else happens here.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

from vault import wire
from vault.domain.majority import parse_birth_date
from vault.domain.model import Actor
from vault.domain.policy import Action
from vault.errors import InvalidArgumentError
from vault.server.calls import Context, close
from vault.server.rpcs.base import Rpcs
from vault.service import Call
from vault.v1 import vault_pb2 as pb


class DossierRpcs(Rpcs):
    async def CreateDossier(  # noqa: N802 (generated name)
        self, request: pb.CreateDossierRequest, context: Context
    ) -> pb.Dossier:
        async def body(actor: Actor, call: Call) -> pb.Dossier:
            mode = wire.creation_mode_from_proto(request.mode)
            born = parse_birth_date(request.birth_date)
            until = wire.optional_time_us(request, "representative_until")
            dossier = await self._calls.run(
                self._vault.dossiers.create, actor, request.ins, call, mode, born, until
            )
            return wire.dossier_to_proto(dossier)

        return await self._calls.unary(context, Action.DOSSIER_CREATE, body)

    async def SetBirthDate(  # noqa: N802 (generated name)
        self, request: pb.SetBirthDateRequest, context: Context
    ) -> pb.SetBirthDateResponse:
        async def body(actor: Actor, call: Call) -> pb.SetBirthDateResponse:
            call.dossier = request.dossier_id  # an edge refusal goes in its history
            born = parse_birth_date(request.birth_date)
            if born is None:
                raise InvalidArgumentError("a date of birth is YYYY-MM-DD")
            await self._calls.run(self._vault.births.set, actor, request.dossier_id, born, call)
            return pb.SetBirthDateResponse()

        return await self._calls.unary(context, Action.BIRTH_DATE_SET, body)

    async def GetDossier(  # noqa: N802 (generated name)
        self, request: pb.GetDossierRequest, context: Context
    ) -> pb.Dossier:
        async def body(actor: Actor, call: Call) -> pb.Dossier:
            dossier = await self._calls.run(
                functools.partial(
                    self._vault.dossiers.get,
                    actor,
                    call,
                    dossier_id=request.dossier_id,
                    ins=request.ins,
                )
            )
            return wire.dossier_to_proto(dossier)

        return await self._calls.unary(context, Action.DOSSIER_READ, body)

    async def CloseDossier(  # noqa: N802 (generated name)
        self, request: pb.CloseDossierRequest, context: Context
    ) -> pb.Dossier:
        patient = request.reason == pb.CLOSURE_REASON_PATIENT_REQUEST
        action = Action.DOSSIER_CLOSE if patient else Action.DOSSIER_CLOSE_DECLARED

        async def body(actor: Actor, call: Call) -> pb.Dossier:
            reason = wire.closure_reason_from_proto(request.reason)
            closed = await self._calls.run(
                self._vault.dossiers.close, actor, request.dossier_id, reason, call
            )
            return wire.dossier_to_proto(closed)

        return await self._calls.unary(context, action, body)

    async def ReopenDossier(  # noqa: N802 (generated name)
        self, request: pb.ReopenDossierRequest, context: Context
    ) -> pb.Dossier:
        async def body(actor: Actor, call: Call) -> pb.Dossier:
            reopened = await self._calls.run(
                self._vault.dossiers.reopen, actor, request.dossier_id, call
            )
            return wire.dossier_to_proto(reopened)

        return await self._calls.unary(context, Action.DOSSIER_REOPEN, body)

    async def RequestDeletion(  # noqa: N802 (generated name)
        self, request: pb.RequestDeletionRequest, context: Context
    ) -> pb.Dossier:
        async def body(actor: Actor, call: Call) -> pb.Dossier:
            asked = await self._calls.run(
                self._vault.dossiers.request_deletion, actor, request.dossier_id, call
            )
            return wire.dossier_to_proto(asked)

        return await self._calls.unary(context, Action.DOSSIER_DELETION_REQUEST, body)

    async def PlaceHold(  # noqa: N802 (generated name)
        self, request: pb.PlaceHoldRequest, context: Context
    ) -> pb.LegalHold:
        async def body(actor: Actor, call: Call) -> pb.LegalHold:
            hold = await self._calls.run(
                self._vault.dossiers.place_hold, actor, request.dossier_id, request.reason, call
            )
            return wire.legal_hold_to_proto(hold)

        return await self._calls.unary(context, Action.DOSSIER_HOLD, body)

    async def ReleaseHold(  # noqa: N802 (generated name)
        self, request: pb.ReleaseHoldRequest, context: Context
    ) -> pb.ReleaseHoldResponse:
        async def body(actor: Actor, call: Call) -> pb.ReleaseHoldResponse:
            await self._calls.run(
                self._vault.dossiers.release_hold,
                actor,
                request.dossier_id,
                request.hold_id,
                request.reason,
                call,
            )
            return pb.ReleaseHoldResponse()

        return await self._calls.unary(context, Action.DOSSIER_RELEASE, body)

    async def ListHolds(  # noqa: N802 (generated name)
        self, request: pb.ListHoldsRequest, context: Context
    ) -> pb.ListHoldsResponse:
        async def body(actor: Actor, call: Call) -> pb.ListHoldsResponse:
            holds = await self._calls.run(
                self._vault.dossiers.list_holds, actor, request.dossier_id, call
            )
            return pb.ListHoldsResponse(holds=[wire.legal_hold_to_proto(h) for h in holds])

        return await self._calls.unary(context, Action.DOSSIER_HOLD_LIST, body)

    async def ExportDossier(  # noqa: N802 (generated name)
        self, request: pb.ExportDossierRequest, context: Context
    ) -> AsyncIterator[pb.ExportDossierResponse]:
        async def body(actor: Actor, call: Call) -> AsyncIterator[pb.ExportDossierResponse]:
            summary, chunks = await self._calls.run(
                self._vault.documents.export, actor, request.dossier_id, call
            )
            try:
                yield pb.ExportDossierResponse(summary=wire.export_summary_to_proto(summary))
                while (chunk := await self._calls.run(next, chunks, None)) is not None:
                    yield pb.ExportDossierResponse(chunk=chunk)
            finally:
                await self._calls.run(close, chunks)

        async for item in self._calls.stream(context, Action.DOSSIER_EXPORT, body):
            yield item
