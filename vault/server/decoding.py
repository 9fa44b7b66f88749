"""Decoding: a request's bytes become a message the vault can hold, or a refusal the edge
journals (docs/adr/0013-hostile-input-at-the-edge.md).

gRPC decodes a request before any handler runs: a payload that does not parse raises in
grpc's own code, which answers UNKNOWN (unary and server-streaming methods) or raises
into the handler's stream (PutDocument), and nothing is journaled. `DecodingInterceptor`
rebuilds each handler of the vault's service (as `CompartmentInterceptor` does,
vault/server/bulkheads.py) with a request deserializer that never raises: bytes that do
not parse, or a message holding a value past the vault's bounds (`out_of_bounds`), come
out as an `Undecodable` carrying the InvalidArgumentError to answer (`UndecodableError`,
or `OutOfBoundsError` naming the field's path, which the edge turns into a
`google.rpc.BadRequest` field violation: vault/server/details.py). The handler then
sees:

- a unary request: the empty message of its type, with the refusal noted in the call's
  context (`note_refusal`); `Calls` (vault/server/calls.py) raises it once the caller is
  authenticated (`raise_noted_refusal`), so it is answered INVALID_ARGUMENT and
  journaled like any malformed message, the handler's body never running;
- a streamed request: the refusal raised by the stream where the message stood.

The bounds are those of the vault's storage, the same for every field of every message
(protos/vault/v1/vault.proto, header): an unsigned 32-bit value at most 2^31-1 and a
64-bit one at most 2^63-1 (signed integer columns), a Timestamp within
0001-01-01..9999-12-31 with nanos 0..999,999,999 (its own specification), and no NUL
character in a string (PostgreSQL text cannot hold one).

What it does not: check what a field means (vault.wire, vault.domain.validation), or
answer a call (vault/server/calls.py).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from vault import wire
from vault.errors import InvalidArgumentError, OutOfBoundsError, UndecodableError
from vault.server.handlers import RebuildingInterceptor, prepared, rebuilt

Behavior = Callable[..., Any]
Deserializer = Callable[[bytes], Any]

MAX_UINT32 = 2**31 - 1  # PostgreSQL integer
MAX_UINT64 = 2**63 - 1  # SQLite INTEGER, PostgreSQL bigint
TIMESTAMP = "google.protobuf.Timestamp"

_UINT_LIMITS = {
    FieldDescriptor.TYPE_UINT32: (MAX_UINT32, "2^31-1"),
    FieldDescriptor.TYPE_FIXED32: (MAX_UINT32, "2^31-1"),
    FieldDescriptor.TYPE_UINT64: (MAX_UINT64, "2^63-1"),
    FieldDescriptor.TYPE_FIXED64: (MAX_UINT64, "2^63-1"),
}

_refusal: contextvars.ContextVar[InvalidArgumentError | None] = contextvars.ContextVar(
    "vault_request_refusal", default=None
)


@dataclass(frozen=True)
class Undecodable:
    """What the deserializer returns for a request it refuses: the empty message of the
    request's type (what a unary handler is given instead) and the error to answer."""

    empty: Any
    error: InvalidArgumentError


# -- bounds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Check:
    """One field of a message type to look at: a bounded integer (`limit`), a string, a
    Timestamp, or a message with such fields somewhere inside (`inner`)."""

    name: str
    kind: str  # "integer", "string", "timestamp" or "message"
    repeated: bool
    limit: tuple[int, str] = (0, "")
    inner: tuple[_Check, ...] = ()


@functools.cache
def _checks(descriptor: Descriptor) -> tuple[_Check, ...]:
    """The fields of a message type that can hold a value past the bounds (bytes fields,
    a chunk of content, are never read)."""
    found: list[_Check] = []
    for field in descriptor.fields:
        name, repeated = field.name, field.is_repeated
        if field.type in _UINT_LIMITS:
            found.append(_Check(name, "integer", repeated, limit=_UINT_LIMITS[field.type]))
        elif field.type == FieldDescriptor.TYPE_STRING:
            found.append(_Check(name, "string", repeated))
        elif field.message_type is not None:
            if field.message_type.full_name == TIMESTAMP:
                found.append(_Check(name, "timestamp", repeated))
            elif inner := _checks(field.message_type):
                found.append(_Check(name, "message", repeated, inner=inner))
    return tuple(found)


