"""Object format v1, reading into fresh `bytes`: `ObjectDecryptor` authenticates a header
against the document key and opens segments; `decrypt_stream` reads a whole object
(looking one segment ahead to know which is the last), `decrypt_range` only the segments
that cover a range of plaintext, at the sizes `plaintext_layout` gives.

Each segment is released only once it has been authenticated, and a stream that ends
anywhere but after a segment marked last is an IntegrityError. Every segment yielded is
new `bytes` that the caller may keep: two new buffers of one segment per segment (the
sealed one read, and the plaintext).

Not here: the reused-buffer read path (`views`), writing (`encrypt`), the header's layout
(`header`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from cryptography.exceptions import InvalidSignature

from vault.crypto.objectformat.header import (
    FIELDS,
    HEADER_SIZE,
    NONCE_PREFIX_AT,
    PREFIX_SIZE,
    REF_AT,
    SALT_AT,
    TAG_SIZE,
    Buffer,
    ObjectHeader,
    ObjectRef,
    Segments,
    Subkeys,
    check_header,
    check_prefix,
    ref_fields,
)
from vault.errors import IntegrityError

Reader = Callable[[int], bytes]


class ObjectDecryptor:
    """Authenticates a header against the document key, then opens its segments.

    `header` is either parsed (`parse_header`) or the header's bytes as read, which are
    checked the same way without building objects (the read paths' per-object cost)."""

    def __init__(self, key: bytes, header: ObjectHeader | bytes, expected: ObjectRef) -> None:
        if isinstance(header, bytes):
            data, self.segment_size = header, check_header(header)
            belongs = data[REF_AT:SALT_AT] == ref_fields(expected)
        else:
            data, self.segment_size = header.encode(), header.segment_size
            belongs = header.ref == expected
        if not belongs:
            raise IntegrityError("object does not belong to the requested document")
        subkeys = Subkeys(key, data[SALT_AT:NONCE_PREFIX_AT])
        mac = subkeys.header_mac()
        mac.update(data[: FIELDS.size])
        try:
            mac.verify(data[FIELDS.size :])
        except InvalidSignature:
            raise IntegrityError("object header failed authentication") from None
        nonce_prefix = data[NONCE_PREFIX_AT : FIELDS.size]
        self._segments = Segments(subkeys.segment_key(), data, nonce_prefix)

    def open_segment(self, index: int, sealed: Buffer, last: bool) -> bytes:
        if len(sealed) < TAG_SIZE or len(sealed) > self.segment_size + TAG_SIZE:
            raise IntegrityError(f"object segment {index} has an impossible size")
        return self._segments.open(index, last, sealed)

    def open_segment_into(
        self, index: int, sealed: memoryview, last: bool, out: memoryview
    ) -> None:
        """Opens a segment into `out`, which must be its exact plaintext size; `out` holds
        the plaintext only if this returns (it is wiped when authentication fails)."""
        if len(sealed) != len(out) + TAG_SIZE or len(out) > self.segment_size:
            raise IntegrityError(f"object segment {index} has an impossible size")
        self._segments.open_into(index, last, sealed, out)


def read_exactly(read: Reader, size: int) -> bytes:
    """Reads `size` bytes, fewer only at the end of the object.

    A complete first read (what blob readers return) is passed on as it is; short reads
    are joined once, not concatenated one by one (which copies quadratically)."""
    data = read(size)
    if len(data) >= size or not data:
        return data
    parts, missing = [data], size - len(data)
    while missing > 0:
        more = read(missing)
        if not more:
            break
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)


def _read_header(read: Reader) -> bytes:
    prefix = read_exactly(read, PREFIX_SIZE)
    check_prefix(prefix)  # refuse a foreign object or version before reading further
    return prefix + read_exactly(read, HEADER_SIZE - len(prefix))


def decrypt_stream(key: bytes, expected: ObjectRef, read: Reader) -> Iterator[bytes]:
    """Yields the plaintext segment by segment; each is authenticated before it is yielded.

    Memory holds two sealed segments (one of look-ahead, to know which one is last).
    """
    decryptor = ObjectDecryptor(key, _read_header(read), expected)
    sealed_size = decryptor.segment_size + TAG_SIZE
    current = read_exactly(read, sealed_size)
    if not current:
        raise IntegrityError("object truncated: no segment")
    index = 0
    while True:
        following = read_exactly(read, sealed_size) if len(current) == sealed_size else b""
        yield decryptor.open_segment(index, current, last=not following)
        if not following:
            return
        current, index = following, index + 1


RangeOpener = Callable[[int, int], Reader]  # (object offset, length) -> read function


def plaintext_layout(object_size: int, segment_size: int) -> tuple[int, int, int]:
    """(segments, size of the last sealed segment, plaintext size) of an object."""
    body = object_size - HEADER_SIZE
    sealed_size = segment_size + TAG_SIZE
    segments = max(1, -(-body // sealed_size))
    last = body - (segments - 1) * sealed_size
    if body < TAG_SIZE or last < TAG_SIZE:
        raise IntegrityError("object truncated")
    return segments, last, body - segments * TAG_SIZE


def decrypt_range(
    key: bytes,
    expected: ObjectRef,
    open_at: RangeOpener,
    object_size: int,
    offset: int,
    length: int | None,
) -> Iterator[bytes]:
    """Yields plaintext bytes [offset, offset + length) (cut at the end of the document),
    reading and authenticating only the header and the segments that cover them.

    `object_size` is the size the index recorded: a shorter or longer object, or one whose
    segments were moved, fails authentication (the last segment's flag is checked)."""
    decryptor = ObjectDecryptor(key, read_exactly(open_at(0, HEADER_SIZE), HEADER_SIZE), expected)
    size = decryptor.segment_size
    segments, last_sealed, plaintext_size = plaintext_layout(object_size, size)
    end = plaintext_size if length is None else min(plaintext_size, offset + length)
    if end <= offset:
        return
    first, final = offset // size, (end - 1) // size
    sealed_size = size + TAG_SIZE
    read = open_at(HEADER_SIZE + first * sealed_size, (final - first + 1) * sealed_size)
    for index in range(first, final + 1):
        is_last = index == segments - 1
        plaintext = decryptor.open_segment(
            index, read_exactly(read, last_sealed if is_last else sealed_size), is_last
        )
        start = offset - index * size if index == first else 0
        stop = end - index * size if index == final else len(plaintext)
        yield plaintext[start:stop]
