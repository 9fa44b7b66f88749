"""`RebuiltOnce`: the interceptors' handlers are built once per method, in grpc's order,
and what a call runs is what they built."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from vault.server.chain import RebuiltOnce
from vault.server.handlers import RebuildingInterceptor, rebuilt


class _Tagging(RebuildingInterceptor):
    """Wraps each behaviour so that its result carries this interceptor's tag, and counts
    its rebuilds."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.rebuilds = 0

    def rebuild(self, handler: grpc.RpcMethodHandler[Any, Any], method: str) -> Any:
        self.rebuilds += 1

        def wrap(behavior: Any) -> Any:
            async def tagged(request: Any, context: Any) -> Any:
                return [self.tag, *await behavior(request, context)]

            return tagged

        return rebuilt(handler, wrap)


async def _served(request: Any, context: Any) -> list[str]:
    return [f"served {request}"]


_HANDLERS: dict[str, Any] = {
    "/s/A": grpc.unary_unary_rpc_method_handler(_served),
    "/s/B": grpc.unary_unary_rpc_method_handler(_served),
}


def _details(method: str) -> grpc.HandlerCallDetails:
    details: grpc.HandlerCallDetails = type(
        "Details", (), {"method": method, "invocation_metadata": ()}
    )()
    return details


async def _handler(chain: RebuiltOnce, method: str, handlers: dict[str, Any] | None = None) -> Any:
    served = _HANDLERS if handlers is None else handlers

    async def continuation(details: grpc.HandlerCallDetails) -> Any:
        return served.get(details.method)

    return await chain.intercept_service(continuation, _details(method))


def test_a_methods_handler_is_rebuilt_once_and_runs_every_interceptor_outermost_first() -> None:
    outer, inner = _Tagging("outer"), _Tagging("inner")
    chain = RebuiltOnce([outer, inner])

    async def calls() -> list[Any]:
        results = []
        for method in ("/s/A", "/s/A", "/s/B", "/s/A"):
            handler = await _handler(chain, method)
            assert handler is not None
            assert handler.unary_unary is not None
            results.append(await handler.unary_unary("r", None))
        return results

    results = asyncio.run(calls())
    assert results == [["outer", "inner", "served r"]] * 4  # as grpc would apply them
    assert (outer.rebuilds, inner.rebuilds) == (2, 2)  # once for A, once for B


def test_a_method_nobody_serves_stays_unserved() -> None:
    chain = RebuiltOnce([_Tagging("only")])
    assert asyncio.run(_handler(chain, "/s/missing")) is None


def test_a_method_whose_served_handler_changes_is_rebuilt_from_the_new_one() -> None:
    tagging = _Tagging("t")
    chain = RebuiltOnce([tagging])

    async def replaced() -> Any:
        await _handler(chain, "/s/A")
        other: dict[str, Any] = {"/s/A": grpc.unary_unary_rpc_method_handler(_served)}
        handler = await _handler(chain, "/s/A", other)
        assert handler is not None
        assert handler.unary_unary is not None
        return await handler.unary_unary("x", None)

    assert asyncio.run(replaced()) == ["t", "served x"]
    assert tagging.rebuilds == 2
