"""Instrumented ports: the blob store and the key provider, each call timed and reported.

`InstrumentedBlobStore` and `InstrumentedKeyProvider` wrap a port and report every
operation to a plain callback, `observe(operation, seconds, error)` (error None: success),
then return its result or re-raise its error unchanged. They import no metrics library:
the composition root (vault/composition.py) gives them `VaultMetrics.dependency_observer`
when metrics are on and builds nothing when they are off, so an unobserved server pays
nothing. Operations are the port's method names (`create`, `write`, `commit`, `read`,
`wrap`, `unwrap`...): never a key, an object name or a context.
What it does not: decide what is an error (the port's own exceptions pass through).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from vault.blobstore.base import BlobReader, BlobStore, BlobWriter, DeleteResult
from vault.crypto.keyprovider import KeyProvider, WrappedKey

T = TypeVar("T")
Observe = Callable[[str, float, BaseException | None], None]
CommitObserver = Callable[[int, float, BaseException | None], None]


@dataclass(frozen=True)
class Instruments:
    """What the composition root hands the ports it instruments."""

    blob_store: Observe
    key_provider: Observe
    journal_commit: CommitObserver  # GroupCommitJournal's on_commit


def _timed(observe: Observe, operation: str, call: Callable[[], T]) -> T:
    start = time.perf_counter()
    try:
        result = call()
    except Exception as error:
        observe(operation, time.perf_counter() - start, error)
        raise
    observe(operation, time.perf_counter() - start, None)
    return result


class _Writer:
    def __init__(self, writer: BlobWriter, observe: Observe) -> None:
        self._writer = writer
        self._observe = observe

    def write(self, data: bytes | memoryview) -> None:
        _timed(self._observe, "write", lambda: self._writer.write(data))

    def commit(self) -> None:
        _timed(self._observe, "commit", self._writer.commit)

    def abort(self) -> None:
        _timed(self._observe, "abort", self._writer.abort)


class _Reader:
    def __init__(self, reader: BlobReader, observe: Observe) -> None:
        self._reader = reader
        self._observe = observe

    def read(self, size: int) -> bytes:
        return _timed(self._observe, "read", lambda: self._reader.read(size))

    def close(self) -> None:
        self._reader.close()


class _ReaderInto(_Reader):
    """For a reader with `readinto` (the file store's): reads into the caller's buffer
    stay copy-free (vault/crypto/objectformat/views.py looks for the method)."""

    def __init__(self, reader: BlobReader, observe: Observe) -> None:
        super().__init__(reader, observe)
        self._readinto: Callable[[memoryview], int] = reader.readinto  # type: ignore[attr-defined]

    def readinto(self, buffer: memoryview) -> int:
        return _timed(self._observe, "read", lambda: self._readinto(buffer))


class InstrumentedBlobStore:
    """A `BlobStore` whose every operation (and its writers' and readers') is observed."""

    def __init__(self, store: BlobStore, observe: Observe) -> None:
        self._store = store
        self._observe = observe

    def create(self, key: str) -> BlobWriter:
        return _Writer(
            _timed(self._observe, "create", lambda: self._store.create(key)), self._observe
        )

    def open(self, key: str, offset: int = 0, length: int | None = None) -> BlobReader:
        reader = _timed(self._observe, "open", lambda: self._store.open(key, offset, length))
        if callable(getattr(reader, "readinto", None)):
            return _ReaderInto(reader, self._observe)
        return _Reader(reader, self._observe)

    def delete(self, key: str) -> DeleteResult:
        return _timed(self._observe, "delete", lambda: self._store.delete(key))

    def check(self) -> None:
        _timed(self._observe, "check", self._store.check)

    def stored_keys(self, older_than: datetime) -> Iterator[str]:
        """The listing, observed once it is read to its end (or fails)."""
        start = time.perf_counter()
        try:
            yield from self._store.stored_keys(older_than)
        except Exception as error:
            self._observe("stored_keys", time.perf_counter() - start, error)
            raise
        self._observe("stored_keys", time.perf_counter() - start, None)

    def sweep_incomplete(self, older_than: datetime, dry_run: bool = False) -> int:
        return _timed(
            self._observe,
            "sweep_incomplete",
            lambda: self._store.sweep_incomplete(older_than, dry_run),
        )


class InstrumentedKeyProvider:
    """A `KeyProvider` whose every operation is observed."""

    def __init__(self, provider: KeyProvider, observe: Observe) -> None:
        self._provider = provider
        self._observe = observe

    @property
    def current_version(self) -> int:
        return self._provider.current_version

    def wrap(self, key: bytes, context: bytes) -> WrappedKey:
        return _timed(self._observe, "wrap", lambda: self._provider.wrap(key, context))

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        return _timed(self._observe, "unwrap", lambda: self._provider.unwrap(wrapped, context))

    def refresh(self) -> int:
        return _timed(self._observe, "refresh", self._provider.refresh)

    def blind_index(self, data: bytes) -> bytes:
        return _timed(self._observe, "blind_index", lambda: self._provider.blind_index(data))
