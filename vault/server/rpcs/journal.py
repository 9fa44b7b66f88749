"""The journal RPCs: `ExportJournal` (a server stream of canonical lines, sent in
batches), `QueryJournal` (pages of decoded entries) and the auditors' Merkle proofs
(`GetInclusionProof`, `GetConsistencyProof`). Each calls `Vault.journal` through `Calls`.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

from vault import wire
from vault.domain.model import Actor
from vault.domain.policy import Action
from vault.journal.store import EntryFilter
from vault.server.calls import Context, take
from vault.server.rpcs.base import Rpcs
from vault.service import Call
from vault.v1 import vault_pb2 as pb

_EXPORT_BATCH = 1000  # export lines per message (~500 KiB)


class JournalRpcs(Rpcs):
    async def ExportJournal(  # noqa: N802 (generated name)
        self, request: pb.ExportJournalRequest, context: Context
    ) -> AsyncIterator[pb.ExportJournalResponse]:
        async def body(actor: Actor, call: Call) -> AsyncIterator[pb.ExportJournalResponse]:
            lines = await self._calls.run(
                functools.partial(
                    self._vault.journal.export,
                    actor,
                    call,
                    from_seq=request.from_seq,
                    to_seq=request.to_seq,
                    since_us=wire.optional_time_us(request, "since"),
                    until_us=wire.optional_time_us(request, "until"),
                )
            )
            try:
                while batch := await self._calls.run(take, lines, _EXPORT_BATCH):
                    yield pb.ExportJournalResponse(lines=batch)
            finally:
                lines.close()  # ends the journal read transaction

        async for item in self._calls.stream(context, Action.JOURNAL_EXPORT, body):
            yield item

    async def QueryJournal(  # noqa: N802 (generated name)
        self, request: pb.QueryJournalRequest, context: Context
    ) -> pb.QueryJournalResponse:
        async def body(actor: Actor, call: Call) -> pb.QueryJournalResponse:
            where = EntryFilter(
                dossier=request.dossier_id or None,
                actor_ref=request.actor_ref or None,
                emergency_only=request.emergency_only,
                denials_only=request.denials_only,
            )
            entries, token = await self._calls.run(
                self._vault.journal.query,
                actor,
                call,
                where,
                wire.page_size(request),
                request.page_token,
            )
            return pb.QueryJournalResponse(
                entries=[wire.journal_record_to_proto(e) for e in entries],
                next_page_token=token,
            )

        return await self._calls.unary(context, Action.JOURNAL_READ, body)

    async def GetInclusionProof(  # noqa: N802 (generated name)
        self, request: pb.GetInclusionProofRequest, context: Context
    ) -> pb.GetInclusionProofResponse:
        async def body(actor: Actor, call: Call) -> pb.GetInclusionProofResponse:
            note, entry, hashes = await self._calls.run(
                self._vault.journal.inclusion_proof, actor, call, request.seq, request.tree_size
            )
            return pb.GetInclusionProofResponse(
                checkpoint=note, entry=entry, seq=request.seq, hashes=hashes
            )

        return await self._calls.unary(context, Action.JOURNAL_EXPORT, body)

    async def GetConsistencyProof(  # noqa: N802 (generated name)
        self, request: pb.GetConsistencyProofRequest, context: Context
    ) -> pb.GetConsistencyProofResponse:
        async def body(actor: Actor, call: Call) -> pb.GetConsistencyProofResponse:
            old_note, new_note, hashes = await self._calls.run(
                self._vault.journal.consistency_proof,
                actor,
                call,
                request.old_size,
                request.new_size,
            )
            return pb.GetConsistencyProofResponse(
                old_checkpoint=old_note, new_checkpoint=new_note, hashes=hashes
            )

        return await self._calls.unary(context, Action.JOURNAL_EXPORT, body)
