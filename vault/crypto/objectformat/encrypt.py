"""Object format v1, writing: `ObjectEncryptor` seals a stream into an object, and
`ciphertext_size` says how large that object will be.

The encryptor holds at most one segment of plaintext (a reference to the caller's `bytes`
when they are a segment or less, a copy otherwise) and one of ciphertext (a buffer reused
from one object to the next), whatever the document size.

Not here: the header's layout and the segment cryptography (`header`), reading (`decrypt`,
`views`).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from vault.crypto.objectformat.buffers import SEALED_BUFFERS
from vault.crypto.objectformat.header import (
    DEFAULT_SEGMENT_SIZE,
    HEADER_SIZE,
    MAX_SEGMENT_SIZE,
    NONCE_PREFIX_SIZE,
    SALT_SIZE,
    TAG_SIZE,
    ObjectHeader,
    ObjectRef,
    Segments,
    Subkeys,
)

Sink = Callable[[memoryview], object]
_EMPTY = memoryview(b"")


def ciphertext_size(plaintext_size: int, segment_size: int) -> int:
    """The exact size of the object that holds `plaintext_size` bytes."""
    segments = max(1, -(-plaintext_size // segment_size))
    return HEADER_SIZE + plaintext_size + segments * TAG_SIZE


class ObjectEncryptor:
    """Encrypts a stream into `sink`, one segment at a time.

    `sink` receives the header, then each sealed segment, as memoryviews that are only
    valid during the call (the ciphertext buffer is reused): write or copy them there.

    Plaintext is never copied on its way to the cipher except for the bytes held back
    for the next write: the last segment may only be sealed once `close` says it is the
    last. Those are held by reference when the caller gave immutable `bytes` (e.g. the
    1 MiB chunks of a gRPC stream), and copied into a buffer of one segment otherwise
    (a `bytearray` or `memoryview` may be reused by its owner after `write` returns).
    """

    def __init__(
        self,
        key: bytes,
        ref: ObjectRef,
        sink: Sink,
        *,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        salt: bytes | None = None,
        nonce_prefix: bytes | None = None,
    ) -> None:
        salt = os.urandom(SALT_SIZE) if salt is None else salt
        nonce_prefix = os.urandom(NONCE_PREFIX_SIZE) if nonce_prefix is None else nonce_prefix
        if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
            raise ValueError("segment size out of range")
        if len(salt) != SALT_SIZE or len(nonce_prefix) != NONCE_PREFIX_SIZE or len(key) != 32:
            raise ValueError("key, salt or nonce prefix of the wrong size")
        fields = ObjectHeader(ref, segment_size, salt, nonce_prefix, b"").authenticated_fields()
        subkeys = Subkeys(key, salt)
        mac = subkeys.header_mac()
        mac.update(fields)
        header = fields + mac.finalize()
        self._segments = Segments(subkeys.segment_key(), header, nonce_prefix)
        self._segment_size = segment_size
        self._held = _EMPTY  # plaintext not sealed yet: 0 to S bytes
        self._buffer: bytearray | None = None  # a copy of held bytes that could change
        self._out: bytearray | None = None  # the sealed segment, reused
        self._index = 0
        self._closed = False
        self._sink = sink
        self.plaintext_size = 0
        self.ciphertext_size = HEADER_SIZE
        sink(memoryview(header))

    @property
    def buffered(self) -> int:
        """Plaintext bytes held back, waiting to know whether they end the document."""
        return len(self._held)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Adds plaintext; emits every segment known not to be the last."""
        if self._closed:
            raise ValueError("the encryptor is closed")
        with memoryview(data) as view, view.cast("B") as octets:
            self.plaintext_size += len(octets)
            if octets:
                self._absorb(octets, immutable=type(data) is bytes)

    def close(self) -> None:
        """Emits the last segment (possibly empty). The encryptor is spent afterwards."""
        if self._closed:
            raise ValueError("the encryptor is closed")
        self._closed = True
        self._emit(self._held, last=True)
        self._held, self._buffer = _EMPTY, None
        if self._out is not None and len(self._out) == self._segment_size + TAG_SIZE:
            SEALED_BUFFERS.give(self._out)  # no view of it outlives `_emit`
        self._out = None

    def _absorb(self, data: memoryview, immutable: bool) -> None:
        """Seals what is held and `data` but their last 1..S bytes, and holds those."""
        offset = self._complete_held(data)
        size, remaining = self._segment_size, len(data) - offset
        if not remaining:
            return
        stop = offset + (remaining - 1) // size * size
        for start in range(offset, stop, size):
            with data[start : start + size] as segment:
                self._emit(segment, last=False)
        # `bytes` cannot change under us: keep a view, unless it would pin a large object.
        keep = immutable and len(data) <= size
        self._held = data[stop:] if keep else self._copied(data[stop:])

    def _complete_held(self, data: memoryview) -> int:
        """Fills the held segment from `data`, and seals it if more plaintext follows;
        returns how many bytes of `data` it took."""
        held = len(self._held)
        if not held:
            return 0
        taken = min(self._segment_size - held, len(data))
        if taken:
            self._held = self._copied(self._held, data[:taken])
        if taken < len(data):
            self._emit(self._held, last=False)
            self._held = _EMPTY
        return taken

    def _copied(self, *parts: memoryview) -> memoryview:
        """`parts`, one after the other, in our buffer of one segment."""
        if self._buffer is None:
            self._buffer = bytearray(self._segment_size)
        end = 0
        for part in parts:
            if part.obj is not self._buffer:  # held bytes already copied start the buffer
                self._buffer[end : end + len(part)] = part
            end += len(part)
        return memoryview(self._buffer)[:end]

    def _emit(self, plaintext: memoryview, last: bool) -> None:
        sealed, full = len(plaintext) + TAG_SIZE, self._segment_size + TAG_SIZE
        if self._out is None:  # the first segment is full unless it is the only one
            self._out = SEALED_BUFFERS.take(full) if sealed == full else bytearray(sealed)
        with memoryview(self._out) as out, out[:sealed] as target:
            self._segments.seal_into(self._index, last, plaintext, target)
            self._sink(target)
        self._index += 1
        self.ciphertext_size += sealed
