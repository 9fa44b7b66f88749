"""`UploadBudget`: the memory that uploads in flight may hold, per server and per connection.

An upload holds the bytes it received but has not sealed and written yet: the chunk being
encrypted, and the plaintext the encryptor holds back (up to one segment) until it knows
whether it ends the document. Each PutDocument charges what it holds to the server's
budget (`VAULT_UPLOAD_BUDGET_MIB`) and to its connection's (`VAULT_UPLOAD_CONNECTION_
BUDGET_MIB`, the connection being the call's peer address and port), and settles the
charge to what the encryptor still holds after each write (ADR 0011):

- before it reads its next chunk, a stream waits while either budget is spent (it reads
  nothing meanwhile, so HTTP/2 flow control pushes back on its client); after
  `wait_seconds` without room, RESOURCE_EXHAUSTED;
- a chunk that arrives and does not fit is refused at once with RESOURCE_EXHAUSTED: its
  bytes are in memory already, and waiting with them is what the budget prevents.

Once uploads let go of `TRIM_AFTER_BYTES` (charges released, chunks refused: a wave of
uploads ended, or was abandoned or refused), the heap is trimmed, at most once a second:
a garbage collection (an aborted call's traceback holds its frames, and so its last
chunk, in a reference cycle) then `malloc_trim`, so the memory goes back to the system.

A resumable upload whose stream was cut is parked (docs/adr/0031): what it holds (at most
one segment) stays charged to the server's budget only (`park`, `unpark`: its connection
is gone), until a resume's stream adopts the charge (`StreamBudget.adopt`) or its lease
ends; `reap_after` runs the expiry of parked uploads when their leases end.

Runs on the event loop only (no lock). What it does not: read messages (the servicer) or
know what an upload does with its bytes (vault/service/uploads.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from vault.errors import ResourceExhaustedError

MIB = 1024 * 1024
TRIM_AFTER_BYTES = 64 * MIB  # freed since the last trim: fewer are not worth one
TRIM_EVERY_SECONDS = 1.0  # at most one trim (a gc pass and malloc_trim) a second
# the defaults of vault/config.py's VAULT_UPLOAD_BUDGET_MIB, ..._CONNECTION_BUDGET_MIB,
# VAULT_UPLOAD_BUDGET_WAIT_SECONDS and VAULT_STREAM_IDLE_SECONDS
DEFAULT_BUDGET_BYTES = 256 * MIB
DEFAULT_CONNECTION_BUDGET_BYTES = 64 * MIB
DEFAULT_WAIT_SECONDS = 5.0
DEFAULT_IDLE_SECONDS = 30.0
REAP_RETRY_SECONDS = 5.0  # after an expiry of parked uploads failed
Reaped = tuple[list[int], float | None]  # bytes released, seconds until the next expiry
_log = logging.getLogger(__name__)


class UploadBudget:
    """The server's budget and each connection's, shared by every upload stream."""

    def __init__(
        self,
        server_bytes: int,
        connection_bytes: int,
        wait_seconds: float,
        trim: Callable[[], object] | None = None,
    ) -> None:
        self.server_bytes = server_bytes
        self.connection_bytes = connection_bytes
        self.wait_seconds = wait_seconds
        self.used = 0
        self._by_connection: dict[str, int] = {}
        self._freed = 0  # bytes released or refused since the last trim
        self._last_trim = -TRIM_EVERY_SECONDS
        self._trim_scheduled = False
        self._trim = trim
        self._changed = asyncio.Event()  # set (then replaced) when charges fall
        self.parked = 0  # bytes held by parked uploads (charged to `used` too)
        self._reapers: set[asyncio.Task[None]] = set()

    def stream(self, connection: str) -> StreamBudget:
        """The charges of one upload stream on `connection`."""
        return StreamBudget(self, connection)

    def connection_used(self, connection: str) -> int:
        return self._by_connection.get(connection, 0)

    def room(self, connection: str, size: int, own: int = 0) -> bool:
        """Whether `size` more bytes fit, not counting `own` bytes charged already."""
        return (
            self.used - own + size <= self.server_bytes
            and self.connection_used(connection) - own + size <= self.connection_bytes
        )

    def exhausted_message(self, connection: str, size: int, own: int = 0) -> str:
        if size > self.connection_bytes or self.used - own + size <= self.server_bytes:
            return "the connection's upload memory budget is spent: retry later or on another"
        return "the server's upload memory budget is spent: retry later"

    def charge(self, connection: str, delta: int) -> None:
        self.used += delta
        left = self._by_connection.get(connection, 0) + delta
        if left:
            self._by_connection[connection] = left
        else:
            self._by_connection.pop(connection, None)
        if delta < 0:
            self._fell(-delta)

    def _fell(self, size: int) -> None:
        """Wakes the streams waiting for room; counts `size` bytes freed."""
        self._changed.set()
        self._changed = asyncio.Event()
        self.freed(size)

    def freed(self, size: int) -> None:
        """Counts bytes an upload let go (a charge released, a chunk refused); trims the
        heap once `TRIM_AFTER_BYTES` were, at most every `TRIM_EVERY_SECONDS` (a trim due
        sooner is put off until then, so the end of a wave is always trimmed)."""
        self._freed += size
        if self._trim is None or self._freed < TRIM_AFTER_BYTES or self._trim_scheduled:
            return
        wait = self._last_trim + TRIM_EVERY_SECONDS - time.monotonic()
        if wait <= 0:
            self._trim_now()
        else:
            self._trim_scheduled = True
            asyncio.get_running_loop().call_later(wait, self._trim_now)

    def _trim_now(self) -> None:
        self._trim_scheduled = False
        self._freed = 0
        self._last_trim = time.monotonic()
        if self._trim is not None:
            self._trim()

    def park(self, size: int) -> bool:
        """Charges a parked upload's `size` bytes to the server's budget, if they fit."""
        if self.used + size > self.server_bytes:
            return False
        self.used += size
        self.parked += size
        return True

    def unpark(self, size: int) -> None:
        """Releases a parked upload's charge (resumed: its stream adopts it; expired)."""
        self.parked -= size
        self.used -= size
        if size:
            self._fell(size)

    def reap_after(self, seconds: float, reap: Callable[[], Awaitable[Reaped]]) -> None:
        """In `seconds`, runs `reap` (the expiry of parked uploads): it returns the bytes
        each expired upload held, released here, and when to run again (None: nothing is
        parked any more)."""
        loop = asyncio.get_running_loop()
        loop.call_later(seconds, self._start_reaper, reap)

    def _start_reaper(self, reap: Callable[[], Awaitable[Reaped]]) -> None:
        task = asyncio.get_running_loop().create_task(self._reap(reap))
        self._reapers.add(task)
        task.add_done_callback(self._reapers.discard)

    async def _reap(self, reap: Callable[[], Awaitable[Reaped]]) -> None:
        try:
            released, again = await reap()
        except Exception:  # a dependency down: try again a little later
            _log.warning("could not expire parked uploads; retrying", exc_info=True)
            released, again = [], REAP_RETRY_SECONDS
        for size in released:
            self.unpark(size)
        if again is not None:
            self.reap_after(again, reap)

    async def wait_for_room(self, connection: str, size: int, own: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        while not self.room(connection, size, own):
            left = deadline - loop.time()
            if left <= 0:
                raise ResourceExhaustedError(self.exhausted_message(connection, size, own))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._changed.wait()


class StreamBudget:
    """What one upload stream holds: its charge, adjusted as it reads and writes."""

    def __init__(self, budget: UploadBudget, connection: str) -> None:
        self._budget = budget
        self._connection = connection
        self.held = 0
        self._expected = 1  # the size of the next chunk, as the last one's

    async def before_read(self) -> None:
        """Waits until both budgets have room for a chunk like the last one besides what
        the other streams hold (this one's charge is settled before its next chunk is
        admitted), reading nothing meanwhile; RESOURCE_EXHAUSTED after the budget's wait."""
        budget = self._budget
        expected = min(self._expected, budget.connection_bytes, budget.server_bytes)
        await budget.wait_for_room(self._connection, expected, self.held)

    def admit(self, size: int) -> None:
        """Charges a chunk that arrived; RESOURCE_EXHAUSTED if it does not fit."""
        budget = self._budget
        self._expected = max(size, 1)
        if not budget.room(self._connection, size):
            budget.freed(size)  # the chunk goes with the call
            raise ResourceExhaustedError(budget.exhausted_message(self._connection, size))
        budget.charge(self._connection, size)
        self.held += size

    def settle(self, held: int) -> None:
        """Sets the charge to what the upload still holds (after a write)."""
        if held < self.held:
            self._budget.charge(self._connection, held - self.held)
            self.held = held

    def adopt(self, size: int) -> None:
        """Charges bytes the stream took over already in memory (a resumed upload's)."""
        self._budget.charge(self._connection, size)
        self.held += size

    def release(self) -> None:
        """Drops the whole charge (the stream ended, whatever its outcome)."""
        self.settle(0)
