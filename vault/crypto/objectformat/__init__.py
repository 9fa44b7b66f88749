"""Object format v1: a document encrypted in authenticated AES-256-GCM segments.

docs/format.md, "Object format v1", is normative. This package re-exports the format's
public API (`from vault.crypto.objectformat import ObjectEncryptor, ...`); one concept
per module:

- `header`: the byte layout (documented there), constants, `ObjectRef`, `ObjectHeader`,
  parsing and checking a header, the per-object subkeys and the segments' nonces and
  associated data by position.
- `buffers`: the pools of segment buffers shared by encryption and decryption, and the
  lease of one buffer for one stream.
- `encrypt`: `ObjectEncryptor`, `ciphertext_size`.
- `decrypt`: `ObjectDecryptor`, `decrypt_stream`, `decrypt_range`, `plaintext_layout`.
- `views`: `decrypt_views`, `decrypt_segments`, the reused-buffer read path.

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

Not here: the key hierarchy (which key a document is encrypted with), storage.
"""

from vault.crypto.objectformat.decrypt import (
    ObjectDecryptor,
    RangeOpener,
    Reader,
    decrypt_range,
    decrypt_stream,
    plaintext_layout,
)
from vault.crypto.objectformat.encrypt import ObjectEncryptor, Sink, ciphertext_size
from vault.crypto.objectformat.header import (
    DEFAULT_SEGMENT_SIZE,
    FORMAT_VERSION,
    HEADER_SIZE,
    MAC_SIZE,
    MAGIC,
    MAX_SEGMENT_SIZE,
    NONCE_PREFIX_SIZE,
    SALT_SIZE,
    SUITE_AES256GCM_HKDF_HMAC,
    TAG_SIZE,
    Buffer,
    ObjectHeader,
    ObjectRef,
    parse_header,
)
from vault.crypto.objectformat.views import ReadInto, ViewSource, decrypt_segments, decrypt_views

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAC_SIZE",
    "MAGIC",
    "MAX_SEGMENT_SIZE",
    "NONCE_PREFIX_SIZE",
    "SALT_SIZE",
    "SUITE_AES256GCM_HKDF_HMAC",
    "TAG_SIZE",
    "Buffer",
    "ObjectDecryptor",
    "ObjectEncryptor",
    "ObjectHeader",
    "ObjectRef",
    "RangeOpener",
    "ReadInto",
    "Reader",
    "Sink",
    "ViewSource",
    "ciphertext_size",
    "decrypt_range",
    "decrypt_segments",
    "decrypt_stream",
    "decrypt_views",
    "parse_header",
    "plaintext_layout",
]
