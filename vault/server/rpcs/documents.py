"""The document RPCs other than the upload: `GetDocument` (a server stream that reads
the next segment ahead while one is sent), `ListDocuments`, `CountDocuments`,
`DeleteDocument`, `SetDocumentVisibility`. Each calls `Vault.documents` through `Calls`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator

from vault import wire
from vault.domain.model import Actor
from vault.domain.policy import Action
from vault.server.calls import Context
from vault.server.downloads import Chunks, Opened, open_inline
from vault.server.rpcs.base import Rpcs
from vault.service import Call
from vault.v1 import vault_pb2 as pb


class DocumentRpcs(Rpcs):
    async def GetDocument(  # noqa: N802 (generated name)
        self, request: pb.GetDocumentRequest, context: Context
    ) -> AsyncIterator[pb.GetDocumentResponse]:
        async def body(actor: Actor, call: Call) -> AsyncIterator[pb.GetDocumentResponse]:
            opening = functools.partial(
                self._vault.documents.open,
                actor,
                request.dossier_id,
                request.document_id,
                request.version or None,
                call,
                offset=request.offset,
                length=request.length if request.HasField("length") else None,
            )
            # a small document comes back whole from the trip that opens it
            opened = await self._calls.run(open_inline, opening, on_cancel=Opened.close)
            chunks = opened.rest
            # read-ahead: the next segment is read and decrypted while this one is sent
            ahead = None if chunks is None else asyncio.ensure_future(self._segment(chunks))
            try:
                yield pb.GetDocumentResponse(document=wire.document_to_proto(opened.document))
                for read in opened.ready:
                    yield pb.GetDocumentResponse(chunk=read)
                if opened.failure is not None:
                    raise opened.failure
                while ahead is not None and (chunk := await ahead) is not None:
                    ahead = asyncio.ensure_future(self._segment(opened.rest))
                    yield pb.GetDocumentResponse(chunk=chunk)
            finally:
                if ahead is not None:
                    ahead.cancel()  # Calls.run lets the segment in flight finish first
                    await asyncio.wait([ahead])  # waits without raising its cancellation
                opened.close()

        async for item in self._calls.stream(context, Action.DOCUMENT_READ, body):
            yield item

    async def _segment(self, chunks: Chunks | None) -> bytes | None:
        return None if chunks is None else await self._calls.run(next, chunks, None)

    async def ListDocuments(  # noqa: N802 (generated name)
        self, request: pb.ListDocumentsRequest, context: Context
    ) -> pb.ListDocumentsResponse:
        async def body(actor: Actor, call: Call) -> pb.ListDocumentsResponse:
            call.dossier = request.dossier_id
            page = await self._calls.run(
                self._vault.documents.search,
                actor,
                request.dossier_id,
                wire.query_from_proto(request),
                wire.page_size(request),
                request.page_token,
                call,
            )
            return pb.ListDocumentsResponse(
                documents=[wire.document_to_proto(d) for d in page.documents],
                next_page_token=page.next_page_token,
                total=page.total,
            )

        return await self._calls.unary(context, Action.DOCUMENT_LIST, body)

    async def CountDocuments(  # noqa: N802 (generated name)
        self, request: pb.CountDocumentsRequest, context: Context
    ) -> pb.CountDocumentsResponse:
        async def body(actor: Actor, call: Call) -> pb.CountDocumentsResponse:
            counts = await self._calls.run(
                self._vault.documents.count, actor, request.dossier_id, call
            )
            return pb.CountDocumentsResponse(
                counts=[
                    pb.CategoryCount(category=wire.category_to_proto(category), count=count)
                    for category, count in sorted(counts.items())
                ]
            )

        return await self._calls.unary(context, Action.DOCUMENT_LIST, body)

    async def DeleteDocument(  # noqa: N802 (generated name)
        self, request: pb.DeleteDocumentRequest, context: Context
    ) -> pb.DeleteDocumentResponse:
        async def body(actor: Actor, call: Call) -> pb.DeleteDocumentResponse:
            await self._calls.run(
                self._vault.documents.delete, actor, request.dossier_id, request.document_id, call
            )
            return pb.DeleteDocumentResponse()

        return await self._calls.unary(context, Action.DOCUMENT_DELETE, body)

    async def SetDocumentVisibility(  # noqa: N802 (generated name)
        self, request: pb.SetDocumentVisibilityRequest, context: Context
    ) -> pb.Document:
        async def body(actor: Actor, call: Call) -> pb.Document:
            document = await self._calls.run(
                self._vault.documents.set_visibility,
                actor,
                request.dossier_id,
                request.document_id,
                wire.visibility_from_proto(request.visibility),
                call,
            )
            return wire.document_to_proto(document)

        return await self._calls.unary(context, Action.DOCUMENT_VISIBILITY, body)
