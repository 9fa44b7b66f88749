"""Bulkheads: the calls that touch the blob store run in threads of their own, so a stalled
S3 cannot take the threads that listings and every other metadata call need
(docs/adr/0010-bulkheads-and-deadlines.md).

`Compartment` is a bounded thread pool with a bounded queue: work beyond `workers +
queue` waiting or running is refused at once with UnavailableError (UNAVAILABLE at the
edge), never queued without end. `Bulkheads` is the `Executor` the servicer and `Calls`
are given: it sends each piece of work to the compartment of the call that submits it,
which `CompartmentInterceptor` names, by RPC method, before the handler runs (a context
variable of the call's task; work submitted outside a call goes to `general`), and runs
it in a copy of the caller's context, so the call's deadline (`vault.deadlines`, which
the interceptor sets from the gRPC deadline) reaches the adapters. Once a
call was refused by its compartment, the rest of its work (the refusal's journal entry,
written by the edge) goes to `general`, so the refusal is still journaled.

What it does not: time out the work it runs (a thread cannot be interrupted: the
dependencies' own timeouts end it, vault/sqlstore.py, vault/blobstore/s3/settings.py).
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import grpc

from vault import deadlines
from vault.errors import UnavailableError
from vault.server.handlers import RebuildingInterceptor, prepared, rebuilt

P = ParamSpec("P")
T = TypeVar("T")
Behavior = Callable[..., Any]

# The RPCs that read, write or delete objects in the blob store.
BLOB_METHODS = frozenset(("PutDocument", "GetDocument", "ExportDossier", "DeleteDocument"))
GENERAL = "general"
BLOB = "blob"

_compartment: contextvars.ContextVar[str] = contextvars.ContextVar(
    "vault_compartment", default=GENERAL
)


class Compartment(Executor):
    """A thread pool of `workers` threads with room for `queue` more jobs waiting."""

    def __init__(self, name: str, workers: int, queue: int) -> None:
        self.name = name
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=f"vault-{name}")
        self._slots = threading.BoundedSemaphore(workers + queue)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Runs `fn` in the pool, or raises UnavailableError if it is full."""
        if not self._slots.acquire(blocking=False):
            raise UnavailableError(f"too many calls waiting ({self.name}); retry later")
        try:
            future = self._pool.submit(fn, *args, **kwargs)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


class Bulkheads(Executor):
    """Routes work to the compartment of the call submitting it."""

    def __init__(self, general: Compartment, blob: Compartment) -> None:
        self.general = general
        self.blob = blob

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        compartment = self.blob if _compartment.get() == BLOB else self.general
        context = contextvars.copy_context()  # the call's deadline, into the thread
        try:
            return compartment.submit(functools.partial(context.run, fn, *args, **kwargs))
        except UnavailableError:
            _compartment.set(GENERAL)  # the refusal's journal entry needs no blob store
            raise

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.general.shutdown(wait, cancel_futures=cancel_futures)
        self.blob.shutdown(wait, cancel_futures=cancel_futures)


def compartment_of(method: str) -> str:
    """The compartment of a full method name (/vault.v1.DossierVault/PutDocument)."""
    return BLOB if method.rsplit("/", 1)[-1] in BLOB_METHODS else GENERAL


def _entered(behavior: Behavior, name: str) -> Behavior:
    """`behavior`, run with its compartment and deadline in its task's context (a
    synchronous handler runs in grpc's own pool: general)."""

    def enter(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        _compartment.set(name)
        deadlines.begin(context.time_remaining())
        return request

    return prepared(behavior, enter)


class CompartmentInterceptor(RebuildingInterceptor):
    """Names each call's compartment, and sets its deadline, before its handler runs."""

    def rebuild(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        name = compartment_of(method)
        return rebuilt(handler, lambda behavior: _entered(behavior, name))
