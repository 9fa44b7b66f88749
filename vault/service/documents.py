"""A dossier's documents once written: open (read), search, count, delete, change their
visibility, and the patient's copy of them all (export).

Each use case decides through the gate; a read releases nothing before its journal entry
is durable, though it opens the object in the background meanwhile (`_Opening`), and each
segment is authenticated before it is released. Writing a document is `uploads.py`'s; the
dossier itself (create, lifecycle, holds) is `dossiers.py`'s.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Executor, Future
from dataclasses import replace

from vault import version_secrets
from vault.archive import build_archive
from vault.blobstore.base import BlobReader, BlobStore
from vault.crypto.objectformat import decrypt_range, decrypt_segments
from vault.domain import lifecycle
from vault.domain.ids import parse_id
from vault.domain.model import (
    Actor,
    Document,
    DocumentCategory,
    DocumentPage,
    DocumentQuery,
    DocumentStatus,
    ExportSummary,
    Visibility,
)
from vault.domain.policy import Action, Reason, Scope
from vault.domain.validation import MAX_PAGE_SIZE, page_limit, validate_query
from vault.errors import ConflictError, FailedPreconditionError, OutOfRangeError
from vault.index.base import Cursor, DocumentIndex, DossierKeyRecord, VersionRecord
from vault.journal.docset import document_set
from vault.journal.store import JournalLog
from vault.pagetokens import DocumentPageToken, PageTokens
from vault.service.dossiers import dossier_view
from vault.service.gate import Call, Gate, object_ref
from vault.service.journal import history, secret_care


def _read_ahead(chunks: Generator[bytes, None, None]) -> Generator[bytes, None, None]:
    """`chunks` with its first item already read (a failure to read it is raised at the
    first iteration, where it would have been); closing the result closes `chunks`."""
    ahead = _ahead(chunks)
    next(ahead)
    return ahead


def _ahead(chunks: Generator[bytes, None, None]) -> Generator[bytes, None, None]:
    try:
        failure: Exception | None = None
        first: bytes | None = None
        try:
            first = next(chunks, None)
        except Exception as error:  # raised below, once someone asks for the data
            failure = error
        yield b""  # primed: `_read_ahead` stops here
        if failure is not None:
            raise failure
        if first is not None:
            yield first
            yield from chunks
    finally:
        chunks.close()


_Opened = tuple[Document, Generator[bytes, None, None]]


class _Opening:
    """A document's object being opened in the background while the read is journaled;
    on an error (the journal failed), what was opened is closed unread."""

    def __init__(self) -> None:
        self._future: Future[_Opened] | None = None

    def start(self, future: Future[_Opened]) -> None:
        self._future = future

    def result(self) -> _Opened:
        assert self._future is not None, "no document was opened"
        return self._future.result()

    def __enter__(self) -> _Opening:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None and self._future is not None:
            with contextlib.suppress(Exception):  # its error is moot: the read is refused
                self._future.result()[1].close()


class Documents:
    """The use cases on written documents."""

    def __init__(
        self,
        gate: Gate,
        *,
        index: DocumentIndex,
        blobs: BlobStore,
        background: Executor,
        tokens: PageTokens,
        journal_log: JournalLog,
    ) -> None:
        self._gate = gate
        self._index = index
        self._blobs = blobs
        self._background = background
        self._tokens = tokens
        self._journal_log = journal_log

    def open(
        self,
        actor: Actor,
        dossier_id: str,
        document_id: str,
        version: int | None,
        call: Call,
        *,
        offset: int = 0,
        length: int | None = None,
    ) -> tuple[Document, Generator[bytes, None, None]]:
        """The document's metadata and its plaintext (or a byte range of it), segment by
        segment, each authenticated before it is released.

        The keys, the metadata and the first segment are read in the background while
        the decision is journaled; nothing is returned before the entry is durable."""
        gate, opening = self._gate, _Opening()
        with opening, gate.journaled(actor, Action.DOCUMENT_READ, call) as access:
            with gate.reads():  # dossier, standing, version and key: one read scope
                dossier = gate.dossier(dossier_id, access)
                access.documents = (parse_id(document_id, "document id"),)
                record = gate.visible_version(actor, Action.DOCUMENT_READ, dossier, access, version)
                wrapped = gate.wrapped_dossier_key(record.dossier_id, record.dossier_key_version)
            gate.notify_first_access(actor, dossier, call)
            if offset > record.size:
                raise OutOfRangeError("the range starts past the end of the document")
            opening.start(
                self._background.submit(self._open_version, record, wrapped, offset, length)
            )
        return opening.result()

    def _open_version(
        self, record: VersionRecord, wrapped: DossierKeyRecord, offset: int, length: int | None
    ) -> _Opened:
        dossier_key = self._gate.unwrap(wrapped)
        document = version_secrets.open_metadata(dossier_key, record)
        document_key = version_secrets.unwrap_document_key(dossier_key, record)
        if offset == 0 and length is None:
            chunks = self._plaintext(record, document_key)
        else:
            chunks = self._plaintext_range(record, document_key, offset, length)
        return document, _read_ahead(chunks)

    def _plaintext(
        self, record: VersionRecord, document_key: bytes
    ) -> Generator[bytes, None, None]:
        """The whole plaintext, one new `bytes` per segment (the object's recorded size
        says which segment is last: no read-ahead)."""
        reader = self._blobs.open(record.blob_key)
        try:
            yield from decrypt_segments(
                document_key, object_ref(record), reader, record.ciphertext_size
            )
        finally:
            reader.close()

    def _plaintext_range(
        self, record: VersionRecord, document_key: bytes, offset: int, length: int | None
    ) -> Generator[bytes, None, None]:
        readers: list[BlobReader] = []

        def open_at(at: int, size: int) -> Callable[[int], bytes]:
            readers.append(self._blobs.open(record.blob_key, at, size))
            return readers[-1].read

        try:
            yield from decrypt_range(
                document_key, object_ref(record), open_at, record.ciphertext_size, offset, length
            )
        finally:
            for reader in readers:
                reader.close()

    def search(
        self,
        actor: Actor,
        dossier_id: str,
        query: DocumentQuery,
        page_size: int | None,
        page_token: str,
        call: Call,
    ) -> DocumentPage:
        """One page of the dossier's document versions that `query` keeps (by default
        each document at its latest version), newest first."""
        gate = self._gate
        with gate.journaled(actor, Action.DOCUMENT_LIST, call) as access:
            with gate.reads():  # dossier, standing, the page and its keys: one read scope
                dossier = gate.dossier(dossier_id, access)
                decision = access.require(gate.facts(actor, Action.DOCUMENT_LIST, dossier))
                query = validate_query(query)
                limit = page_limit(page_size)
                cursor = None
                if page_token:
                    token = self._tokens.open(page_token, DocumentPageToken)
                    cursor = token.resume(dossier.dossier_id, query)
                records, total = self._index.search_page(
                    dossier.dossier_id, decision.scope, query, limit + 1, cursor
                )
                page, more = records[:limit], len(records) > limit
                wrapped = {
                    version: gate.wrapped_dossier_key(dossier.dossier_id, version)
                    for version in sorted({r.dossier_key_version for r in page})
                }
            access.documents = tuple(dict.fromkeys(r.document_id for r in page))
            gate.notify_first_access(actor, dossier, call)
        next_token = ""
        if more:
            after = Cursor.after(page[-1])
            next_token = self._tokens.seal(
                DocumentPageToken.after(dossier.dossier_id, query, after)
            )
        dossier_keys = {version: gate.unwrap(key) for version, key in wrapped.items()}
        documents = (
            version_secrets.open_metadata(dossier_keys[r.dossier_key_version], r) for r in page
        )
        return DocumentPage(tuple(documents), next_token, total)

    def count(self, actor: Actor, dossier_id: str, call: Call) -> dict[DocumentCategory, int]:
        """How many documents the caller may see in each category (a summary screen);
        hidden documents are not counted."""
        gate = self._gate
        with gate.journaled(actor, Action.DOCUMENT_LIST, call) as access:
            with gate.reads():
                dossier = gate.dossier(dossier_id, access)
                decision = access.require(gate.facts(actor, Action.DOCUMENT_LIST, dossier))
                counts = self._index.category_counts(dossier.dossier_id, decision.scope)
            gate.notify_first_access(actor, dossier, call)
        return counts

    def delete(self, actor: Actor, dossier_id: str, document_id: str, call: Call) -> None:
        """The patient side removes a document, every version of it, for good; never
        while a legal hold is in force (FAILED_PRECONDITION, journaled `legal-hold`)."""
        gate = self._gate
        with gate.journaled(actor, Action.DOCUMENT_DELETE, call) as access, gate.reads():
            dossier = gate.dossier(dossier_id, access)
            access.documents = (parse_id(document_id, "document id"),)
            gate.visible_version(actor, Action.DOCUMENT_DELETE, dossier, access)
            try:
                lifecycle.check_document_deletion(dossier.lifecycle)
            except FailedPreconditionError:
                access.refusal = Reason.LEGAL_HOLD  # what the journal says, not `failed`
                raise
        for blob_key in self._index.delete_document(dossier.dossier_id, access.documents[0]):
            self._blobs.delete(blob_key)  # after a crash here, the sweeper finds the orphan

    def set_visibility(
        self,
        actor: Actor,
        dossier_id: str,
        document_id: str,
        visibility: Visibility,
        call: Call,
    ) -> Document:
        """Changes a document's visibility codes: a new metadata version, recorded once the
        decision is journaled."""
        gate = self._gate
        with gate.journaled(actor, Action.DOCUMENT_VISIBILITY, call) as access, gate.reads():
            dossier = gate.dossier(dossier_id, access)
            access.documents = (parse_id(document_id, "document id"),)
            record = gate.visible_version(
                actor, Action.DOCUMENT_VISIBILITY, dossier, access, new_visibility=visibility
            )
        if not self._index.set_visibility(record, visibility, gate.now_us(), gate.actor_ref(actor)):
            # allowed and journaled, then overtaken by a concurrent change: nothing changed
            raise ConflictError("the document changed meanwhile; try again")
        dossier_key = gate.dossier_key(record.dossier_id, record.dossier_key_version)
        return version_secrets.open_metadata(dossier_key, replace(record, visibility=visibility))

    def export(
        self, actor: Actor, dossier_id: str, call: Call
    ) -> tuple[ExportSummary, Iterator[bytes]]:
        """The patient's copy (docs/format.md, "Patient copy archive v2"): every version
        of every document the patient side may see, decrypted, with its metadata and the
        access history, streamed in constant memory, after a summary of what it holds.
        One journal entry records how many versions it holds and their digest (ADR 0045)."""
        gate = self._gate
        with gate.journaled(actor, Action.DOSSIER_EXPORT, call) as access:
            dossier = gate.dossier(dossier_id, access)
            decision = access.require(gate.facts(actor, Action.DOSSIER_EXPORT, dossier))
            records = self._all_versions_in(dossier.dossier_id, decision.scope)
            hidden = self._index.documents_outside(dossier.dossier_id, decision.scope)
            secret = secret_care(self._index, dossier.dossier_id, decision)
            access.document_set = document_set((r.document_id, r.version) for r in records)
        now = gate.now()
        dossier_key = functools.cache(functools.partial(gate.dossier_key, dossier.dossier_id))
        opened = {
            (r.document_id, r.version): (
                version_secrets.open_metadata(dossier_key(r.dossier_key_version), r),
                r,
            )
            for r in records
        }

        def read(document: Document) -> Iterator[bytes]:
            """A document's plaintext; its key is unwrapped when its turn comes."""
            _, record = opened[document.document_id, document.version]
            key = version_secrets.unwrap_document_key(
                dossier_key(record.dossier_key_version), record
            )
            return self._plaintext(record, key)

        entries = history(self._journal_log, dossier.dossier_id, hidden, access.journal_seq, secret)
        documents = [document for document, _ in opened.values()]
        named = len({r.document_id for r in records})
        summary = ExportSummary(named, len(records), sum(r.size for r in records))
        return summary, build_archive(dossier_view(dossier), documents, read, entries, now)

    def _all_versions_in(self, dossier_id: uuid.UUID, scope: Scope) -> list[VersionRecord]:
        records: list[VersionRecord] = []
        cursor: Cursor | None = None
        every = DocumentQuery(statuses=frozenset(DocumentStatus))
        while page := self._index.search(dossier_id, scope, every, MAX_PAGE_SIZE, cursor):
            records += page
            cursor = Cursor.after(page[-1])
        return records
