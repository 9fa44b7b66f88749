"""The deadline of the call being served, for the waits that can be bounded by it
(docs/adr/0010-bulkheads-and-deadlines.md).

The gRPC edge sets it when a call begins (`vault.server.bulkheads.CompartmentInterceptor`,
from `context.time_remaining()`); the call compartments carry it into the threads that
run the call's work (`Bulkheads.submit` runs each job in a copy of the caller's
context). An adapter reads `remaining()`: None outside a call or for a call without a
deadline. What it does not: interrupt anything (a blocked thread cannot be); the S3
client uses it not to start a retry that cannot finish in time (vault/blobstore/s3/client.py).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "vault_deadline", default=None
)


def begin(seconds: float | None) -> None:
    """The current call must end within `seconds` (None: no deadline)."""
    _deadline.set(None if seconds is None else time.monotonic() + seconds)


def remaining() -> float | None:
    """Seconds left to the current call's deadline (negative: past), or None."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


@contextmanager
def within(seconds: float | None) -> Iterator[None]:
    """A deadline for the block (jobs and tests outside a gRPC call)."""
    token = _deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)
