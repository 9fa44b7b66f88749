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
| ObjectProtectedError    | (a FailedPreconditionError) the store refused to delete an     |
|                         | object version: retained or held by Object Lock (ADR 0024)     |

`Retainer` is the optional WORM port (S3 Object Lock, ADR 0024): protection the store
itself enforces while a dossier is closed or held; `NoRetainer` is its no-op.

This module holds the contract and key validation only; it does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from vault.errors import FailedPreconditionError, InvalidArgumentError

_KEY_PATTERN = re.compile(r"[0-9a-f]{32}")


class ObjectProtectedError(FailedPreconditionError):
    """The store refused to delete an object: a version of it is under an Object Lock
    retention or legal hold (ADR 0024), or the store's delete permission is missing
    (which the store's startup `check()` would have caught). The sweeper counts it and
    goes on; everyone else stops as for any FailedPreconditionError."""


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


# -- WORM protection (optional: only a store that can refuse deletions offers it) --------

OBJECT_LOCK = "object-lock"  # the store itself refuses to delete protected objects
NO_LOCK = "none"  # the vault alone decides when objects go (today's behaviour)


class Retainer(Protocol):
    """Write-once protection the store itself enforces (S3 Object Lock), for the dossier
    lifecycle: `protect` at closure, `release` at reopening, `hold` with legal holds.

    `mode()` is OBJECT_LOCK or NO_LOCK; with NO_LOCK every other method does nothing.
    Keys are vault keys (`check_key`); a key with no object is skipped (a destroyed or
    expired document). Failures are the `BlobStore` table's VaultErrors."""

    def mode(self) -> str: ...

    def protect(self, keys: Sequence[str], until: datetime) -> None:
        """No deletion of these objects before `until`, unless by the governance bypass."""
        ...

    def release(self, keys: Sequence[str]) -> None:
        """Lifts `protect` (needs the governance-bypass principal)."""
        ...

    def hold(self, keys: Sequence[str], on: bool) -> None:
        """Places (`on`) or lifts a legal hold: no deletion at all while it is on."""
        ...

    def purge(self, key: str) -> DeleteResult:
        """`BlobStore.delete`, bypassing governance: a lawful early destruction."""
        ...


class NoRetainer:
    """The `Retainer` of a store without Object Lock (the local directory): a no-op."""

    def mode(self) -> str:
        return NO_LOCK

    def protect(self, keys: Sequence[str], until: datetime) -> None:
        """Nothing to do: the vault alone decides."""

    def release(self, keys: Sequence[str]) -> None:
        """Nothing to do."""

    def hold(self, keys: Sequence[str], on: bool) -> None:
        """Nothing to do: the index's holds are the only ones."""

    def purge(self, key: str) -> DeleteResult:
        raise FailedPreconditionError("no Object Lock: delete through the blob store")
