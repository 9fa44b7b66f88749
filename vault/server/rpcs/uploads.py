"""`PutDocument`: the client-streaming upload. The header opens an upload
(`Vault.uploads.begin`), each chunk is written in the pool while the next one arrives,
within the upload budget (vault/server/budget.py) and the idle-stream timeout; the finish
message commits. Ownership of the written chunks and of the commit is the service's
(vault/service/uploads.py); this module only moves messages.

Resumable uploads (docs/adr/0031): a header with `resume_key` makes the upload resumable;
when its stream is cut (the caller hung up, or went silent past the idle timeout) it is
parked instead of aborted, if the upload budget has room for what it holds (at most one
segment), until its lease ends (then aborted, its charge released). A header with
`resume` continues a parked upload; `GetUploadStatus` tells how far it got.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, Future
from typing import Any

from vault import wire
from vault.domain.model import Actor, Document
from vault.domain.policy import Action
from vault.errors import InvalidArgumentError, StreamIdleError
from vault.server.budget import StreamBudget, UploadBudget
from vault.server.calls import Context, abort_after, written
from vault.server.rpcs.base import Rpcs
from vault.service import Call, Upload
from vault.v1 import vault_pb2 as pb


class _EndedEarlyError(InvalidArgumentError):
    """The stream ended before its finish message: a cut, for a resumable upload (a
    client that hangs up may half-close its side before the call is cancelled)."""


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
            key: bytes | None
            if header.HasField("resume"):
                key = header.resume.resume_key
                upload = await self._resumed(actor, header, call, charges)
            else:
                key = wire.resume_key_from_proto(header)
                upload = await self._opened(
                    charges,
                    key,
                    False,
                    self._vault.uploads.begin,
                    actor,
                    header.dossier_id,
                    wire.metadata_from_proto(header.metadata),
                    call,
                    wire.visibility_from_proto(header.visibility),
                    wire.replacement_from_proto(header),
                    wire.declared_size_from_proto(header),
                    key,
                )
            del first, header
            document = await self._upload(upload, messages, charges, key)
            return wire.document_to_proto(document)

        try:
            return await self._calls.unary(context, Action.DOCUMENT_WRITE, body)
        finally:
            charges.release()

    async def GetUploadStatus(  # noqa: N802 (generated name)
        self, request: pb.GetUploadStatusRequest, context: Context
    ) -> pb.UploadStatus:
        async def body(actor: Actor, call: Call) -> pb.UploadStatus:
            call.dossier = request.dossier_id
            progress = await self._calls.run(
                self._vault.uploads.resumes.status,
                actor,
                request.dossier_id,
                request.resume_key,
                call,
            )
            return wire.upload_status_to_proto(progress.offset, progress.until_us)

        return await self._calls.unary(context, Action.DOCUMENT_WRITE, body)

    async def _resumed(
        self, actor: Actor, header: pb.PutDocumentHeader, call: Call, charges: StreamBudget
    ) -> Upload:
        """The parked upload a resume header names, taken over by this stream: its
        parked charge becomes the stream's."""
        resume = header.resume
        upload = await self._opened(
            charges,
            resume.resume_key,
            True,
            self._vault.uploads.resumes.resume,
            actor,
            header.dossier_id,
            resume.resume_key,
            resume.offset,
            call,
        )
        self._budget.unpark(upload.buffered)
        charges.adopt(upload.buffered)
        return upload

    async def _opened(
        self,
        charges: StreamBudget,
        key: bytes | None,
        parked: bool,
        opening: Callable[..., Upload],
        *args: Any,
    ) -> Upload:
        """The upload `opening(*args)` begins or resumes, in the pool. If the call is
        cancelled meanwhile (a cut), the upload it opened is parked (resumable: `key`)
        or aborted; `parked`: its budget charge was the parked one."""
        taken: list[Upload] = []
        try:
            return await self._calls.run(opening, *args, on_cancel=taken.append)
        except asyncio.CancelledError:
            for upload in taken:
                if parked:
                    self._budget.unpark(upload.buffered)
                ending = self._end(upload, None, charges, key, cut=True)
                await asyncio.shield(asyncio.ensure_future(ending))
            raise

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
        key: bytes | None,
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
                    raise _EndedEarlyError("the stream ended without its finish message")
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
        except BaseException as error:
            cut = isinstance(error, asyncio.CancelledError | StreamIdleError | _EndedEarlyError)
            # to its end even if the call is cancelled meanwhile (a cut: often twice)
            await asyncio.shield(
                asyncio.ensure_future(self._end(upload, writing, charges, key, cut))
            )
            raise

    async def _end(
        self,
        upload: Upload,
        writing: Future[None] | None,
        charges: StreamBudget,
        key: bytes | None,
        cut: bool,
    ) -> None:
        """Parks an upload the stream left unfinished if it is resumable and was cut,
        else aborts it."""
        if not (cut and key and await self._parked(upload, writing, charges, key)):
            await self._calls.run(abort_after, writing, upload)

    async def _parked(
        self, upload: Upload, writing: Future[None] | None, charges: StreamBudget, key: bytes
    ) -> bool:
        """Parks a resumable upload whose stream was cut, once its chunk in flight is
        written, if that write succeeded and the server's budget has room for what it
        holds; False if it was not parked (then the caller aborts it)."""
        if writing is not None:
            await asyncio.wait([asyncio.wrap_future(writing)])
            if writing.cancelled() or writing.exception() is not None:
                return False
        charges.release()
        held = upload.buffered
        if not self._budget.park(held):
            return False
        resumes = self._vault.uploads.resumes
        seconds = await self._calls.run(resumes.park, upload, key)
        if seconds is None:  # its reservation was lost: aborted
            self._budget.unpark(held)
            return False
        self._budget.reap_after(seconds, functools.partial(self._calls.run, resumes.expire))
        return True
