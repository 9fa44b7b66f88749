"""Object format v1: a document encrypted in authenticated AES-256-GCM segments.

Layout (docs/format.md, "Object format v1", is normative; all integers big-endian):

    off  size  field
      0     4  magic "DVLT"
      4     1  format version = 0x01
      5     1  cipher suite = 0x01 (AES-256-GCM segments, HKDF-SHA256, HMAC-SHA256)
      6     4  segment size S: plaintext bytes in every segment but the last (1..16 MiB)
     10    16  dossier id          \
     26    16  document id          | key references: which dossier key version
     42     4  document version     | wraps which document key
     46     4  dossier key version /
     50    16  salt (random)
     66     7  nonce prefix (random)
     73    32  header MAC = HMAC-SHA256(mac_key, bytes 0..72): authenticates the header
               and commits to the document key
    105        segments: ciphertext || 16-byte tag; S bytes of plaintext each, the last
               0..S bytes (an empty document is one empty last segment)

    segment_key = HKDF-SHA256(document key, salt, "DVLT/v1/segment-key", 32)
    mac_key     = HKDF-SHA256(document key, salt, "DVLT/v1/header-mac-key", 32)
    nonce(i)    = nonce prefix || uint32 i || uint8 last
    aad(i)      = header (105 bytes) || uint32 i || uint8 last

The encryptor holds at most one segment of plaintext (a reference to the caller's `bytes`
when they are a segment or less, a copy otherwise) and one of ciphertext (a buffer reused
from one object to the next), whatever the document size; the decryptor releases a segment
only once it has been authenticated, and a stream that ends anywhere but after a segment
marked last is an IntegrityError.

Two ways of reading an object:

- `decrypt_stream` / `decrypt_range` yield each segment's plaintext as fresh `bytes` that
  the caller may keep: two new buffers of one segment per segment (the sealed one read,
  and the plaintext), which the allocator gives back to the system and faults in again.
- `decrypt_views` (the object's recorded size known) reads each sealed segment in place
  (a source that hands out views of its own buffer) or into one reused buffer (a source
  with `readinto`), opens it into one reused plaintext buffer, and yields a memoryview of
  that buffer that is valid only until the next iteration: no buffer is allocated per
  segment, and from one object to the next the buffers come from a pool.
  `decrypt_segments` reads the same way but yields each plaintext as new `bytes`.
"""

from __future__ import annotations

import os
import struct
import sys
import threading
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Protocol, cast

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from vault.errors import IntegrityError

MAGIC = b"DVLT"
FORMAT_VERSION = 1
SUITE_AES256GCM_HKDF_HMAC = 1
TAG_SIZE = 16
SALT_SIZE = 16
NONCE_PREFIX_SIZE = 7
MAC_SIZE = 32
MAX_SEGMENT_SIZE = 16 * 1024 * 1024
DEFAULT_SEGMENT_SIZE = 1024 * 1024
_MAX_SEGMENTS = 2**32

_FIELDS = struct.Struct(">4sBBI16s16sII16s7s")
HEADER_SIZE = _FIELDS.size + MAC_SIZE  # 105
_PREFIX_SIZE = 6  # magic + version: enough to dispatch on the format version
_SUITE_AND_SEGMENT_SIZE = struct.Struct(">BI")  # at offset 5
_REF_FIELDS = struct.Struct(">16s16sII")  # at offset 10
_REF_AT, _SALT_AT, _NONCE_PREFIX_AT = 10, 50, 66
_POSITION = struct.Struct(">IB")

Sink = Callable[[memoryview], object]
_EMPTY = memoryview(b"")
Reader = Callable[[int], bytes]
Buffer = bytes | bytearray | memoryview
ReadInto = Callable[[memoryview], int | None]


