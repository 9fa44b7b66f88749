"""`Calls`: what every RPC of the servicer (vault/server/servicer.py) runs through.

`Calls.unary` and `Calls.stream` give a call its request id (ours, never the caller's,
sent back as `x-request-id` in the initial metadata, before any response, and in the
trailer), authenticate its bearer token into an `Actor`, and turn any error into a
status: a `VaultError` into its code, message (messages carry no health data) and
details (its reason code, and field violations for bad input: vault/server/details.py),
anything else into INTERNAL with the request id only. A refusal
the service did not journal itself (bad token, malformed message, a request that did not
decode: vault/server/decoding.py) is journaled here,
before the status goes out, so every request leaves exactly one entry. `Calls.run` runs
blocking work (database, files, crypto on large segments) in a bounded thread pool so
the event loop keeps serving small calls while large streams are in flight
(docs/adr/0001-grpc-aio-with-a-thread-pool.md); `take`, `close`, `written` and
`abort_after` are the pieces of blocking work the streaming handlers hand it.

What it does not: know any RPC or wire type (the handlers map messages through
`vault.wire`), decide or journal a request the service sees (the service does), or serve
the port (vault/server/app.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import grpc

from vault.auth import TokenVerifier
from vault.domain.model import Actor
from vault.domain.policy import Action
from vault.errors import UnauthenticatedError, VaultError
from vault.observability import requests, tracing
from vault.server.decoding import raise_noted_refusal
from vault.server.details import rich_status
from vault.service import Call, Upload

_log = logging.getLogger(__name__)
T = TypeVar("T")
REQUEST_ID = "x-request-id"

Context = grpc.aio.ServicerContext[Any, Any]
RecordRefusal = Callable[[Actor | None, Action, Call, Exception], None]


def status_of(error: VaultError) -> grpc.StatusCode:
    return grpc.StatusCode[error.grpc_status]


def take(lines: Iterator[bytes], count: int) -> list[bytes]:
    return list(itertools.islice(lines, count))


def close(iterator: Iterator[bytes]) -> None:
    """Ends a generator (and what it holds open: readers, transactions)."""
    end = getattr(iterator, "close", None)
    if end is not None:
        end()


async def written(writing: Future[None] | None) -> None:
    if writing is not None:
        await asyncio.wrap_future(writing)


def abort_after(writing: Future[None] | None, upload: Upload) -> None:
    """Aborts the upload once the chunk in flight (submitted before, so already running
    or cancelled) is written."""
    if writing is not None:
        wait([writing])
    upload.abort()


def _quiet_hang_up(record: logging.LogRecord) -> bool:
    """grpc logs a write to a caller that hung up mid-stream as an ERROR with a traceback
    (grpc PR 32551, when its `client_closed` flag lags): one INFO line instead; the
    request's own log line says CANCELLED."""
    error = record.exc_info[1] if record.exc_info else None
    if type(error).__name__ == "ExecuteBatchError":
        record.levelno, record.levelname, record.exc_info = logging.INFO, "INFO", None
        record.msg, record.args = f"a stream's caller hung up ({record.getMessage()})", ()
    return True


@dataclass
class _Request:
    call: Call
    action: Action
    actor: Actor | None = None


def _metadata(context: Context, name: str) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == name and isinstance(value, str):
            return value
    return None


