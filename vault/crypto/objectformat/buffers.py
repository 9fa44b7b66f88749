"""Segment buffers reused from one object to the next: the pools, one module-level
instance each, shared by encryption (`encrypt`) and decryption (`views`), and the lease
of one buffer for one stream.

Not here: what is read or written into the buffers, nor when they are given back (the
callers decide; a lease only refuses to give back a buffer that is still referenced).
"""

from __future__ import annotations

import sys
import threading

from vault.crypto.objectformat.header import DEFAULT_SEGMENT_SIZE, TAG_SIZE


class _BufferPool:
    """Segment buffers, reused from one object to the next.

    A fresh buffer of one segment costs a memset of the whole segment and, whenever the
    allocator has handed the memory back to the system, a page fault per 4 KiB (~0.7 ms
    per MiB on the reference machine): more than sealing a 1 MiB document. A pool holds
    at most `keep` idle buffers, of at most `largest` bytes each.
    """

    def __init__(self, keep: int, largest: int) -> None:
        self._idle: list[bytearray] = []
        self._keep = keep
        self._largest = largest
        self._lock = threading.Lock()

    def take(self, size: int) -> bytearray:
        with self._lock:
            for i, buffer in enumerate(self._idle):
                if len(buffer) == size:
                    return self._idle.pop(i)
        return bytearray(size)

    def give(self, buffer: bytearray) -> None:
        if len(buffer) > self._largest:
            return
        with self._lock:
            self._idle.append(buffer)
            del self._idle[: -self._keep]  # the oldest go first


SEALED_BUFFERS = _BufferPool(keep=4, largest=DEFAULT_SEGMENT_SIZE + TAG_SIZE)
# Decryption: sealed segments read from a `readinto` source, and opened plaintext. An idle
# plaintext buffer still holds the last segment it released (as freed heap memory would);
# it is only ever taken by another decryption, which overwrites what it then exposes.
READ_BUFFERS = _BufferPool(keep=4, largest=DEFAULT_SEGMENT_SIZE + TAG_SIZE)
PLAINTEXT_BUFFERS = _BufferPool(keep=4, largest=DEFAULT_SEGMENT_SIZE)


class BufferLease:
    """One buffer for one stream, and a view of all of it (`view`).

    The buffer comes from `pool` when `pooled`, and goes back at `close` only if no view
    of it is left: a consumer that broke the lifetime contract by keeping a slice of a
    yielded view keeps the buffer to itself, never sees another stream write into it.
    """

    def __init__(self, pool: _BufferPool, size: int, pooled: bool) -> None:
        self._buffer = pool.take(size) if pooled else bytearray(size)
        self._pool = pool if pooled else None
        self._references = sys.getrefcount(self._buffer)  # ours only: no view yet
        self.view = memoryview(self._buffer)

    def close(self) -> None:
        self.view.release()
        if self._pool is not None and sys.getrefcount(self._buffer) == self._references:
            self._pool.give(self._buffer)
        self._pool = None
