"""`PutDocument`: the client-streaming upload. The header opens an upload
(`Vault.uploads.begin`), each chunk is written in the pool while the next one arrives,
within the upload budget (vault/server/budget.py) and the idle-stream timeout; the finish
message commits. Ownership of the written chunks and of the commit is the service's
(vault/service/uploads.py); this module only moves messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import Executor, Future

from vault import wire
from vault.domain.model import Actor, Document
from vault.domain.policy import Action
from vault.errors import InvalidArgumentError, StreamIdleError
from vault.server.budget import StreamBudget, UploadBudget
from vault.server.calls import Context, abort_after, written
from vault.server.rpcs.base import Rpcs
from vault.service import Call, Upload
from vault.v1 import vault_pb2 as pb


class UploadRpcs(Rpcs):
    _executor: Executor
    _budget: UploadBudget
    _idle_seconds: float

    async def PutDocument(  # noqa: N802 (generated name)
        self, request_iterator: AsyncIterator[pb.PutDocumentRequest], context: Context
    ) -> pb.Document:
        charges = self._budget.stream(context.peer())

        async def body(actor: Actor, call: Call) -> pb.Document:
            messages = aiter(request_iterator)  # once authenticated: never left unread
            first = await self._next(messages)
            if first is None or first.WhichOneof("part") != "header":
                raise InvalidArgumentError("the first message must be the header")
            header = first.header
            call.dossier = header.dossier_id
            upload = await self._calls.run(
                self._vault.uploads.begin,
                actor,
                header.dossier_id,
                wire.metadata_from_proto(header.metadata),
                call,
                wire.visibility_from_proto(header.visibility),
                wire.replacement_from_proto(header),
                wire.declared_size_from_proto(header),
                on_cancel=Upload.abort,
            )
            del first, header
            return wire.document_to_proto(await self._upload(upload, messages, charges))

        try:
            return await self._calls.unary(context, Action.DOCUMENT_WRITE, body)
        finally:
            charges.release()

    async def _next(
        self, messages: AsyncIterator[pb.PutDocumentRequest]
    ) -> pb.PutDocumentRequest | None:
        """The stream's next message, None at its end; StreamIdleError (DEADLINE_EXCEEDED)
        if the client sends nothing for `VAULT_STREAM_IDLE_SECONDS`."""
        try:
            async with asyncio.timeout(self._idle_seconds):
                return await anext(messages, None)
        except TimeoutError:
            raise StreamIdleError(
                f"the stream sent nothing for {self._idle_seconds:g} seconds"
            ) from None

    async def _upload(
        self,
        upload: Upload,
        messages: AsyncIterator[pb.PutDocumentRequest],
        charges: StreamBudget,
    ) -> Document:
        """Streams the chunks into `upload`, each written in the pool while the next one
        arrives, within the upload budget (vault/server/budget.py): the charge is what
        the upload holds, settled after each write; no message is kept once handed over.
        A chunk the upload refuses (past a quota or the declared size) is awaited before
        the next read: the refusal ends the stream at that chunk."""
        writing: Future[None] | None = None  # the chunk hashed and encrypted meanwhile
        try:
            while True:
                await charges.before_read()
                message = await self._next(messages)
                if message is None:
                    raise InvalidArgumentError("the stream ended without its finish message")
                part = message.WhichOneof("part")
                if part == "finish":
                    if await self._next(messages) is not None:
                        raise InvalidArgumentError("nothing may follow the finish message")
                    await written(writing)
                    finish = message.finish
                    return await self._calls.run(upload.commit, finish.size, finish.sha256)
                if part != "chunk":
                    raise InvalidArgumentError("only chunks may follow the header")
                chunk = message.chunk
                del message  # the encryptor may hold `chunk`: never the message as well
                await written(writing)
                refused = upload.refuses(len(chunk))
                charges.settle(upload.buffered)
                charges.admit(len(chunk))
                writing = self._executor.submit(upload.write, chunk)
                del chunk
                if refused:
                    await written(writing)  # raises the refusal, journaled
        except BaseException:
            await self._calls.run(abort_after, writing, upload)
            raise
