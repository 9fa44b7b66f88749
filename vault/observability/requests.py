"""The record of the call in progress: its request id and, once known, the actor's kind.

The observing interceptor (vault/observability/interceptor.py) opens a record before the
handler runs, in a context variable of the call's task; the edge (vault/server/calls.py)
takes the request id from it (so the trailer, the journal and the request's log line
carry one id) and notes the authenticated actor's kind. Outside a call there is no record
and the edge makes its own id. What it does not: log or count anything.
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass, field


@dataclass
class RequestRecord:
    """Mutable on purpose: filled in by the edge while the call runs."""

    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    actor_kind: str | None = None  # an ActorKind value; never the subject


_current: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar(
    "vault_request", default=None
)


def begin() -> RequestRecord:
    """A new record for the call running in this context."""
    record = RequestRecord()
    _current.set(record)
    return record


def current() -> RequestRecord | None:
    return _current.get()
