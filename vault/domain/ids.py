"""Opaque identifiers for dossiers and documents.

Ids are UUIDs in the version 7 layout (48-bit millisecond time, then 74 random bits):
time-ordered ids keep B-tree inserts local, which the baseline measured as twice as fast
as random ids. They reveal only their creation time, which the index holds in clear anyway.
Blob-store object keys are a different, fully random id (`new_object_key`), so that a
bucket listing reveals nothing about which document an object belongs to.
"""

from __future__ import annotations

import secrets
import time
import uuid

from vault.errors import InvalidArgumentError


def new_id(now_ms: int | None = None) -> uuid.UUID:
    """A fresh UUIDv7: `now_ms` (default: the wall clock) then random bits."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    raw = bytearray(ms.to_bytes(6, "big") + secrets.token_bytes(10))
    raw[6] = 0x70 | (raw[6] & 0x0F)  # version 7
    raw[8] = 0x80 | (raw[8] & 0x3F)  # RFC 9562 variant
    return uuid.UUID(bytes=bytes(raw))


def parse_id(text: str, what: str) -> uuid.UUID:
    """Parses a canonical (hyphenated, lowercase) UUID; anything else is invalid."""
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        raise InvalidArgumentError(f"malformed {what}") from None
    if str(parsed) != text:
        raise InvalidArgumentError(f"malformed {what}")
    return parsed


def new_object_key() -> str:
    """An opaque blob-store key: 128 random bits as 32 lowercase hex digits."""
    return secrets.token_hex(16)
