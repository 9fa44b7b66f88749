"""Object format v1, the header: its byte layout, parsing and checking it, and the
per-object cryptography it sets up (subkeys, and segment nonces and associated data).

Not here: authenticating a header against a document key (`decrypt.ObjectDecryptor`),
nor reading or writing segments (`encrypt`, `decrypt`, `views`).

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
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
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

FIELDS = struct.Struct(">4sBBI16s16sII16s7s")
HEADER_SIZE = FIELDS.size + MAC_SIZE  # 105
PREFIX_SIZE = 6  # magic + version: enough to dispatch on the format version
_SUITE_AND_SEGMENT_SIZE = struct.Struct(">BI")  # at offset 5
_REF_FIELDS = struct.Struct(">16s16sII")  # at offset 10
REF_AT, SALT_AT, NONCE_PREFIX_AT = 10, 50, 66
_POSITION = struct.Struct(">IB")

Buffer = bytes | bytearray | memoryview


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
        return FIELDS.pack(
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


class Subkeys:
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


class Segments:
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


def check_prefix(data: bytes) -> None:
    if len(data) < PREFIX_SIZE or data[:4] != MAGIC:
        raise IntegrityError("not a vault object (bad magic)")
    if data[4] != FORMAT_VERSION:
        raise IntegrityError(f"unsupported object format version {data[4]}")


def parse_header(data: bytes) -> ObjectHeader:
    """Parses a v1 header; raises IntegrityError for anything else. Not yet authenticated."""
    check_header(data)
    (*_, segment_size, dossier, document, version, key_version, salt, prefix) = FIELDS.unpack(
        data[: FIELDS.size]
    )
    ref = ObjectRef(uuid.UUID(bytes=dossier), uuid.UUID(bytes=document), version, key_version)
    return ObjectHeader(ref, segment_size, salt, prefix, data[FIELDS.size :])


def check_header(data: bytes) -> int:
    """Refuses anything but a v1 header (not yet authenticated); returns its segment size."""
    check_prefix(data)
    if len(data) != HEADER_SIZE:
        raise IntegrityError("object header truncated")
    suite, segment_size = _SUITE_AND_SEGMENT_SIZE.unpack_from(data, PREFIX_SIZE - 1)
    if suite != SUITE_AES256GCM_HKDF_HMAC:
        raise IntegrityError(f"unsupported cipher suite {suite}")
    if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
        raise IntegrityError("object header has an invalid segment size")
    return int(segment_size)


def ref_fields(ref: ObjectRef) -> bytes:
    """The header bytes that hold `ref` (none can match a reference out of range)."""
    try:
        return _REF_FIELDS.pack(
            ref.dossier_id.bytes, ref.document_id.bytes, ref.version, ref.dossier_key_version
        )
    except struct.error:
        return b""
