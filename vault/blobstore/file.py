"""`FileBlobStore`: objects as files under one root directory, written atomically.

Layout: `<root>/objects/<k0k1>/<k2k3>/<key>` (two levels of 256 shards each) and
`<root>/tmp/` for writes in progress. A write goes to a temporary file in the same file
system, is fsynced, then hard-linked to its final name (which fails rather than
overwrites), and the shard directory is fsynced (and a shard directory just made, in its
parent): after a crash an object is either whole under its key or absent. Keys are
checked to be opaque hex ids, so no client input ever becomes a path. Files are 0600 and
directories 0700: other users of the host read nothing.

It does not keep versions (a delete removes the one file), does not sweep temporary
files a crash left in `tmp/`, and does not encrypt: it only ever sees ciphertext.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Iterator
from datetime import datetime
from io import BufferedReader
from pathlib import Path
from typing import IO

from vault.blobstore.base import DeleteResult, check_range, shard_path
from vault.durable import fsync_directory
from vault.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    IntegrityError,
    InvalidArgumentError,
    UnavailableError,
)

_KEY_NAME = re.compile(r"[0-9a-f]{32}")
# Objects are the owner's alone, whatever the root's mode: files 0600 (mkstemp's mode,
# kept by the link to the final name), directories 0700 (both within the umask).
PRIVATE_DIRECTORY = 0o700


_SHARDS_MADE = threading.Lock()  # held while a shard directory is made durable


def _link(tmp: Path, final: Path) -> None:
    """Links `tmp` to `final`, first making its shard directories if they are missing,
    each new one fsynced into its parent (else a crash could lose the directory, and the
    object in it, after the put was acknowledged). A link into a directory another
    thread is still making durable waits for it (`_SHARDS_MADE`); another process's is
    not waited for (a window of microseconds, once per shard directory, ever)."""
    try:
        os.link(tmp, final)
    except FileNotFoundError:  # its shard directories are new
        with _SHARDS_MADE:
            _make_durable(final.parent)
            os.link(tmp, final)
    else:
        with _SHARDS_MADE:
            pass  # a directory being made by another thread is durable once it lets go


def _make_durable(directory: Path) -> None:
    missing = []
    while not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for new in reversed(missing):
        with contextlib.suppress(FileExistsError):
            new.mkdir(mode=PRIVATE_DIRECTORY)
        fsync_directory(new.parent)


class _FileWriter:
    def __init__(self, final: Path, tmp_dir: Path) -> None:
        self._final = final
        try:
            fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="put-")
        except OSError as e:
            raise UnavailableError("blob store cannot create a temporary file") from e
        self._tmp = Path(name)
        self._file: IO[bytes] = os.fdopen(fd, "wb")
        self._finished = False

    def write(self, data: bytes | memoryview) -> None:
        self._require_open()
        try:
            self._file.write(data)
        except OSError as e:
            self._finished = True  # bytes may be lost: only abort() makes sense now
            raise UnavailableError("blob store write failed") from e

    def commit(self) -> None:
        self._require_open()
        self._finished = True
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            _link(self._tmp, self._final)
        except FileExistsError:
            raise AlreadyExistsError("object key already in use") from None
        except OSError as e:
            raise UnavailableError("blob store commit failed") from e
        finally:
            self._discard()
        try:
            fsync_directory(self._final.parent)
        except OSError as e:
            raise UnavailableError("blob store commit failed") from e

    def abort(self) -> None:
        self._finished = True
        self._discard()

    def _require_open(self) -> None:
        if self._finished:
            raise FailedPreconditionError("blob writer already committed, aborted or failed")

    def _discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()


class _FileReader:
    """Reads at most `remaining` bytes (None: to the end) of an open file.

    Besides `read`, `readinto` fills a caller's buffer without allocating one per call:
    `decrypt_views` reads segments that way into one reused buffer."""

    def __init__(self, file: BufferedReader, remaining: int | None) -> None:
        self._file = file
        self._remaining = remaining

    def read(self, size: int) -> bytes:
        if size < 0:
            raise InvalidArgumentError("negative read size")
        if self._remaining is not None:
            size = min(size, self._remaining)
        try:
            data = self._file.read(size)
        except OSError as e:
            raise UnavailableError("blob store read failed") from e
        if self._remaining is not None:
            self._remaining -= len(data)
        return data

    def readinto(self, buffer: memoryview) -> int:
        """Reads up to `len(buffer)` bytes into `buffer`; 0 at the end of the range."""
        size = len(buffer) if self._remaining is None else min(len(buffer), self._remaining)
        try:
            with buffer[:size] as target:
                got = self._file.readinto(target)
        except OSError as e:
            raise UnavailableError("blob store read failed") from e
        if self._remaining is not None:
            self._remaining -= got
        return got

    def close(self) -> None:
        self._file.close()


class FileBlobStore:
    """A `BlobStore` in a local directory (the embedded default)."""

    def __init__(self, root: Path) -> None:
        self._objects = root / "objects"
        self._tmp = root / "tmp"
        try:
            for directory in (self._objects, self._tmp):
                directory.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
        except OSError as e:
            raise FailedPreconditionError("blob directory cannot be created") from e

    def _path(self, key: str) -> Path:
        return self._objects / shard_path(key)

    def create(self, key: str) -> _FileWriter:
        return _FileWriter(self._path(key), self._tmp)

    def open(self, key: str, offset: int = 0, length: int | None = None) -> _FileReader:
        path = self._path(key)
        check_range(offset, length)
        try:
            file = path.open("rb")
        except FileNotFoundError:
            raise IntegrityError("object missing from the blob store") from None
        except OSError as e:
            raise UnavailableError("blob store read failed") from e
        try:
            file.seek(offset)
        except OSError as e:
            file.close()
            raise UnavailableError("blob store read failed") from e
        return _FileReader(file, length)

    def delete(self, key: str) -> DeleteResult:
        path = self._path(key)
        try:
            path.unlink()
            fsync_directory(path.parent)
        except FileNotFoundError:
            return DeleteResult(existed=False, versions_deleted=0)
        except OSError as e:
            raise UnavailableError("blob store delete failed") from e
        return DeleteResult(existed=True, versions_deleted=1)

    def probe(self) -> None:
        """Answers while the directory does (the server's health probe): a stat of each
        of its two directories, UnavailableError if one fails."""
        try:
            for directory in (self._objects, self._tmp):
                os.stat(directory)
        except OSError as e:
            raise UnavailableError("blob directory unreachable") from e

    def check(self) -> None:
        """Proves that a commit can work: creates a file in `tmp/`, hard-links it into
        `objects/` (same file system), and removes both."""
        probe = self._tmp / f"probe-{secrets.token_hex(8)}"
        linked = self._objects / probe.name
        try:
            probe.touch(mode=0o600, exist_ok=False)
            os.link(probe, linked)
        except OSError as e:
            raise FailedPreconditionError("blob directory is not writable") from e
        finally:
            for path in (linked, probe):
                with contextlib.suppress(OSError):
                    path.unlink()

    def stored_keys(self, older_than: datetime) -> Iterator[str]:
        cutoff = older_than.timestamp()
        try:
            for path in self._objects.glob("??/??/*"):
                if _KEY_NAME.fullmatch(path.name) and path.stat().st_mtime < cutoff:
                    yield path.name
        except OSError as e:
            raise UnavailableError("blob store listing failed") from e

    def sweep_incomplete(self, older_than: datetime, dry_run: bool = False) -> int:
        cutoff, swept = older_than.timestamp(), 0
        try:
            for path in self._tmp.iterdir():
                if path.stat().st_mtime < cutoff:
                    swept += 1
                    if not dry_run:
                        path.unlink(missing_ok=True)
        except OSError as e:
            raise UnavailableError("blob store sweep failed") from e
        return swept
