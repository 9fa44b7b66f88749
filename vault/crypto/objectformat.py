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
"""

from __future__ import annotations

import os
import struct
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

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
_POSITION = struct.Struct(">IB")

Sink = Callable[[memoryview], object]
_EMPTY = memoryview(b"")
Reader = Callable[[int], bytes]


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


def _subkey(key: bytes, salt: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=label).derive(key)


def _header_mac(mac_key: bytes) -> hmac.HMAC:
    return hmac.HMAC(mac_key, hashes.SHA256())


def ciphertext_size(plaintext_size: int, segment_size: int) -> int:
    """The exact size of the object that holds `plaintext_size` bytes."""
    segments = max(1, -(-plaintext_size // segment_size))
    return HEADER_SIZE + plaintext_size + segments * TAG_SIZE


class _Segments:
    """The per-object AEAD: nonces and associated data by segment position."""

    def __init__(self, key: bytes, header: bytes, salt: bytes, nonce_prefix: bytes) -> None:
        self._aead = AESGCM(_subkey(key, salt, b"DVLT/v1/segment-key"))
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

    def open(self, index: int, last: bool, sealed: bytes) -> bytes:
        nonce, aad = self._nonce_and_aad(index, last)
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise IntegrityError(f"object segment {index} failed authentication") from None


class _BufferPool:
    """Sealed-segment buffers, reused from one encryptor to the next.

    A fresh buffer of one segment costs a memset of the whole segment and, whenever the
    allocator has handed the memory back to the system, a page fault per 4 KiB (~0.7 ms
    per MiB on the reference machine): more than sealing a 1 MiB document. The pool only
    ever holds ciphertext buffers (never plaintext): at most `keep` idle ones, of at most
    `largest` bytes each.
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
        mac = _header_mac(_subkey(key, salt, b"DVLT/v1/header-mac-key"))
        mac.update(fields)
        header = fields + mac.finalize()
        self._segments = _Segments(key, header, salt, nonce_prefix)
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
    _check_prefix(data)
    if len(data) != HEADER_SIZE:
        raise IntegrityError("object header truncated")
    (_, _, suite, segment_size, dossier, document, version, key_version, salt, prefix) = (
        _FIELDS.unpack(data[: _FIELDS.size])
    )
    if suite != SUITE_AES256GCM_HKDF_HMAC:
        raise IntegrityError(f"unsupported cipher suite {suite}")
    if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
        raise IntegrityError("object header has an invalid segment size")
    ref = ObjectRef(uuid.UUID(bytes=dossier), uuid.UUID(bytes=document), version, key_version)
    return ObjectHeader(ref, segment_size, salt, prefix, data[_FIELDS.size :])


class ObjectDecryptor:
    """Authenticates a header against the document key, then opens its segments."""

    def __init__(self, key: bytes, header: ObjectHeader, expected: ObjectRef) -> None:
        if header.ref != expected:
            raise IntegrityError("object does not belong to the requested document")
        mac = _header_mac(_subkey(key, header.salt, b"DVLT/v1/header-mac-key"))
        mac.update(header.authenticated_fields())
        try:
            mac.verify(header.mac)
        except InvalidSignature:
            raise IntegrityError("object header failed authentication") from None
        self.segment_size = header.segment_size
        self._segments = _Segments(key, header.encode(), header.salt, header.nonce_prefix)

    def open_segment(self, index: int, sealed: bytes, last: bool) -> bytes:
        if len(sealed) < TAG_SIZE or len(sealed) > self.segment_size + TAG_SIZE:
            raise IntegrityError(f"object segment {index} has an impossible size")
        return self._segments.open(index, last, sealed)


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


def decrypt_stream(key: bytes, expected: ObjectRef, read: Reader) -> Iterator[bytes]:
    """Yields the plaintext segment by segment; each is authenticated before it is yielded.

    Memory holds two sealed segments (one of look-ahead, to know which one is last).
    """
    prefix = _read_exactly(read, _PREFIX_SIZE)
    _check_prefix(prefix)  # refuse a foreign object or version before reading further
    header_bytes = prefix + _read_exactly(read, HEADER_SIZE - len(prefix))
    decryptor = ObjectDecryptor(key, parse_header(header_bytes), expected)
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
    decryptor = ObjectDecryptor(
        key, parse_header(_read_exactly(open_at(0, HEADER_SIZE), HEADER_SIZE)), expected
    )
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
