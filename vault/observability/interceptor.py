"""The observing interceptor: one log line and the request metrics for every gRPC call.

`ObservingInterceptor` wraps each handler (outermost, so the duration covers everything
the server does for the call): it opens the call's record (vault/observability/requests.py:
the request id the edge sends back in `x-request-id`, and the actor's kind once the edge
has authenticated the caller), counts the call in progress, and when it ends logs one
line on the `vault.request` logger (request id, RPC, status code, duration, actor kind)
and, with metrics on, counts it by method and code, observes its duration, and counts the
serialized bytes of every request and response message. Method labels are the RPC's name
(`PutDocument`, `Check`): never a value from a message.
What it does not: authenticate, journal, or turn errors into statuses (vault/server/calls.py).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from vault.observability import requests
from vault.observability.metrics import VaultMetrics
from vault.server.handlers import RebuildingInterceptor, rebuilt

_log = logging.getLogger("vault.request")
Behavior = Callable[..., Any]
Context = grpc.aio.ServicerContext[Any, Any]
_CODES = {code.value[0]: code.name for code in grpc.StatusCode}


def code_name(context: Context, error: BaseException | None) -> str:
    """The status the call ended with: the one the handler set or aborted with, CANCELLED
    for a cancelled call, UNKNOWN for an error that escaped the handler (gRPC's own)."""
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        return "CANCELLED"
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    if isinstance(code, int):
        return _CODES.get(code, "UNKNOWN")
    if error is None or isinstance(error, grpc.aio.AbortError):
        return "OK"
    return "UNKNOWN"


class _Call:
    """One call being observed, from the handler's start to its end."""

    def __init__(self, method: str, metrics: VaultMetrics | None) -> None:
        self.method = method
        self.metrics = metrics
        self.record = requests.begin()
        self.start = time.perf_counter()
        if metrics is not None:
            metrics.in_progress.labels(method).inc()

    def end(self, context: Context, error: BaseException | None) -> None:
        seconds = time.perf_counter() - self.start
        code = code_name(context, error)
        if self.metrics is not None:
            self.metrics.in_progress.labels(self.method).dec()
            self.metrics.request(self.method, code, seconds)
        fields = {
            "request_id": self.record.request_id,
            "rpc": self.method,
            "code": code,
            "duration_ms": round(seconds * 1000, 3),
            "actor_kind": self.record.actor_kind,
        }
        _log.info("request", extra={"fields": fields})


def _observed(behavior: Behavior, method: str, metrics: VaultMetrics | None) -> Behavior:
    if inspect.isasyncgenfunction(behavior):

        async def stream(request: Any, context: Context) -> Any:
            call = _Call(method, metrics)
            try:
                responses: AsyncIterator[Any] = behavior(request, context)
                async for response in responses:
                    yield response
            except BaseException as error:
                call.end(context, error)
                raise
            call.end(context, None)

        return stream
    if inspect.iscoroutinefunction(behavior):

        async def unary(request: Any, context: Context) -> Any:
            call = _Call(method, metrics)
            try:
                result: Awaitable[Any] = behavior(request, context)
                response = await result
            except BaseException as error:
                call.end(context, error)
                raise
            call.end(context, None)
            return response

        return unary
    return behavior  # a synchronous handler: none in this server


def _counted(
    codec: Callable[[Any], Any] | None, counter: Any, measure_output: bool
) -> Callable[[Any], Any]:
    """A (de)serializer that also counts the bytes on the wire side."""

    def run(value: Any) -> Any:
        result = value if codec is None else codec(value)
        counter.inc(len(result if measure_output else value))
        return result

    return run


def _observing(
    handler: grpc.RpcMethodHandler[Any, Any], method: str, metrics: VaultMetrics | None
) -> grpc.RpcMethodHandler[Any, Any]:
    deserializer, serializer = handler.request_deserializer, handler.response_serializer
    if metrics is not None:
        deserializer = _counted(deserializer, metrics.received_bytes.labels(method), False)
        serializer = _counted(serializer, metrics.sent_bytes.labels(method), True)
    return rebuilt(
        handler,
        lambda behavior: _observed(behavior, method, metrics),
        request_deserializer=deserializer,
        response_serializer=serializer,
    )


class ObservingInterceptor(RebuildingInterceptor):
    """Logs every call (one line) and, given metrics, counts and times it."""

    def __init__(self, metrics: VaultMetrics | None = None) -> None:
        self._metrics = metrics

    def rebuild(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        return _observing(handler, method.rsplit("/", 1)[-1], self._metrics)
