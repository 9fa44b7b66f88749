"""Rebuilding a gRPC method handler: the same kind of method, its behaviour wrapped, its
codecs kept or replaced. The server's interceptors (bulkheads, TLS peers, decoding,
observability) each wrap what a call runs; this is the one place that knows grpc's four
kinds of method handler, and (`prepared`) its two kinds of asynchronous behaviour.

What it does not: decide how any interceptor wraps a call, or know any RPC.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

Wrap = Callable[[Any], Any]  # a method's behaviour -> the behaviour that runs instead
Codec = Callable[[Any], Any]
Prepare = Callable[[Any, "grpc.aio.ServicerContext[Any, Any]"], Any]


def rebuilt(
    handler: grpc.RpcMethodHandler[Any, Any],
    wrap: Wrap,
    *,
    wrap_streamed: Wrap | None = None,
    request_deserializer: Codec | None = None,
    response_serializer: Codec | None = None,
) -> grpc.RpcMethodHandler[Any, Any]:
    """`handler` with its behaviour wrapped by `wrap` (by `wrap_streamed`, if given, for
    the methods whose requests stream) and the given codecs in place of its own."""
    codecs = {
        "request_deserializer": request_deserializer or handler.request_deserializer,
        "response_serializer": response_serializer or handler.response_serializer,
    }
    streamed = wrap_streamed or wrap
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(wrap(handler.unary_unary), **codecs)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(wrap(handler.unary_stream), **codecs)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(streamed(handler.stream_unary), **codecs)
    if handler.stream_stream is not None:
        return grpc.stream_stream_rpc_method_handler(streamed(handler.stream_stream), **codecs)
    return handler


def prepared(behavior: Callable[..., Any], prepare: Prepare) -> Callable[..., Any]:
    """`behavior` (a grpc.aio method's coroutine or async generator) with
    `prepare(request, context)` run first, in the call's own task; what it returns is the
    request (or request stream) the behaviour gets. A synchronous behaviour is left as it
    is: it runs in grpc's own pool, outside the call's task."""
    if inspect.isasyncgenfunction(behavior):

        async def stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            responses: AsyncIterator[Any] = behavior(prepare(request, context), context)
            async for response in responses:
                yield response

        return stream
    if inspect.iscoroutinefunction(behavior):

        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            result: Awaitable[Any] = behavior(prepare(request, context), context)
            return await result

        return call
    return behavior


class RebuildingInterceptor(grpc.aio.ServerInterceptor):
    """An interceptor that rebuilds each call's handler (`rebuild`, given the full method
    name, `/vault.v1.DossierVault/PutDocument`); a method nobody serves stays None."""

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        return None if handler is None else self.rebuild(handler, handler_call_details.method)

    def rebuild(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        raise NotImplementedError