class Calls:
    """The edge of every call: identity, journaling of edge refusals, status codes, and
    the thread pool its blocking work runs in."""

    def __init__(
        self, record_refusal: RecordRefusal, verifier: TokenVerifier, executor: Executor
    ) -> None:
        self._record_refusal = record_refusal
        self._verifier = verifier
        self._executor = executor
        logging.getLogger("grpc._cython.cygrpc").addFilter(_quiet_hang_up)  # once: a set

    async def run(
        self,
        function: Callable[..., T],
        *args: Any,
        on_cancel: Callable[[T], object] | None = None,
    ) -> T:
        """Runs blocking work in the pool. If the call is cancelled meanwhile, the work
        still finishes (a thread cannot be interrupted) before the cancellation goes on,
        so cleanup never races it; `on_cancel` then undoes its result."""
        loop = asyncio.get_running_loop()
        work = tracing.carried(functools.partial(function, *args))  # its span, if traced
        job = loop.run_in_executor(self._executor, work)
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                result = await job
                if on_cancel is not None:
                    await loop.run_in_executor(self._executor, on_cancel, result)
            raise

    async def unary(
        self,
        context: Context,
        action: Action,
        body: Callable[[Actor, Call], Awaitable[T]],
    ) -> T:
        """Answers a call with `body(actor, call)`; any error becomes a status."""
        request = await self._begin(context, action)
        with tracing.span("vault.rpc", rpc=action.value, status="OK"):
            try:
                return await body(self._authenticate(context, request), request.call)
            except Exception as error:  # the edge: every error becomes a status
                await self._fail(context, request, error)

    async def stream(
        self,
        context: Context,
        action: Action,
        body: Callable[[Actor, Call], AsyncIterator[T]],
    ) -> AsyncIterator[T]:
        """Streams `body(actor, call)` to the caller; any error becomes a status."""
        request = await self._begin(context, action)
        with tracing.span("vault.rpc", rpc=action.value, status="OK"):
            try:
                async for item in body(self._authenticate(context, request), request.call):
                    yield item
            except Exception as error:  # the edge: every error becomes a status
                await self._fail(context, request, error)

    async def _begin(self, context: Context, action: Action) -> _Request:
        """The call's request id, sent at once in the initial metadata (a client has it
        before the first response, or the status) and set for the trailer."""
        record = requests.current()  # the observing interceptor's: one id for the log line
        request_id = record.request_id if record else str(uuid.uuid4())  # never the caller's
        metadata = ((REQUEST_ID, request_id),)
        context.set_trailing_metadata(metadata)
        with contextlib.suppress(Exception):  # a call already gone: its body finds out
            await context.send_initial_metadata(metadata)
        return _Request(Call(request_id), action)

    def _authenticate(self, context: Context, request: _Request) -> Actor:
        """The caller's actor; then the refusal of a request that did not decode within
        the bounds (vault/server/decoding.py), journaled with the actor who sent it."""
        scheme, _, token = (_metadata(context, "authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthenticatedError("missing bearer token")
        with tracing.span("vault.token"):
            request.actor = self._verifier.verify(token.strip())
        if (record := requests.current()) is not None:
            record.actor_kind = request.actor.kind.value
        raise_noted_refusal()
        return request.actor

    async def _fail(self, context: Context, request: _Request, error: Exception) -> NoReturn:
        request_id = request.call.request_id
        try:
            await self.run(self._record_refusal, request.actor, request.action, request.call, error)
        except VaultError as failure:  # a dependency is down (the key provider, the
            # database): no traceback, the caller still gets the original error
            _log.warning(
                "could not journal a refusal request_id=%s error=%s",
                request_id,
                type(failure).__name__,
            )
        except Exception:  # a bug: the caller still gets the original error
            _log.exception("could not journal a refusal request_id=%s", request_id)
        if not isinstance(error, VaultError):
            tracing.note(status=grpc.StatusCode.INTERNAL.name)
            _log.error("internal error request_id=%s", request_id, exc_info=error)
            message = f"internal error (request {request_id})"
            await self._abort(
                context, request, rich_status(grpc.StatusCode.INTERNAL, message, None)
            )
        status = status_of(error)
        tracing.note(status=status.name)
        _log.info(
            "refused request_id=%s action=%s status=%s error=%s",
            request_id,
            request.action.value,
            status.name,
            type(error).__name__,
        )
        await self._abort(context, request, rich_status(status, str(error), error))

    @staticmethod
    async def _abort(context: Context, request: _Request, status: grpc.Status) -> NoReturn:
        """Ends the call with `status`, its details trailer and the request id."""
        trailer = (*status.trailing_metadata, (REQUEST_ID, request.call.request_id))
        await context.abort(status.code, status.details, trailing_metadata=trailer)