class ViewSource(Protocol):
    """Where `decrypt_views` reads an object from.

    `read(size)` returns up to `size` bytes (fewer only at the end, empty after it), as
    `bytes` or as a view of the source's own buffer that only needs to stay valid until
    the next call. A source that also has `readinto(buffer) -> int` (files, `BytesIO`,
    `FileBlobStore` readers) has its segments read into one reused buffer instead.
    """

    def read(self, size: int, /) -> Buffer: ...


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Where an object belongs: its key references, checked on every read."""

    dossier_id: uuid.UUID
    document_id: uuid.UUID
    version: int
    dossier_key_version: int


@dataclass(frozen=True, slots=True)
class ObjectHeader:
    ref: ObjectRef
    segment_size: int
    salt: bytes
    nonce_prefix: bytes
    mac: bytes

    def authenticated_fields(self) -> bytes:
        return _FIELDS.pack(
            MAGIC,
            FORMAT_VERSION,
            SUITE_AES256GCM_HKDF_HMAC,
            self.segment_size,
            self.ref.dossier_id.bytes,
            self.ref.document_id.bytes,
            self.ref.version,
            self.ref.dossier_key_version,
            self.salt,
            self.nonce_prefix,
        )

    def encode(self) -> bytes:
        return self.authenticated_fields() + self.mac


_SHA256 = hashes.SHA256()


class _Subkeys:
    """The object's two HKDF-SHA256 subkeys. HKDF is expand(extract(salt, key), info)
    (RFC 5869): both share the extract step, computed once."""

    def __init__(self, key: bytes, salt: bytes) -> None:
        self._prk = HKDF.extract(_SHA256, salt, key)

    def _expand(self, label: bytes) -> bytes:
        return HKDFExpand(_SHA256, 32, label).derive(self._prk)

    def segment_key(self) -> bytes:
        return self._expand(b"DVLT/v1/segment-key")

    def header_mac(self) -> hmac.HMAC:
        return hmac.HMAC(self._expand(b"DVLT/v1/header-mac-key"), _SHA256)


def ciphertext_size(plaintext_size: int, segment_size: int) -> int:
    """The exact size of the object that holds `plaintext_size` bytes."""
    segments = max(1, -(-plaintext_size // segment_size))
    return HEADER_SIZE + plaintext_size + segments * TAG_SIZE


class _Segments:
    """The per-object AEAD: nonces and associated data by segment position."""

    def __init__(self, segment_key: bytes, header: bytes, nonce_prefix: bytes) -> None:
        self._aead = AESGCM(segment_key)
        self._header = header
        self._nonce_prefix = nonce_prefix

    def _nonce_and_aad(self, index: int, last: bool) -> tuple[bytes, bytes]:
        if index >= _MAX_SEGMENTS:
            raise IntegrityError("object has more segments than format v1 allows")
        position = _POSITION.pack(index, last)
        return self._nonce_prefix + position, self._header + position

    def seal_into(self, index: int, last: bool, plaintext: memoryview, out: memoryview) -> None:
        nonce, aad = self._nonce_and_aad(index, last)
        self._aead.encrypt_into(nonce, plaintext, aad, out)

    def open(self, index: int, last: bool, sealed: Buffer) -> bytes:
        nonce, aad = self._nonce_and_aad(index, last)
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise IntegrityError(f"object segment {index} failed authentication") from None

    def open_into(self, index: int, last: bool, sealed: memoryview, out: memoryview) -> None:
        """Opens `sealed` into `out` (its exact plaintext size). AESGCM writes the plaintext
        before it checks the tag: on failure `out` is wiped, so that it never holds
        unauthenticated plaintext."""
        nonce, aad = self._nonce_and_aad(index, last)
        try:
            self._aead.decrypt_into(nonce, sealed, aad, out)
        except InvalidTag:
            out[:] = bytes(len(out))
            raise IntegrityError(f"object segment {index} failed authentication") from None


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


_SEALED_BUFFERS = _BufferPool(keep=4, largest=DEFAULT_SEGMENT_SIZE + TAG_SIZE)
# Decryption: sealed segments read from a `readinto` source, and opened plaintext. An idle
# plaintext buffer still holds the last segment it released (as freed heap memory would);
# it is only ever taken by another decryption, which overwrites what it then exposes.
_READ_BUFFERS = _BufferPool(keep=4, largest=DEFAULT_SEGMENT_SIZE + TAG_SIZE)
_PLAINTEXT_BUFFERS = _BufferPool(keep=4, largest=DEFAULT_SEGMENT_SIZE)


class _BufferLease:
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
        subkeys = _Subkeys(key, salt)
        mac = subkeys.header_mac()
        mac.update(fields)
        header = fields + mac.finalize()
        self._segments = _Segments(subkeys.segment_key(), header, nonce_prefix)
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
            _SEALED_BUFFERS.give(self._out)  # no view of it outlives `_emit`
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
            self._out = _SEALED_BUFFERS.take(full) if sealed == full else bytearray(sealed)
        with memoryview(self._out) as out, out[:sealed] as target:
            self._segments.seal_into(self._index, last, plaintext, target)
            self._sink(target)
        self._index += 1
        self.ciphertext_size += sealed


def _check_prefix(data: bytes) -> None:
    if len(data) < _PREFIX_SIZE or data[:4] != MAGIC:
        raise IntegrityError("not a vault object (bad magic)")
    if data[4] != FORMAT_VERSION:
        raise IntegrityError(f"unsupported object format version {data[4]}")


def parse_header(data: bytes) -> ObjectHeader:
    """Parses a v1 header; raises IntegrityError for anything else. Not yet authenticated."""
    _check_header(data)
    (*_, segment_size, dossier, document, version, key_version, salt, prefix) = _FIELDS.unpack(
        data[: _FIELDS.size]
    )
    ref = ObjectRef(uuid.UUID(bytes=dossier), uuid.UUID(bytes=document), version, key_version)
    return ObjectHeader(ref, segment_size, salt, prefix, data[_FIELDS.size :])


def _check_header(data: bytes) -> int:
    """Refuses anything but a v1 header (not yet authenticated); returns its segment size."""
    _check_prefix(data)
    if len(data) != HEADER_SIZE:
        raise IntegrityError("object header truncated")
    suite, segment_size = _SUITE_AND_SEGMENT_SIZE.unpack_from(data, _PREFIX_SIZE - 1)
    if suite != SUITE_AES256GCM_HKDF_HMAC:
        raise IntegrityError(f"unsupported cipher suite {suite}")
    if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
        raise IntegrityError("object header has an invalid segment size")
    return int(segment_size)


def _ref_fields(ref: ObjectRef) -> bytes:
    """The header bytes that hold `ref` (none can match a reference out of range)."""
    try:
        return _REF_FIELDS.pack(
            ref.dossier_id.bytes, ref.document_id.bytes, ref.version, ref.dossier_key_version
        )
    except struct.error:
        return b""


class ObjectDecryptor:
    """Authenticates a header against the document key, then opens its segments.

    `header` is either parsed (`parse_header`) or the header's bytes as read, which are
    checked the same way without building objects (the read paths' per-object cost)."""

    def __init__(self, key: bytes, header: ObjectHeader | bytes, expected: ObjectRef) -> None:
        if isinstance(header, bytes):
            data, self.segment_size = header, _check_header(header)
            belongs = data[_REF_AT:_SALT_AT] == _ref_fields(expected)
        else:
            data, self.segment_size = header.encode(), header.segment_size
            belongs = header.ref == expected
        if not belongs:
            raise IntegrityError("object does not belong to the requested document")
        subkeys = _Subkeys(key, data[_SALT_AT:_NONCE_PREFIX_AT])
        mac = subkeys.header_mac()
        mac.update(data[: _FIELDS.size])
        try:
            mac.verify(data[_FIELDS.size :])
        except InvalidSignature:
            raise IntegrityError("object header failed authentication") from None
        nonce_prefix = data[_NONCE_PREFIX_AT : _FIELDS.size]
        self._segments = _Segments(subkeys.segment_key(), data, nonce_prefix)

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


def _read_exactly(read: Reader, size: int) -> bytes:
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
    prefix = _read_exactly(read, _PREFIX_SIZE)
    _check_prefix(prefix)  # refuse a foreign object or version before reading further
    return prefix + _read_exactly(read, HEADER_SIZE - len(prefix))


def decrypt_stream(key: bytes, expected: ObjectRef, read: Reader) -> Iterator[bytes]:
    """Yields the plaintext segment by segment; each is authenticated before it is yielded.

    Memory holds two sealed segments (one of look-ahead, to know which one is last).
    """
    decryptor = ObjectDecryptor(key, _read_header(read), expected)
    sealed_size = decryptor.segment_size + TAG_SIZE
    current = _read_exactly(read, sealed_size)
    if not current:
        raise IntegrityError("object truncated: no segment")
    index = 0
    while True:
        following = _read_exactly(read, sealed_size) if len(current) == sealed_size else b""
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
    decryptor = ObjectDecryptor(key, _read_exactly(open_at(0, HEADER_SIZE), HEADER_SIZE), expected)
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
            index, _read_exactly(read, last_sealed if is_last else sealed_size), is_last
        )
        start = offset - index * size if index == first else 0
        stop = end - index * size if index == final else len(plaintext)
        yield plaintext[start:stop]


# -- the reused-buffer read path -------------------------------------------------------


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
        self._lease: _BufferLease | None = None

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
            self._lease = _BufferLease(_READ_BUFFERS, self.largest, self.pooled)
        return self._lease.view


def _source_header(source: ViewSource) -> bytes:
    """The header, in one read from a source whose reads are whole."""

    def read(size: int) -> bytes:
        return bytes(source.read(size))

    data = read(HEADER_SIZE)
    if 0 < len(data) < HEADER_SIZE:
        data += _read_exactly(read, max(0, _PREFIX_SIZE - len(data)))
        _check_prefix(data)  # refuse a foreign object before reading further
        data += _read_exactly(read, HEADER_SIZE - len(data))
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
    plain = _BufferLease(_PLAINTEXT_BUFFERS, sealed.largest - TAG_SIZE, sealed.pooled)
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
