"""The `BlobStore` Protocol: all-or-nothing streaming writes, ranged streaming reads.

A writer's bytes become visible under their key only at `commit()`; `abort()` (or a
crash) leaves nothing readable under the key. Keys are opaque ids chosen by the vault
(`vault.domain.ids.new_object_key`); a store refuses anything else. Every store reports
failures as `VaultError`s with the same meaning:

| error                   | meaning                                                        |
|-------------------------|----------------------------------------------------------------|
| InvalidArgumentError    | malformed key or range                                         |
| AlreadyExistsError      | `commit()` found another object under the key                  |
| IntegrityError          | `open()` found no object under a key the vault recorded        |
| FailedPreconditionError | the store is misconfigured (credentials, missing bucket or     |
|                         | directory, permissions): an operator must act                  |
| UnavailableError        | the store cannot be reached right now (network, timeouts,      |
|                         | throttling, I/O errors): retrying later may succeed            |

This module holds the contract and key validation only; it does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from vault.errors import InvalidArgumentError

_KEY_PATTERN = re.compile(r"[0-9a-f]{32}")


def check_key(key: str) -> str:
    """Refuses any key that is not 32 lowercase hex digits (so no path can be built)."""
    if not _KEY_PATTERN.fullmatch(key):
        raise InvalidArgumentError("malformed object key")
    return key


def check_range(offset: int, length: int | None) -> None:
    """Refuses a negative offset or length (a range past the end is fine: it is empty)."""
    if offset < 0:
        raise InvalidArgumentError("negative read offset")
    if length is not None and length < 0:
        raise InvalidArgumentError("negative read length")


def shard_path(key: str) -> str:
    """`ab/cd/abcd...`: two levels of 256 shards, so no directory or listing grows huge."""
    check_key(key)
    return f"{key[:2]}/{key[2:4]}/{key}"


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """What `delete` removed: whether a readable object existed under the key, and how
    many stored versions of it (0 or 1 for an unversioned store) are now gone."""

    existed: bool
    versions_deleted: int


class BlobWriter(Protocol):
    def write(self, data: bytes | memoryview) -> None:
        """Appends bytes; FailedPreconditionError once committed, aborted, or after a
        failed write (whose bytes may be lost: only `abort()` is left to do).

        `data` is only valid during the call (the encryptor reuses its buffer): a store
        that keeps bytes for later must copy them."""
        ...

    def commit(self) -> None:
        """Makes the object durable and visible under its key, atomically."""
        ...

    def abort(self) -> None:
        """Discards what was written; safe to call after a failed write or commit, and
        a no-op after a successful commit (the object stays)."""
        ...


class BlobReader(Protocol):
    def read(self, size: int) -> bytes:
        """Up to `size` bytes; fewer only at the end of the range, b"" after it."""
        ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    def create(self, key: str) -> BlobWriter:
        """Starts a new object; raises AlreadyExistsError at commit if `key` is taken."""
        ...

    def open(self, key: str, offset: int = 0, length: int | None = None) -> BlobReader:
        """Opens `length` bytes (default: all) from `offset` of an object for reading.

        A range past the end is cut short (possibly to nothing); IntegrityError if the
        object has vanished, whatever the range."""
        ...

    def delete(self, key: str) -> DeleteResult:
        """Deletes an object and every stored version of it."""
        ...

    def check(self) -> None:
        """Startup check: the store is reachable and writable (leaves nothing behind)."""
        ...

    def stored_keys(self, older_than: datetime) -> Iterator[str]:
        """Keys of the objects (any version) last written before `older_than`."""
        ...

    def sweep_incomplete(self, older_than: datetime, dry_run: bool = False) -> int:
        """Removes writes begun before `older_than` and never committed (temporary files,
        multipart uploads); returns how many there were."""
        ...
