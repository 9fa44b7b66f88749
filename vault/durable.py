"""Files written whole or not at all, and durably: the bytes go to a new temporary file
in the destination's directory (created exclusively, its mode narrowed by the umask as
any file's, or exactly the one asked), are fsynced,
then the file is renamed over its name and the directory fsynced, so that a crash at any
point leaves the old file or the new one, never a part.

What it does not do: lock (two writers of one name: the last rename wins; callers that
need more hold their own lock), write-once semantics (a caller that must never replace
links the temporary file instead: `write_temporary` + `os.link`), or turn `OSError` into
the vault's errors (each caller knows what failed)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """Makes the directory's entries (a rename, a link, an unlink) durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_temporary(
    directory: Path, data: bytes, mode: int, prefix: str = "", *, exact: bool = False
) -> Path:
    """A new file `.<prefix>.<random>.tmp` in `directory` holding `data`, fsynced, with
    `mode` narrowed by the umask (`exact`: `mode` itself, for a file another user must
    read whatever the umask); removed again if anything fails."""
    temporary = directory / f".{prefix}.{secrets.token_hex(8)}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            if exact:
                os.fchmod(out.fileno(), mode)  # the umask narrowed the creation mode
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def replace_atomically(
    destination: Path, data: bytes, mode: int = 0o600, *, exact: bool = False
) -> None:
    """`destination` holds `data` (replacing what it held), durably, or is unchanged;
    `mode` and `exact` as for `write_temporary`."""
    temporary = write_temporary(destination.parent, data, mode, destination.name, exact=exact)
    try:
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(destination.parent)
