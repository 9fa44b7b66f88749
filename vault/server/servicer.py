"""`DossierVaultServicer`: the grpc.aio implementation of `vault.v1.DossierVault`.

One handler per RPC of protos/vault/v1/vault.proto: each maps the request to domain
values (`vault.wire`), calls a use case of `vault.service.Vault` (`dossiers`, `uploads`,
`documents`, `access`, `journal`) and maps its result back. Every handler runs through
`Calls` (vault/server/calls.py), which gives the call a request id, authenticates its
bearer token, journals the refusals the service did not, turns errors into status codes
and runs blocking work in the bounded thread pool. What the handlers add is streaming:
an upload writes each chunk in the pool while the next one arrives, a download reads the
next segment ahead, the journal export sends lines in batches.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, Future

from vault import wire
from vault.auth import TokenVerifier
from vault.domain.model import Actor, Document, Relationship
from vault.domain.policy import Action
from vault.errors import InvalidArgumentError, StreamIdleError
from vault.journal.store import EntryFilter
from vault.server.budget import (
    DEFAULT_BUDGET_BYTES,
    DEFAULT_CONNECTION_BUDGET_BYTES,
    DEFAULT_IDLE_SECONDS,
    DEFAULT_WAIT_SECONDS,
    StreamBudget,
    UploadBudget,
)
from vault.server.calls import Calls, Context, abort_after, close, take, written
from vault.server.downloads import Chunks, Opened, open_inline
from vault.service import Call, Upload, Vault
from vault.v1 import vault_pb2 as pb
from vault.v1 import vault_pb2_grpc

_EXPORT_BATCH = 1000  # export lines per message (~500 KiB)


class DossierVaultServicer(vault_pb2_grpc.DossierVaultServicer):
    def __init__(
        self,
        vault: Vault,
        verifier: TokenVerifier,
        executor: Executor,
        *,
        budget: UploadBudget | None = None,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
    ) -> None:
        self._vault = vault
        self._executor = executor
        self._budget = budget or UploadBudget(
            DEFAULT_BUDGET_BYTES, DEFAULT_CONNECTION_BUDGET_BYTES, DEFAULT_WAIT_SECONDS
        )
        self._idle_seconds = idle_seconds
        self._calls = Calls(vault.record_refusal, verifier, executor)

    async def CreateDossier(  # noqa: N802 (generated name)
        self, request: pb.CreateDossierRequest, context: Context
    ) -> pb.Dossier:
        async def body(actor: Actor, call: Call) -> pb.Dossier:
            dossier = await self._calls.run(self._vault.dossiers.create, actor, request.ins, call)
            return wire.dossier_to_proto(dossier)

        return await self._calls.unary(context, Action.DOSSIER_CREATE, body)

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

    def _access_change(
        self, request: pb.ChangeAccessRequest
    ) -> tuple[Action, Callable[[Actor, Call], Relationship | None]]:
        """The action a change request asks for, and the use case that performs it."""
        access, dossier = self._vault.access, request.dossier_id
        changes: dict[str, tuple[Action, Callable[[Actor, Call], Relationship | None]]] = {
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

    async def ListNotifications(  # noqa: N802 (generated name)
        self, request: pb.ListNotificationsRequest, context: Context
    ) -> pb.ListNotificationsResponse:
        async def body(actor: Actor, call: Call) -> pb.ListNotificationsResponse:
            notices = await self._calls.run(
                self._vault.access.notifications,
                actor,
                request.dossier_id,
                request.after_id,
                wire.page_size(request),
                call,
            )
            return pb.ListNotificationsResponse(
                notifications=[wire.notification_to_proto(n) for n in notices]
            )

        return await self._calls.unary(context, Action.NOTIFICATIONS_READ, body)

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
