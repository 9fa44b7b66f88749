"""`ParkedUploads`: this server process's resumable uploads, by the SHA-256 of their resume
key: attached while a stream feeds them, parked once their stream was cut, until the end of
their lease (docs/adr/0031).

An entry binds its upload to the actor who began it and to its dossier. A lookup with
another key, by another actor, for another dossier, or after the lease ran is NOT_FOUND,
byte for byte the same answer in every case (a key holder learns nothing of another's
upload); an upload that a stream still feeds is UNAVAILABLE (the server has not noticed the
cut yet: retry). Lapsed entries stay until `expired` hands them over for their abort.

Thread-safe: the pool's threads and the event loop call it. It holds no bytes: what a
parked upload keeps (at most one segment) is charged to the upload budget by the edge.
What it does not: decide access or journal (`uploads.py`), or time the expiry (the edge
calls `expired`).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass

from vault.errors import InvalidArgumentError, NotFoundError, UnavailableError
from vault.service.upload import Upload

KEY_SIZE = 32  # bytes of a resume key, random, chosen by the client


def key_hash(key: bytes) -> bytes:
    """What the lot keeps of a resume key: its SHA-256 (the key itself is never stored)."""
    if len(key) != KEY_SIZE:
        raise InvalidArgumentError(f"a resume key is {KEY_SIZE} random bytes")
    return hashlib.sha256(b"DVLT/v1/resume-key\0" + key).digest()


def no_upload() -> NotFoundError:
    """The one answer for every resume that finds nothing it may continue."""
    return NotFoundError(
        "no upload to resume (wrong key, lease ended, or parked on another server process)"
    )


@dataclass
class Entry:
    upload: Upload
    owner: str  # the actor's kind and journal reference
    dossier_id: uuid.UUID
    until_us: int | None = None  # None while a stream feeds it


class ParkedUploads:
    """Resumable uploads of this process, attached or parked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[bytes, Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def require_free(self, digest: bytes) -> None:
        """INVALID_ARGUMENT if the key is in use (a client reusing a key)."""
        if digest in self._entries:
            raise InvalidArgumentError("this resume key is in use: draw a new one")

    def add(self, digest: bytes, upload: Upload, owner: str, dossier_id: uuid.UUID) -> None:
        """Registers a new resumable upload, attached; INVALID_ARGUMENT if its key is
        in use (a client reusing a key)."""
        with self._lock:
            if digest in self._entries:
                raise InvalidArgumentError("this resume key is in use: draw a new one")
            self._entries[digest] = Entry(upload, owner, dossier_id)

    def find(self, digest: bytes, owner: str, dossier_id: uuid.UUID, now_us: int) -> Entry:
        """The parked entry the caller may continue; NOT_FOUND or UNAVAILABLE."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None or (entry.owner, entry.dossier_id) != (owner, dossier_id):
                raise no_upload()
            if entry.until_us is None:
                raise UnavailableError(
                    "the upload is still attached to its previous stream: retry shortly"
                )
            if entry.until_us <= now_us:
                raise no_upload()
            return entry

    def attach(self, digest: bytes, entry: Entry) -> None:
        """Marks a found entry attached to a new stream; UNAVAILABLE if another stream
        took it meanwhile."""
        with self._lock:
            if self._entries.get(digest) is not entry or entry.until_us is None:
                raise UnavailableError("the upload was resumed by another stream")
            entry.until_us = None

    def park(self, digest: bytes, until_us: int) -> None:
        """Marks an attached upload parked until `until_us` (its lease's end)."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                entry.until_us = until_us

    def remove(self, digest: bytes) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def next_end_us(self) -> int | None:
        """When the first parked upload's lease ends, None if none is parked."""
        with self._lock:
            ends = [e.until_us for e in self._entries.values() if e.until_us is not None]
        return min(ends, default=None)

    def expired(self, now_us: int) -> list[Upload]:
        """Removes and returns the parked uploads whose lease ended by `now_us`."""
        with self._lock:
            lapsed = [
                digest
                for digest, entry in self._entries.items()
                if entry.until_us is not None and entry.until_us <= now_us
            ]
            return [self._entries.pop(digest).upload for digest in lapsed]
