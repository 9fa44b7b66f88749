"""The `BlobStore` Protocol: streaming, all-or-nothing writes and streaming reads.

A writer's bytes become visible under their key only at `commit()`; `abort()` (or a
crash) leaves nothing readable under the key. Keys are opaque ids chosen by the vault
(`vault.domain.ids.new_object_key`); a store refuses anything else.
"""

from __future__ import annotations

import re
from typing import Protocol

from vault.errors import InvalidArgumentError

_KEY_PATTERN = re.compile(r"[0-9a-f]{32}")


def check_key(key: str) -> str:
    """Refuses any key that is not 32 lowercase hex digits (so no path can be built)."""
    if not _KEY_PATTERN.fullmatch(key):
        raise InvalidArgumentError("malformed object key")
    return key


class BlobWriter(Protocol):
    def write(self, data: bytes | memoryview) -> None: ...

    def commit(self) -> None:
        """Makes the object durable and visible under its key, atomically."""
        ...

    def abort(self) -> None:
        """Discards what was written; safe to call after a failed write."""
        ...


class BlobReader(Protocol):
    def read(self, size: int) -> bytes:
        """Up to `size` bytes; fewer only at the end of the object, b"" after it."""
        ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    def create(self, key: str) -> BlobWriter:
        """Starts a new object; raises AlreadyExistsError at commit if `key` is taken."""
        ...

    def open(self, key: str) -> BlobReader:
        """Opens an object for reading; IntegrityError if it has vanished."""
        ...

    def delete(self, key: str) -> bool:
        """Deletes an object; returns whether there was one."""
        ...
