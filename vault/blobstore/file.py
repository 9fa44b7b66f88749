"""`FileBlobStore`: objects as files under one root directory, written atomically.

Layout: `<root>/objects/<k0k1>/<k2k3>/<key>` (two levels of 256 shards each) and
`<root>/tmp/` for writes in progress. A write goes to a temporary file in the same file
system, is fsynced, then hard-linked to its final name (which fails rather than
overwrites), and the shard directory is fsynced: after a crash an object is either whole
under its key or absent. Keys are checked to be opaque hex ids, so no client input ever
becomes a path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO

from vault.blobstore.base import check_key
from vault.errors import AlreadyExistsError, IntegrityError, UnavailableError


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _FileWriter:
    def __init__(self, final: Path, tmp_dir: Path) -> None:
        self._final = final
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="put-")
        self._tmp = Path(name)
        self._file: IO[bytes] = os.fdopen(fd, "wb")

    def write(self, data: bytes | memoryview) -> None:
        try:
            self._file.write(data)
        except OSError as e:
            raise UnavailableError("blob store write failed") from e

    def commit(self) -> None:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._final.parent.mkdir(parents=True, exist_ok=True)
            os.link(self._tmp, self._final)
        except FileExistsError:
            raise AlreadyExistsError("object key already in use") from None
        except OSError as e:
            raise UnavailableError("blob store commit failed") from e
        finally:
            self._discard()
        _fsync_directory(self._final.parent)

    def abort(self) -> None:
        self._discard()

    def _discard(self) -> None:
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()


class FileBlobStore:
    """A `BlobStore` in a local directory (the embedded default)."""

    def __init__(self, root: Path) -> None:
        self._objects = root / "objects"
        self._tmp = root / "tmp"
        for directory in (self._objects, self._tmp):
            directory.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        check_key(key)
        return self._objects / key[:2] / key[2:4] / key

    def create(self, key: str) -> _FileWriter:
        return _FileWriter(self._path(key), self._tmp)

    def open(self, key: str) -> IO[bytes]:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise IntegrityError("object missing from the blob store") from None
        except OSError as e:
            raise UnavailableError("blob store read failed") from e

    def delete(self, key: str) -> bool:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            return False
        return True
