"""Resumable puts for `VaultClient.put_document` (docs/api.md, "Resumable uploads").

A source the client can read again from any offset (`bytes`, a path, a seekable file) is
sent as a resumable upload: its header carries a fresh 32-byte random `resume_key`. If the
stream fails with UNAVAILABLE (the connection dropped, a proxy cut it), the client waits,
asks `GetUploadStatus` for the offset the server acknowledged and continues from there
with a `resume` header, up to `ATTEMPTS` times with growing pauses (`BACKOFF_SECONDS`),
never past the caller's time limit (the client's `timeout` bounds the whole put, its
resumes included: a pause that would end past it is not taken).
When the server no longer has the upload (NOT_FOUND: its lease ended, or the new
connection reached another server process), the client starts again from byte 0 under a
new key, within the same attempts. The finish always carries the size and SHA-256 of the
whole content, recomputed from the source.

What it does not: resume a pipe or an iterable of chunks (it cannot read them again: one
attempt, as before), or retry any other error.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import grpc

from vault.clientcalls.base import vault_error
from vault.errors import NotFoundError, UnavailableError
from vault.v1 import vault_pb2 as pb

KEY_SIZE = 32
ATTEMPTS = 6  # resumes (or restarts) after the first stream
BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # before each; 31.5 s in all, past the
# server's default idle timeout (30 s), after which it has noticed a silent cut


class Source:
    """Content that can be read again from any offset: bytes, a path, or a seekable file
    (from where it stood when given)."""

    def __init__(self, content: bytes | Path | BinaryIO) -> None:
        self._content = content
        self._start = 0 if isinstance(content, bytes | Path) else content.tell()

    @staticmethod
    def of(content: object) -> Source | None:
        """The content as a Source, None if it cannot be read again."""
        if isinstance(content, bytes | Path):
            return Source(content)
        if isinstance(content, io.IOBase) and content.seekable():
            return Source(content)  # type: ignore[arg-type]  # a binary file, by the caller's type
        return None

    def chunks(self, offset: int, chunk_size: int) -> Iterator[bytes]:
        """The content from `offset`, in chunks."""
        content = self._content
        if isinstance(content, bytes):
            for start in range(offset, len(content), chunk_size):
                yield content[start : start + chunk_size]
        elif isinstance(content, Path):
            with content.open("rb") as source:
                source.seek(offset)
                yield from iter(lambda: source.read(chunk_size), b"")
        else:
            content.seek(self._start + offset)
            yield from iter(lambda: content.read(chunk_size), b"")

    def prefix_digest(self, offset: int, chunk_size: int) -> tuple[Any, int]:
        """SHA-256 state and size of the content's first `offset` bytes."""
        digest, size = hashlib.sha256(), 0
        for chunk in self.chunks(0, chunk_size):
            take = chunk[: offset - size]
            digest.update(take)
            size += len(take)
            if size == offset:
                break
        return digest, size


Stream = Callable[[Iterator[pb.PutDocumentRequest]], pb.Document]
Status = Callable[[pb.GetUploadStatusRequest], pb.UploadStatus]


def put_resumable(
    header: pb.PutDocumentHeader,
    source: Source,
    chunk_size: int,
    stream: Stream,
    status: Status,
    give_up_at: float | None = None,
    on_progress: Callable[[int], object] | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> tuple[pb.Document, int, bytes]:
    """Sends `source` under `header`, resuming after UNAVAILABLE until `give_up_at` (a
    `time.monotonic()` value; None: no limit); returns the stored document with the size
    and SHA-256 the client computed of the whole content. `stream` and `status` are the
    raw stub calls (they raise grpc.RpcError). `on_progress` gets the content offset
    reached after each chunk (it goes back when a resume starts again from byte 0)."""
    attempts = iter(BACKOFF_SECONDS[:ATTEMPTS])
    key, offset = os.urandom(KEY_SIZE), None  # None: a new upload
    while True:
        first = pb.PutDocumentHeader()
        if offset is not None:
            first.dossier_id = header.dossier_id
            first.resume.resume_key, first.resume.offset = key, offset
        else:
            first.CopyFrom(header)
            first.resume_key = key
        totals: list[tuple[int, bytes]] = []
        try:
            chunks = _messages(first, source, offset or 0, chunk_size, totals, on_progress)
            document = stream(chunks)
            return document, *totals[0]
        except grpc.RpcError as error:
            if error.code() is not grpc.StatusCode.UNAVAILABLE:
                raise vault_error(error) from None
            failure = vault_error(error)
        while True:  # learn where to go on from, or start again
            pause = next(attempts, None)
            late = give_up_at is not None and time.monotonic() + (pause or 0) >= give_up_at
            if pause is None or late:
                raise failure
            sleep(pause)
            request = pb.GetUploadStatusRequest(dossier_id=header.dossier_id, resume_key=key)
            try:
                offset = status(request).offset
                break
            except grpc.RpcError as error:
                failure = vault_error(error)
                if isinstance(failure, NotFoundError):  # gone: from byte 0, a new key
                    key, offset = os.urandom(KEY_SIZE), None
                    break
                if not isinstance(failure, UnavailableError):
                    raise failure from None


def _messages(
    header: pb.PutDocumentHeader,
    source: Source,
    offset: int,
    chunk_size: int,
    totals: list[tuple[int, bytes]],
    on_progress: Callable[[int], object] | None,
) -> Iterator[pb.PutDocumentRequest]:
    """The header, the chunks from `offset`, and the finish with the whole content's size
    and SHA-256 (also appended to `totals` for the caller's check)."""
    yield pb.PutDocumentRequest(header=header)
    digest, sent = source.prefix_digest(offset, chunk_size) if offset else (hashlib.sha256(), 0)
    yield from put_messages(source.chunks(offset, chunk_size), digest, sent, totals, on_progress)


def put_messages(
    chunks: Iterable[bytes],
    digest: Any,
    sent: int,
    totals: list[tuple[int, bytes]],
    on_progress: Callable[[int], object] | None,
) -> Iterator[pb.PutDocumentRequest]:
    """After a header: the non-empty `chunks`, then the finish with the size and SHA-256 of
    the whole content, `digest` and `sent` being those of what came before them (also
    appended to `totals` for the caller's check). `on_progress` gets the bytes sent so far
    after each chunk. Resumable or not, every put's stream ends this way."""
    for chunk in chunks:
        if chunk:
            digest.update(chunk)
            sent += len(chunk)
            yield pb.PutDocumentRequest(chunk=chunk)
            if on_progress is not None:
                on_progress(sent)
    totals.append((sent, digest.digest()))
    yield pb.PutDocumentRequest(finish=pb.PutDocumentFinish(size=sent, sha256=digest.digest()))
