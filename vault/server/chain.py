"""`RebuiltOnce`: the server's rebuilding interceptors run as one, once per method.

grpc.aio runs a server's interceptors on every call, one coroutine each, and ours
(observability, TLS peers, compartments, decoding: each a `RebuildingInterceptor` of
vault/server/handlers.py) rebuild the method's handler every time, although what they
build depends only on the method and its handler. `RebuiltOnce` holds them in their
order and gives grpc one interceptor instead: a method's handler is rebuilt by all of
them on its first call (the first outermost, as grpc would have applied them) and kept
while the server returns that same handler for the method. What the calls then run is
exactly what the interceptors built: only the building is not repeated.

What it does not: wrap any behaviour itself, or know any RPC.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

import grpc

from vault.server.handlers import RebuildingInterceptor

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


class RebuiltOnce(grpc.aio.ServerInterceptor):
    """`interceptors` (outermost first), applied once per method and kept."""

    def __init__(self, interceptors: Sequence[RebuildingInterceptor]) -> None:
        self._interceptors = tuple(reversed(interceptors))  # innermost rebuilds first
        self._built: dict[str, tuple[Handler, Handler]] = {}  # method: (served, rebuilt)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:  # a method nobody serves
            return None
        method = handler_call_details.method
        kept = self._built.get(method)
        if kept is not None and kept[0] is handler:
            return kept[1]
        rebuilt = handler
        for interceptor in self._interceptors:
            rebuilt = interceptor.rebuild(rebuilt, method)
        self._built[method] = (handler, rebuilt)
        return rebuilt
