"""OpenTelemetry spans, optional (`VAULT_TRACING`, the `[otel]` extra), free when off.

`span(name, **attributes)` is what the seams call (the edge, vault/server/calls.py; the
gate, vault/service/gate.py): while tracing is off it returns one shared no-op context
manager after a single test of a module global, and nothing imports opentelemetry.
`enable()` (the server, at start, when VAULT_TRACING is on) takes a tracer from the
OpenTelemetry API's global provider, which the deployment configures (the SDK and its
exporter, e.g. under `opentelemetry-instrument`, docs/operations.md). `instruments()`
adds spans to the ports the composition root already times (blob store, key provider,
journal commit: vault/observability/instrumented.py), drawn from their measured times.
`carried()` lets work handed to a thread pool keep its parent span.

Attributes are only the names in `ATTRIBUTES` (RPC name, status, outcome, operation,
sizes): never an INS, an RPPS, a dossier or document id or a title; an error is named by
its class, never its message. What it does not: configure exporters or sample.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from vault.errors import ConfigurationError
from vault.observability.instrumented import CommitObserver, Instruments, Observe

T = TypeVar("T")
Attribute = str | int
ATTRIBUTES = frozenset({"rpc", "status", "outcome", "operation", "size", "error"})

_tracer: Any = None  # an opentelemetry Tracer once enabled; None: tracing off


class _Off:
    """The span of tracing off: does nothing, shared by every call."""

    def __enter__(self) -> _Off:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def set(self, **_attributes: Attribute) -> None:
        return None


_OFF = _Off()


class _Span:
    """One live span: outcome `ok`, or `error` with the error's class name."""

    def __init__(self, name: str, attributes: dict[str, Attribute]) -> None:
        self._span = _tracer.start_span(name, attributes=_checked(attributes))
        self._context = _tracer_context().use_span(self._span, end_on_exit=False)
        self._outcome = "outcome" in attributes

    def set(self, **attributes: Attribute) -> None:
        self._span.set_attributes(_checked(attributes))
        self._outcome = self._outcome or "outcome" in attributes

    def __enter__(self) -> _Span:
        self._context.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._outcome:
            self._span.set_attribute("outcome", "ok" if error is None else "error")
        if error is not None:
            self._span.set_attribute("error", type(error).__name__)
        self._context.__exit__(None, None, None)  # the error goes on, unrecorded
        self._span.end()


def _tracer_context() -> Any:
    from opentelemetry import trace

    return trace


def _checked(attributes: dict[str, Attribute]) -> dict[str, Attribute]:
    unknown = set(attributes) - ATTRIBUTES
    if unknown:
        raise AssertionError(f"span attributes outside the allowed set: {sorted(unknown)}")
    return attributes


def span(name: str, **attributes: Attribute) -> _Off | _Span:
    """A context manager: a span named `name` while tracing is on, else a no-op."""
    if _tracer is None:
        return _OFF
    return _Span(name, attributes)


def note(**attributes: Attribute) -> None:
    """Sets attributes on the current span (tracing on), e.g. the status an RPC ends with."""
    if _tracer is not None:
        _tracer_context().get_current_span().set_attributes(_checked(attributes))


def carried(function: Callable[[], T]) -> Callable[[], T]:
    """`function`, run in the caller's context (its span) when tracing is on."""
    if _tracer is None:
        return function
    return functools.partial(contextvars.copy_context().run, function)


def enable() -> None:
    """Turns tracing on; VAULT_TRACING without opentelemetry installed is an error."""
    global _tracer
    try:
        from opentelemetry import trace
    except ImportError as error:
        raise ConfigurationError(
            "VAULT_TRACING is on but opentelemetry is not installed (the [otel] extra)"
        ) from error
    _tracer = trace.get_tracer("dossier-vault")


def disable() -> None:
    global _tracer
    _tracer = None


def _finished(
    name: str, seconds: float, error: BaseException | None, **attributes: Attribute
) -> None:
    """A span for an operation that took `seconds`, ending now."""
    if _tracer is None:
        return
    end = time.time_ns()
    done = _tracer.start_span(
        name, attributes=_checked(attributes), start_time=end - int(seconds * 1e9)
    )
    done.set_attribute("outcome", "ok" if error is None else "error")
    if error is not None:
        done.set_attribute("error", type(error).__name__)
    done.end(end_time=end)


def _port(name: str, observe: Observe | None) -> Observe:
    def observed(operation: str, seconds: float, error: BaseException | None) -> None:
        if observe is not None:
            observe(operation, seconds, error)
        _finished(name, seconds, error, operation=operation)

    return observed


def _commit(observe: CommitObserver | None) -> CommitObserver:
    def observed(size: int, seconds: float, error: BaseException | None) -> None:
        if observe is not None:
            observe(size, seconds, error)
        _finished("vault.journal.commit", seconds, error, size=size)

    return observed


def instruments(metrics: Instruments | None) -> Instruments | None:
    """The metrics' instruments, plus spans when tracing is on (else unchanged)."""
    if _tracer is None:
        return metrics
    return Instruments(
        _port("vault.blob_store", metrics.blob_store if metrics else None),
        _port("vault.crypto", metrics.key_provider if metrics else None),
        _commit(metrics.journal_commit if metrics else None),
    )