def _value_error(check: _Check, value: Any, path: str) -> OutOfBoundsError | None:
    if check.kind == "integer":
        limit, text = check.limit
        return OutOfBoundsError(f"{path} is above {text}", field=path) if value > limit else None
    if check.kind == "string":
        if "\x00" in value:
            return OutOfBoundsError(f"{path} contains a NUL character", field=path)
        return None
    if check.kind == "timestamp":
        if not wire.valid_timestamp(value):
            why = f"is not a valid timestamp (years 1 to 9999, nanos 0 to {wire.MAX_NANOS})"
            return OutOfBoundsError(f"{path} {why}", field=path)
        return None
    return _message_error(value, check.inner, path + ".")


def _message_error(
    message: Message, checks: tuple[_Check, ...], prefix: str
) -> OutOfBoundsError | None:
    for check in checks:
        path = prefix + check.name
        if check.repeated:
            values = list(getattr(message, check.name))
        elif check.kind in ("timestamp", "message"):
            values = [getattr(message, check.name)] if message.HasField(check.name) else []
        else:
            values = [getattr(message, check.name)]
        for value in values:
            if (error := _value_error(check, value, path)) is not None:
                return error
    return None


def out_of_bounds(message: Message) -> OutOfBoundsError | None:
    """Why `message` holds a value past the vault's bounds (naming the field, never its
    value), or None when every value is within them."""
    return _message_error(message, _checks(message.DESCRIPTOR), "")


# -- the deserializer and the handlers ------------------------------------------------


def _lenient(deserializer: Deserializer) -> Deserializer:
    """`deserializer`, returning an `Undecodable` instead of raising or letting a value
    past the bounds through."""

    def decode(data: bytes) -> Any:
        try:
            message = deserializer(data)
        except DecodeError:
            return Undecodable(deserializer(b""), UndecodableError("the request did not decode"))
        if isinstance(message, Message) and (error := out_of_bounds(message)) is not None:
            return Undecodable(deserializer(b""), error)
        return message

    return decode


def note_refusal(error: InvalidArgumentError) -> None:
    """Notes, in the call's context, that its request was refused before its handler."""
    _refusal.set(error)


def raise_noted_refusal() -> None:
    """Raises the refusal noted for this call's request, if any (see `Calls`)."""
    error = _refusal.get()
    if error is not None:
        raise error


def _request(request: Any) -> Any:
    if isinstance(request, Undecodable):
        note_refusal(request.error)
        return request.empty
    return request


class _Refusing:
    """A request stream that raises the refusal of the first message it refuses."""

    def __init__(self, messages: AsyncIterable[Any]) -> None:
        self._messages = messages
        self._iterator: AsyncIterator[Any] | None = None  # grpc's, made at the first read

    def __aiter__(self) -> _Refusing:
        return self

    async def __anext__(self) -> Any:
        if self._iterator is None:
            self._iterator = aiter(self._messages)
        message = await anext(self._iterator)
        if isinstance(message, Undecodable):
            raise message.error
        return message


def _unary_request(behavior: Behavior) -> Behavior:
    return prepared(behavior, lambda request, _: _request(request))


def _streamed_requests(behavior: Behavior) -> Behavior:
    return prepared(behavior, lambda requests, _: _Refusing(requests))


def lenient_handler(handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
    """`handler` with a deserializer that never raises, and behaviours that refuse what
    it did not decode."""
    if handler.request_deserializer is None:
        return handler
    return rebuilt(
        handler,
        _unary_request,
        wrap_streamed=_streamed_requests,
        request_deserializer=_lenient(handler.request_deserializer),
    )


class DecodingInterceptor(RebuildingInterceptor):
    """Gives the handlers of `service` (its full name, `vault.v1.DossierVault`) requests
    that decoded within the bounds, or the refusal to answer instead; other services
    (health, reflection) are left as they are."""

    def __init__(self, service: str) -> None:
        self._prefix = f"/{service}/"

    def rebuild(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        return lenient_handler(handler) if method.startswith(self._prefix) else handler
