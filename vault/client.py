"""`VaultClient`: a typed, synchronous Python client for the `vault.v1` gRPC service.

    with VaultClient("127.0.0.1:50051", token) as client:
        dossier = client.create_dossier(ins)
        doc = client.put_document(dossier.dossier_id, metadata, Path("scan.pdf"))
        client.download(dossier.dossier_id, doc.document_id, Path("copy.pdf"))

Over TLS, pass channel credentials; with mutual TLS, the service's client certificate:

    credentials = client_credentials(Path("ca.pem"), Path("portal.pem"), Path("portal.key"))
    with VaultClient("vault.internal:50051", token, credentials=credentials) as client: ...

Uploads and downloads stream in chunks (memory does not grow with document size) and are
checked end to end: the client compares the size and SHA-256 the server reports with what
it sent or received, and raises `IntegrityError` on any difference. gRPC errors come back
as the vault's own `VaultError` subclasses, chosen by status code.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import stat
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, cast

import grpc

from vault import wire
from vault.clientcalls import resumable
from vault.clientcalls.access import AccessCalls
from vault.clientcalls.base import vault_error
from vault.clientcalls.journal import JournalProofCalls
from vault.clientcalls.lifecycle import LifecycleCalls
from vault.clientcalls.notifications import NotificationCalls
from vault.domain.model import (
    CreationMode,
    Document,
    DocumentCategory,
    DocumentMetadata,
    DocumentPage,
    DocumentQuery,
    Dossier,
    Replacement,
    Visibility,
)
from vault.errors import (
    IntegrityError,
)
from vault.journal.chain import JournalEvent
from vault.tls_material import (
    client_credentials as client_credentials,  # for callers, with VaultClient
)
from vault.v1 import vault_pb2 as pb
from vault.v1 import vault_pb2_grpc

CHUNK_SIZE = 1024 * 1024
Content = bytes | Path | BinaryIO | Iterable[bytes]
Progress = Callable[[int], object]
"""Told the number of content bytes moved so far, after each chunk (a progress display)."""


def _write_all(chunks: Iterable[bytes], out: BinaryIO, on_progress: Progress | None) -> None:
    written = 0
    for chunk in chunks:
        out.write(chunk)
        written += len(chunk)
        if on_progress is not None:
            on_progress(written)


def _known_size(content: Content) -> int | None:
    """What `content` will yield, if known in advance: bytes, a path, a regular file."""
    if isinstance(content, bytes | Path):
        return len(content) if isinstance(content, bytes) else content.stat().st_size
    try:  # an iterable, a BytesIO or a closed file has no file descriptor
        status = os.fstat(cast(BinaryIO, content).fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return status.st_size - cast(BinaryIO, content).tell() if stat.S_ISREG(status.st_mode) else None


def _chunks(content: Content, chunk_size: int) -> Iterator[bytes]:
    if isinstance(content, bytes):
        for start in range(0, len(content), chunk_size):
            yield content[start : start + chunk_size]
    elif isinstance(content, Path):
        with content.open("rb") as source:
            yield from iter(lambda: source.read(chunk_size), b"")
    elif hasattr(content, "read"):
        yield from iter(lambda: content.read(chunk_size), b"")
    else:
        yield from content


class Download:
    """A document being received: `document` first, then iterate over the chunks.

    When the stream ends, a whole document is checked against its size and SHA-256, a
    byte range against its expected length; a mismatch raises IntegrityError."""

    def __init__(
        self, responses: Iterator[pb.GetDocumentResponse], byte_range: tuple[int, int | None]
    ) -> None:
        self._responses = responses
        self._range = byte_range
        first = next(responses)
        if first.WhichOneof("part") != "document":
            raise IntegrityError("the server did not start with the document's metadata")
        self.document = wire.document_from_proto(first.document)

    def __iter__(self) -> Iterator[bytes]:
        digest, size = hashlib.sha256(), 0
        try:
            for response in self._responses:
                digest.update(response.chunk)
                size += len(response.chunk)
                yield response.chunk
        except grpc.RpcError as error:
            raise vault_error(error) from None
        offset, length = self._range
        if (offset, length) == (0, None):
            if size != self.document.size or digest.digest() != self.document.sha256:
                raise IntegrityError("downloaded content does not match the document's digest")
        else:
            end = self.document.size if length is None else min(self.document.size, offset + length)
            if size != max(0, end - offset):
                raise IntegrityError("downloaded range does not have the expected length")


class VaultClient(AccessCalls, LifecycleCalls, NotificationCalls, JournalProofCalls):
    def __init__(
        self,
        target: str,
        token: str,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        timeout: float | None = None,
    ) -> None:
        options = [("grpc.max_receive_message_length", 5 * CHUNK_SIZE)]
        self._channel = (
            grpc.secure_channel(target, credentials, options)
            if credentials is not None
            else grpc.insecure_channel(target, options)
        )
        self._stub = vault_pb2_grpc.DossierVaultStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),)
        self._timeout = timeout

    def __enter__(self) -> VaultClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def create_dossier(
        self,
        ins: str,
        mode: CreationMode = CreationMode.OWN,
        born: date | None = None,
        *,
        representative_until: datetime | None = None,
    ) -> Dossier:
        """`representative_until`: a representative opening a protected adult's dossier
        (`FOR_REPRESENTED`) holds the right until the measure's end."""
        request = pb.CreateDossierRequest(
            ins=ins,
            mode=wire.creation_mode_to_proto(mode),
            birth_date="" if born is None else born.isoformat(),
        )
        if representative_until is not None:
            request.representative_until.CopyFrom(wire.timestamp(representative_until))
        return wire.dossier_from_proto(self._call(self._stub.CreateDossier, request))

    def get_dossier(self, *, dossier_id: uuid.UUID | str = "", ins: str = "") -> Dossier:
        request = (
            pb.GetDossierRequest(ins=ins)
            if ins
            else pb.GetDossierRequest(dossier_id=str(dossier_id))
        )
        return wire.dossier_from_proto(self._call(self._stub.GetDossier, request))

    def put_document(
        self,
        dossier_id: uuid.UUID | str,
        metadata: DocumentMetadata,
        content: Content,
        *,
        chunk_size: int = CHUNK_SIZE,
        visibility: Visibility = Visibility.NORMAL,
        replaces: Replacement | None = None,
        on_progress: Progress | None = None,
    ) -> Document:
        """Streams `content` as a new document, or as the next version of the one
        `replaces` names (ConflictError if it moved on); checks the server stored what
        was sent. Declares the size when known, so that one past a quota is not sent.
        Content it can read again (bytes, a path, a seekable file) is sent resumable: a
        stream cut with UNAVAILABLE goes on from the offset the server acknowledged,
        within the client's `timeout` (vault/clientcalls/resumable.py). `on_progress` gets
        the number of content bytes sent so far after each chunk."""
        header = pb.PutDocumentHeader(
            dossier_id=str(dossier_id),
            metadata=wire.metadata_to_proto(metadata),
            visibility=wire.visibility_to_proto(visibility),
            replaces=None if replaces is None else wire.replacement_to_proto(replaces),
            declared_size=_known_size(content),  # None: unset
        )
        source = resumable.Source.of(content)
        if source is None:
            reply, sent, sha256 = self._put_once(header, content, chunk_size, on_progress)
        else:
            give_up_at = None if self._timeout is None else time.monotonic() + self._timeout
            reply, sent, sha256 = resumable.put_resumable(
                header,
                source,
                chunk_size,
                self._raw(self._stub.PutDocument),
                self._status,
                give_up_at,
                on_progress,
            )
        document = wire.document_from_proto(reply)
        if document.size != sent or document.sha256 != sha256:
            raise IntegrityError("the server stored something else than what was sent")
        return document

    def _put_once(
        self,
        header: pb.PutDocumentHeader,
        content: Content,
        chunk_size: int,
        on_progress: Progress | None,
    ) -> tuple[pb.Document, int, bytes]:
        """One stream of content that cannot be read again (a pipe, chunks)."""
        header_message = pb.PutDocumentRequest(header=header)
        totals: list[tuple[int, bytes]] = []
        chunks = _chunks(content, chunk_size)
        messages = resumable.put_messages(chunks, hashlib.sha256(), 0, totals, on_progress)
        reply = self._call(self._stub.PutDocument, itertools.chain([header_message], messages))
        return reply, *totals[0]

    def _raw(self, method: Any) -> Callable[[Any], Any]:
        """A stub call with this client's metadata and timeout; gRPC errors unmapped."""
        return functools.partial(method, metadata=self._metadata, timeout=self._timeout)

    def _status(self, request: pb.GetUploadStatusRequest) -> pb.UploadStatus:
        status: pb.UploadStatus = self._raw(self._stub.GetUploadStatus)(request)
        return status

    def get_document(
        self,
        dossier_id: uuid.UUID | str,
        document_id: uuid.UUID | str,
        version: int = 0,
        *,
        offset: int = 0,
        length: int | None = None,
    ) -> Download:
        """The document, or `length` bytes of it from `offset` (None: to the end)."""
        request = pb.GetDocumentRequest(
            dossier_id=str(dossier_id),
            document_id=str(document_id),
            version=version,
            offset=offset,
            length=length,
        )
        try:
            return Download(
                self._stub.GetDocument(request, metadata=self._metadata, timeout=self._timeout),
                (offset, length),
            )
        except grpc.RpcError as error:
            raise vault_error(error) from None

    def download(
        self,
        dossier_id: uuid.UUID | str,
        document_id: uuid.UUID | str,
        destination: Path | BinaryIO,
        version: int = 0,
        *,
        offset: int = 0,
        length: int | None = None,
        on_progress: Progress | None = None,
    ) -> Document:
        """Writes the document (or a byte range) to `destination`; a file path is
        written only once everything arrived and checked out. `on_progress` gets the
        number of bytes written so far after each chunk."""
        download = self.get_document(dossier_id, document_id, version, offset=offset, length=length)
        if not isinstance(destination, Path):
            _write_all(download, destination, on_progress)
            return download.document
        partial = destination.with_name(destination.name + ".partial")
        try:
            with partial.open("wb") as out:
                _write_all(download, out, on_progress)
            partial.replace(destination)
        finally:
            partial.unlink(missing_ok=True)
        return download.document

    def list_documents(
        self,
        dossier_id: uuid.UUID | str,
        query: DocumentQuery | None = None,
        *,
        page_size: int | None = None,
        page_token: str = "",
    ) -> DocumentPage:
        """One page of the dossier's documents that `query` keeps (None: every document
        at its latest version)."""
        request = pb.ListDocumentsRequest(
            dossier_id=str(dossier_id), page_size=page_size, page_token=page_token
        )
        if query is not None:
            wire.query_to_proto(query, request)
        reply = self._call(self._stub.ListDocuments, request)
        documents = tuple(wire.document_from_proto(d) for d in reply.documents)
        total = reply.total if reply.HasField("total") else None
        return DocumentPage(documents, reply.next_page_token, total)

    def iter_documents(
        self,
        dossier_id: uuid.UUID | str,
        query: DocumentQuery | None = None,
        page_size: int | None = None,
    ) -> Iterator[Document]:
        """Every document (version) `query` keeps, following page tokens."""
        token = ""
        while True:
            page = self.list_documents(dossier_id, query, page_size=page_size, page_token=token)
            yield from page.documents
            if not page.next_page_token:
                return
            token = page.next_page_token

    def export_journal(
        self,
        *,
        from_seq: int = 0,
        to_seq: int = 0,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[bytes]:
        """Auditors: the journal export's lines (entries and checkpoints), streamed."""
        request = pb.ExportJournalRequest(from_seq=from_seq, to_seq=to_seq)
        if since is not None:
            request.since.CopyFrom(wire.timestamp(since))
        if until is not None:
            request.until.CopyFrom(wire.timestamp(until))
        try:
            for reply in self._stub.ExportJournal(
                request, metadata=self._metadata, timeout=self._timeout
            ):
                yield from reply.lines
        except grpc.RpcError as error:
            raise vault_error(error) from None

    def query_journal(
        self,
        *,
        dossier_id: uuid.UUID | str = "",
        actor_ref: str = "",
        emergency_only: bool = False,
        denials_only: bool = False,
        page_size: int | None = None,
        page_token: str = "",
    ) -> tuple[list[tuple[int, JournalEvent]], str]:
        """One page of journal records: (sequence number, event), and the next token."""
        request = pb.QueryJournalRequest(
            dossier_id=str(dossier_id),
            actor_ref=actor_ref,
            emergency_only=emergency_only,
            denials_only=denials_only,
            page_size=page_size,
            page_token=page_token,
        )
        reply = self._call(self._stub.QueryJournal, request)
        return [wire.journal_record_from_proto(r) for r in reply.entries], reply.next_page_token

    # -- consent and access rules ------------------------------------------------------

    def count_documents(self, dossier_id: uuid.UUID | str) -> dict[DocumentCategory, int]:
        """How many documents this caller may see in each category."""
        request = pb.CountDocumentsRequest(dossier_id=str(dossier_id))
        reply = self._call(self._stub.CountDocuments, request)
        return {wire.category_from_proto(c.category): c.count for c in reply.counts}

    def delete_document(self, dossier_id: uuid.UUID | str, document_id: uuid.UUID | str) -> None:
        request = pb.DeleteDocumentRequest(dossier_id=str(dossier_id), document_id=str(document_id))
        self._call(self._stub.DeleteDocument, request)

    def set_visibility(
        self, dossier_id: uuid.UUID | str, document_id: uuid.UUID | str, visibility: Visibility
    ) -> Document:
        request = pb.SetDocumentVisibilityRequest(
            dossier_id=str(dossier_id),
            document_id=str(document_id),
            visibility=wire.visibility_to_proto(visibility),
        )
        return wire.document_from_proto(self._call(self._stub.SetDocumentVisibility, request))
