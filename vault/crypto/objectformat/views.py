"""Object format v1, the reused-buffer read path: `decrypt_views` and `decrypt_segments`
read an object whose recorded size is known, so nothing is read ahead.

Each sealed segment is read in place (a source that hands out views of its own buffer) or
into one reused buffer (a source with `readinto`). `decrypt_views` opens it into one
reused plaintext buffer and yields a memoryview of that buffer that is valid only until
the next iteration: no buffer is allocated per segment, and from one object to the next
the buffers come from a pool (`buffers`). `decrypt_segments` reads the same way but
yields each plaintext as new `bytes`.

Not here: authenticating the header and opening a segment (`decrypt.ObjectDecryptor`),
reading without a recorded size or by range (`decrypt`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Protocol, cast

from vault.crypto.objectformat.buffers import PLAINTEXT_BUFFERS, READ_BUFFERS, BufferLease
from vault.crypto.objectformat.decrypt import ObjectDecryptor, plaintext_layout, read_exactly
from vault.crypto.objectformat.header import (
    HEADER_SIZE,
    PREFIX_SIZE,
    TAG_SIZE,
    Buffer,
    ObjectRef,
    check_prefix,
)
from vault.errors import IntegrityError

ReadInto = Callable[[memoryview], int | None]


class ViewSource(Protocol):
    """Where `decrypt_views` reads an object from.

    `read(size)` returns up to `size` bytes (fewer only at the end, empty after it), as
    `bytes` or as a view of the source's own buffer that only needs to stay valid until
    the next call. A source that also has `readinto(buffer) -> int` (files, `BytesIO`,
    `FileBlobStore` readers) has its segments read into one reused buffer instead.
    """

    def read(self, size: int, /) -> Buffer: ...


def _fill(readinto: ReadInto, target: memoryview) -> int:
    """Reads into `target` until it is full or the source ends; returns how much."""
    filled = 0
    while filled < len(target):
        with target[filled:] as rest:
            got = readinto(rest)
        if not got:
            break
        filled += got
    return filled


class _SealedSegments:
    """An object's sealed segments, read from a `ViewSource` at the sizes its recorded
    size gives: in place when the source's reads are whole, else read (`readinto`) or
    gathered (short reads) into one leased buffer of a segment."""

    def __init__(self, source: ViewSource, segment_size: int, object_size: int) -> None:
        readinto = getattr(source, "readinto", None)
        self._read = source.read
        self._readinto = cast(ReadInto, readinto) if callable(readinto) else None
        self.count, self._last_size, _ = plaintext_layout(object_size, segment_size)
        self._full_size = segment_size + TAG_SIZE
        # Buffers of a full segment are pooled; an object of one short segment takes its size.
        self.pooled = self.count > 1 or self._last_size == self._full_size
        self.largest = self._full_size if self.pooled else self._last_size
        self._lease: BufferLease | None = None

    def read(self, index: int) -> memoryview:
        """Segment `index`, sealed; the caller releases the view (`with`) before the next
        call. IntegrityError if the source ends before it."""
        size = self._last_size if index == self.count - 1 else self._full_size
        sealed = self._exactly(size)
        if len(sealed) != size:
            sealed.release()
            raise IntegrityError("object truncated")
        return sealed

    def expect_end(self) -> None:
        if self._read(1):
            raise IntegrityError("object continues past its recorded size")

    def close(self) -> None:
        if self._lease is not None:
            self._lease.close()
            self._lease = None

    def _exactly(self, size: int) -> memoryview:
        if self._readinto is not None:
            scratch = self._scratch()
            with scratch[:size] as target:
                return scratch[: _fill(self._readinto, target)]
        data = self._read(size)
        if len(data) == size or not data:
            return memoryview(data)
        return self._gathered(data, size)

    def _gathered(self, first: Buffer, size: int) -> memoryview:
        """A short read completed by the following ones, in the leased buffer."""
        scratch = self._scratch()
        filled = len(first)
        scratch[:filled] = first
        while filled < size and (more := self._read(size - filled)):
            scratch[filled : filled + len(more)] = more
            filled += len(more)
        return scratch[:filled]

    def _scratch(self) -> memoryview:
        if self._lease is None:
            self._lease = BufferLease(READ_BUFFERS, self.largest, self.pooled)
        return self._lease.view


def _source_header(source: ViewSource) -> bytes:
    """The header, in one read from a source whose reads are whole."""

    def read(size: int) -> bytes:
        return bytes(source.read(size))

    data = read(HEADER_SIZE)
    if 0 < len(data) < HEADER_SIZE:
        data += read_exactly(read, max(0, PREFIX_SIZE - len(data)))
        check_prefix(data)  # refuse a foreign object before reading further
        data += read_exactly(read, HEADER_SIZE - len(data))
    return data


def _open_source(
    key: bytes, expected: ObjectRef, source: ViewSource, object_size: int
) -> tuple[ObjectDecryptor, _SealedSegments]:
    decryptor = ObjectDecryptor(key, _source_header(source), expected)
    return decryptor, _SealedSegments(source, decryptor.segment_size, object_size)


def decrypt_views(
    key: bytes, expected: ObjectRef, source: ViewSource, object_size: int
) -> Generator[memoryview, None, None]:
    """Yields the plaintext segment by segment, each authenticated before it is yielded,
    as a view of one reused plaintext buffer.

    Lifetime: a yielded view is valid until the generator is resumed or closed. It is
    released then (using it raises ValueError) and its buffer receives the next segment:
    hand it on (write, hash, send) or copy it (`bytes(view)`) before asking for the next
    one. Slices of it are not released: one kept past that point would read another
    segment, which is why a buffer still referenced when the stream ends is never reused.

    `object_size` is the size the index recorded: it says which segment is the last, so
    nothing is read ahead. An object that is shorter or longer, or whose segments were
    moved, dropped or edited, ends in IntegrityError before any unauthenticated byte is
    released. Reads are in place when `source.read` returns whole views of its own
    buffer, into one reused buffer when `source` has `readinto`.
    """
    decryptor, sealed = _open_source(key, expected, source, object_size)
    plain = BufferLease(PLAINTEXT_BUFFERS, sealed.largest - TAG_SIZE, sealed.pooled)
    try:
        for index in range(sealed.count):
            last = index == sealed.count - 1
            with sealed.read(index) as segment, plain.view[: len(segment) - TAG_SIZE] as out:
                decryptor.open_segment_into(index, segment, last, out)
                yield out
        sealed.expect_end()
    finally:
        sealed.close()
        plain.close()


def decrypt_segments(
    key: bytes, expected: ObjectRef, source: ViewSource, object_size: int
) -> Generator[bytes, None, None]:
    """`decrypt_views`' reads (no look-ahead, sealed segments in place or in one reused
    buffer), but each segment's plaintext is new `bytes` that the caller may keep: for
    callers that need `bytes` anyway (a protobuf message), one allocation per segment and
    no copy, where `decrypt_stream` allocates two."""
    decryptor, sealed = _open_source(key, expected, source, object_size)
    try:
        for index in range(sealed.count):
            with sealed.read(index) as segment:
                plaintext = decryptor.open_segment(index, segment, index == sealed.count - 1)
            yield plaintext
        sealed.expect_end()
    finally:
        sealed.close()
