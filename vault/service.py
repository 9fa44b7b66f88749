"""The application service: every use case, from an authenticated actor to stored bytes.

`Vault` composes the ports (Index, BlobStore, KeyProvider, JournalStore, Clock) and knows
no wire format: the gRPC edge drives it, tests can too. Each call runs inside
`_journaled`, which writes exactly one journal entry per request, allowed or denied,
before any document byte or metadata is released: no journal, no access. Writes are
journaled at the decision, before any visible effect (an upload's entry is written in
the background while its bytes stream in: docs/adr/0005).

Key hierarchy: the key provider wraps one 32-byte key per dossier (versioned); each
document version gets a random 32-byte key sealed under the dossier key, bound to its
dossier, document, version and dossier key version; metadata (title, media type, digest)
is sealed under the dossier key the same way, so it dies with it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import struct
import uuid
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any

from vault import secrets
from vault.blobstore.base import BlobReader, BlobStore, BlobWriter
from vault.crypto import sealed
from vault.crypto.keyprovider import KeyProvider
from vault.crypto.objectformat import (
    DEFAULT_SEGMENT_SIZE,
    ObjectEncryptor,
    ObjectRef,
    decrypt_range,
)
from vault.crypto.objectformat import decrypt_stream as decrypt_object
from vault.domain.clock import Clock, from_us, to_us
from vault.domain.identifiers import Ins, parse_ins
from vault.domain.ids import new_id, new_object_key, parse_id
from vault.domain.model import (
    INS_SUBJECT_KINDS,
    Actor,
    ActorKind,
    Document,
    DocumentCategory,
    DocumentMetadata,
    DocumentPage,
    Dossier,
    DossierState,
)
from vault.domain.policy import Action, Facts, Reason, decide
from vault.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    IntegrityError,
    InvalidArgumentError,
    NotFoundError,
    OutOfRangeError,
    PermissionDeniedError,
    UnauthenticatedError,
    VaultError,
)
from vault.index.base import Cursor, DossierKeyRecord, DossierRecord, Index, VersionRecord
from vault.journal.chain import JournalEntry, JournalEvent
from vault.journal.export import export_lines
from vault.journal.store import EntryFilter, JournalLog, JournalStore
from vault.pagetokens import PageTokens
from vault.rotation import unwrap_dossier_key

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_TITLE_LENGTH = 1000
MAX_MEDIA_TYPE_LENGTH = 255
_DOCUMENT_PURPOSE = 1
_DOCUMENT_CURSOR = struct.Struct(">B16sq16s")  # purpose, dossier, created_us, document
_JOURNAL_PURPOSE = 2
_JOURNAL_CURSOR = struct.Struct(">BQ16s")  # purpose, after seq, query scope
_BACKGROUND_WORKERS = 32  # requests whose journal append overlaps other work at once

_REFUSALS: dict[type[VaultError], Reason] = {
    UnauthenticatedError: Reason.UNAUTHENTICATED,
    InvalidArgumentError: Reason.INVALID_ARGUMENT,
    NotFoundError: Reason.NOT_FOUND,
    AlreadyExistsError: Reason.ALREADY_EXISTS,
}


def _refusal_reason(error: Exception) -> str:
    if isinstance(error, PermissionDeniedError):
        return error.reason
    return next((r for t, r in _REFUSALS.items() if isinstance(error, t)), Reason.FAILED).value


@dataclass
class Call:
    """One request as the service sees it: its id, and whether it is journaled yet.

    Exactly one journal entry per request: the edge journals a refusal only when the
    service has not (`journaled` is still False), e.g. a bad token or a malformed id."""

    request_id: str
    journaled: bool = False


@dataclass
class _Access:
    """What one request touched, filled in as the use case learns it."""

    dossier: uuid.UUID | None = None
    documents: tuple[uuid.UUID, ...] = ()
    reason: Reason | None = None

    def require(self, facts: Facts) -> None:
        decision = decide(facts)
        self.reason = decision.reason
        if not decision.allowed:
            raise PermissionDeniedError(decision.reason.value)


def validate_metadata(metadata: DocumentMetadata) -> DocumentMetadata:
    if not isinstance(metadata.category, DocumentCategory):
        raise InvalidArgumentError("unknown document category")
    if len(metadata.title) > MAX_TITLE_LENGTH:
        raise InvalidArgumentError(f"title longer than {MAX_TITLE_LENGTH} characters")
    media_type = metadata.media_type
    if not media_type or len(media_type) > MAX_MEDIA_TYPE_LENGTH or "/" not in media_type:
        raise InvalidArgumentError("media type must look like type/subtype")
    return metadata


class Upload:
    """A document being written: `write` chunks, then `commit` with the size and SHA-256
    the client computed (or `abort`).

    Created by `Vault.begin_upload` once the decision is made and the blob writer open.
    Two background jobs run while the chunks stream in: `prepared` seals the document
    key and records the pending version row, then `journaled` writes the decision's
    journal entry (after it, as both write to the database and the row is needed first).
    `commit` waits for the row before it commits the blob, and for the entry (which had
    the blob's upload to finish) before it makes the version visible: the write order of
    docs/architecture.md. Nothing is
    visible until `commit` returns; memory holds about two segments. After `commit` or
    `abort` the upload is spent: `abort` becomes a no-op."""

    def __init__(
        self,
        index: Index,
        writer: BlobWriter,
        record: VersionRecord,
        journaled: Future[None],
        prepared: Future[_Prepared],
        document_key: bytes,
        metadata: DocumentMetadata,
        segment_size: int,
    ) -> None:
        self._index = index
        self._writer = writer
        self._record = record
        self._journaled = journaled
        self._prepared = prepared
        self._metadata = metadata
        self._digest = hashlib.sha256()
        self._open = True
        ref = ObjectRef(
            record.dossier_id, record.document_id, record.version, record.dossier_key_version
        )
        self._encryptor = ObjectEncryptor(
            document_key, ref, writer.write, segment_size=segment_size
        )

    def write(self, chunk: bytes) -> None:
        if not self._open:
            raise FailedPreconditionError("the upload is finished")
        self._digest.update(chunk)
        self._encryptor.write(chunk)

    def commit(self, expected_size: int, expected_sha256: bytes) -> Document:
        """Stores the document if what arrived is what the client says it sent."""
        if not self._open:
            raise FailedPreconditionError("the upload is finished")
        if (self._encryptor.plaintext_size, self._digest.digest()) != (
            expected_size,
            expected_sha256,
        ):
            raise IntegrityError("the content received does not match its size and digest")
        self._encryptor.close()
        prepared = self._prepared.result()  # the pending row is recorded
        if self._journaled.done():
            self._journaled.result()  # an entry that failed already: commit nothing
        self._writer.commit()
        self._open = False
        self._journaled.result()  # the decision is journaled (before the version is visible)
        digest = self._digest.digest()
        record = replace(
            prepared.record,
            size=self._encryptor.plaintext_size,
            ciphertext_size=self._encryptor.ciphertext_size,
            sealed_metadata=secrets.seal_metadata(
                prepared.dossier_key, prepared.record, self._metadata, digest
            ),
        )
        self._index.commit_version(record)
        return secrets.document(record, self._metadata, digest)

    def abort(self) -> None:
        """Discards the blob and the pending row; does nothing once committed or aborted."""
        if self._open:
            self._open = False
            self._writer.abort()
            _discard_pending(self._index, self._record, self._journaled, self._prepared)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What an upload records in the background: its pending row, and the dossier key
    that seals its document key and metadata."""

    record: VersionRecord
    dossier_key: bytes


def _after(job: Future[Any], then: Callable[[], None]) -> None:
    """Runs `then` once `job` has ended, whatever its outcome (`job` was submitted first:
    it is already running, so this never waits for a free worker)."""
    wait([job])
    then()


def _discard_pending(index: Index, record: VersionRecord, *jobs: Future[Any]) -> None:
    """Waits for an upload's background jobs to end, then removes its pending row if
    there is one (they may have failed before recording it, or after)."""
    for job in jobs:
        with contextlib.suppress(Exception):  # its error is moot: the upload is abandoned
            job.result()
    index.discard_version(record)


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


class Vault:
    def __init__(
        self,
        *,
        index: Index,
        blobs: BlobStore,
        keys: KeyProvider,
        journal: JournalStore,
        journal_log: JournalLog,
        clock: Clock,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
    ) -> None:
        self._index = index
        self._blobs = blobs
        self._keys = keys
        self._journal = journal
        self._journal_log = journal_log
        self._clock = clock
        self._segment_size = segment_size
        self._tokens = PageTokens(keys)
        # overlaps a request's journal append with its other work (uploads, reads)
        self._background = ThreadPoolExecutor(_BACKGROUND_WORKERS, "vault-overlap")

    # -- journal -------------------------------------------------------------------

    def _append(
        self,
        actor: Actor | None,
        action: Action,
        call: Call,
        access: _Access,
        decision: str,
        reason: str,
    ) -> None:
        self._journal.append(
            JournalEvent(
                time_us=to_us(self._clock.now()),
                actor_kind=actor.kind.value if actor else "anonymous",
                actor_ref=self._actor_ref(actor),
                actor_profession=actor.profession if actor else None,
                action=action.value,
                dossier=str(access.dossier) if access.dossier else None,
                documents=tuple(str(d) for d in access.documents),
                decision=decision,
                reason=reason,
                emergency=False,
                request_id=call.request_id,
            )
        )
        call.journaled = True

    @contextlib.contextmanager
    def _journaled(self, actor: Actor, action: Action, call: Call) -> Iterator[_Access]:
        """Runs one decision; journals it as allowed on exit, or as denied on error."""
        with self._refusal_journaled(actor, action, call) as access:
            yield access
        self._journal_allowed(actor, action, call, access)

    @contextlib.contextmanager
    def _refusal_journaled(self, actor: Actor, action: Action, call: Call) -> Iterator[_Access]:
        """Runs one decision and journals it if denied; an allowed one is the caller's to
        journal (`_journal_allowed`) before any visible effect."""
        access = _Access()
        try:
            yield access
        except Exception as error:  # any failure is a refusal, and is journaled as one
            self._append(actor, action, call, access, "deny", _refusal_reason(error))
            raise

    def _journal_allowed(self, actor: Actor, action: Action, call: Call, access: _Access) -> None:
        if access.reason is None:
            raise AssertionError("a use case ended without a policy decision")
        self._append(actor, action, call, access, "allow", access.reason.value)

    def record_refusal(
        self, actor: Actor | None, action: Action, call: Call, error: Exception
    ) -> None:
        """Journals a request the edge refused before the service decided (bad token,
        malformed message); does nothing if the request is journaled already."""
        if not call.journaled:
            self._append(actor, action, call, _Access(), "deny", _refusal_reason(error))

    # -- identities ----------------------------------------------------------------

    def _patient_index(self, ins: Ins) -> bytes:
        return self._keys.blind_index(b"DVLT/v1/ins\x00" + ins.value.encode())

    def _actor_patient_index(self, actor: Actor) -> bytes | None:
        """The blind index of the actor's INS, for a patient (the dossier's holder)."""
        if actor.kind is not ActorKind.PATIENT:
            return None
        return self._patient_index(parse_ins(actor.subject))

    def _actor_ref(self, actor: Actor | None) -> str:
        """How the journal names an actor: whoever is identified by an INS (a patient, a
        legal representative) appears only as its blind index, never the INS itself."""
        if actor is None:
            return "-"
        if actor.kind in INS_SUBJECT_KINDS:
            return f"ins-hmac:{self._patient_index(parse_ins(actor.subject)).hex()}"
        return actor.subject

    def _facts(self, actor: Actor, action: Action, dossier: DossierRecord) -> Facts:
        is_holder = self._actor_patient_index(actor) == dossier.patient_index
        return Facts(actor.kind, action, is_holder, dossier.state)

    def _dossier(self, dossier_text: str, access: _Access) -> DossierRecord:
        dossier_id = parse_id(dossier_text, "dossier id")
        access.dossier = dossier_id
        record = self._index.dossier(dossier_id)
        if record is None:
            raise NotFoundError("no such dossier")
        return record

    # -- keys and metadata -----------------------------------------------------------

    def _dossier_key(self, dossier_id: uuid.UUID, version: int) -> bytes:
        return unwrap_dossier_key(self._index, self._keys, dossier_id, version)

    # -- page tokens -----------------------------------------------------------------

    def _document_page_token(self, dossier_id: uuid.UUID, cursor: Cursor) -> str:
        return self._tokens.seal(
            _DOCUMENT_CURSOR.pack(
                _DOCUMENT_PURPOSE, dossier_id.bytes, cursor.created_us, cursor.document_id.bytes
            )
        )

    def _document_cursor(self, dossier_id: uuid.UUID, token: str) -> Cursor | None:
        if not token:
            return None
        payload = self._tokens.open(token, _DOCUMENT_CURSOR.size, _DOCUMENT_PURPOSE)
        _, dossier, created_us, document = _DOCUMENT_CURSOR.unpack(payload)
        if dossier != dossier_id.bytes:
            raise InvalidArgumentError("page token belongs to another query")
        return Cursor(created_us, uuid.UUID(bytes=document))

    @staticmethod
    def _page_limit(page_size: int) -> int:
        if not 0 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidArgumentError(
                f"page size must be at most {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})"
            )
        return page_size or DEFAULT_PAGE_SIZE

    # -- use cases -------------------------------------------------------------------

    def create_dossier(self, actor: Actor, ins_text: str, call: Call) -> Dossier:
        with self._journaled(actor, Action.DOSSIER_CREATE, call) as access:
            patient_index = self._patient_index(parse_ins(ins_text))
            is_holder = self._actor_patient_index(actor) == patient_index
            access.require(Facts(actor.kind, Action.DOSSIER_CREATE, is_holder, None))
            if self._index.dossier_by_patient(patient_index) is not None:
                raise AlreadyExistsError("this patient already has a dossier")
            now_us = to_us(self._clock.now())
            record = DossierRecord(
                new_id(now_us // 1000), patient_index, DossierState.ACTIVE, now_us, key_version=1
            )
            access.dossier = record.dossier_id
        context = sealed.dossier_key_context(record.dossier_id, 1)
        wrapped = self._keys.wrap(os.urandom(sealed.KEY_SIZE), context)
        self._index.add_dossier(record, DossierKeyRecord(record.dossier_id, 1, wrapped))
        return Dossier(record.dossier_id, record.state, from_us(record.created_us))

    def get_dossier(
        self, actor: Actor, call: Call, *, dossier_id: str = "", ins: str = ""
    ) -> Dossier:
        """Finds a dossier by opaque id, or by its holder's INS."""
        with self._journaled(actor, Action.DOSSIER_READ, call) as access:
            if ins:
                record = self._dossier_of_patient(actor, ins, access)
            elif dossier_id:
                record = self._dossier(dossier_id, access)
            else:
                raise InvalidArgumentError("give a dossier id or an INS")
            access.require(self._facts(actor, Action.DOSSIER_READ, record))
        return Dossier(record.dossier_id, record.state, from_us(record.created_us))

    def _dossier_of_patient(self, actor: Actor, ins: str, access: _Access) -> DossierRecord:
        patient_index = self._patient_index(parse_ins(ins))
        if self._actor_patient_index(actor) != patient_index:
            # Refuse before looking: a stranger must not learn who has a dossier.
            access.require(Facts(actor.kind, Action.DOSSIER_READ, False, None))
        record = self._index.dossier_by_patient(patient_index)
        if record is None:
            raise NotFoundError("no such dossier")
        access.dossier = record.dossier_id
        return record

    def begin_upload(
        self, actor: Actor, dossier_id: str, metadata: DocumentMetadata, call: Call
    ) -> Upload:
        """Starts writing a new document; the caller streams into the returned Upload.

        Only the decision is made here: its journal entry, and the sealed document key
        and pending version row, are recorded in the background while the first chunks
        arrive (`Upload.commit` waits for them before anything becomes visible)."""
        with self._refusal_journaled(actor, Action.DOCUMENT_WRITE, call) as access:
            dossier = self._dossier(dossier_id, access)
            access.require(self._facts(actor, Action.DOCUMENT_WRITE, dossier))
            validate_metadata(metadata)
            now_us = to_us(self._clock.now())
            document_id = new_id(now_us // 1000)
            access.documents = (document_id,)
        record = VersionRecord(
            dossier_id=dossier.dossier_id,
            document_id=document_id,
            version=1,
            category=metadata.category,
            created_us=now_us,
            blob_key=new_object_key(),
            dossier_key_version=dossier.key_version,
            wrapped_key=b"",
            sealed_metadata=b"",
        )
        document_key = os.urandom(sealed.KEY_SIZE)
        prepared = self._background.submit(self._prepare_upload, record, document_key)
        allowed = functools.partial(
            self._journal_allowed, actor, Action.DOCUMENT_WRITE, call, access
        )
        journaled = self._background.submit(_after, prepared, allowed)
        try:
            writer = self._blobs.create(record.blob_key)
        except BaseException:
            _discard_pending(self._index, record, journaled, prepared)
            raise
        return Upload(
            self._index,
            writer,
            record,
            journaled,
            prepared,
            document_key,
            metadata,
            self._segment_size,
        )

    def _prepare_upload(self, record: VersionRecord, document_key: bytes) -> _Prepared:
        """Seals the document key under the dossier key; records the pending version row."""
        dossier_key = self._dossier_key(record.dossier_id, record.dossier_key_version)
        record = replace(
            record, wrapped_key=secrets.wrap_document_key(dossier_key, record, document_key)
        )
        self._index.reserve_version(record)
        return _Prepared(record, dossier_key)

    def open_document(
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
        opening = _Opening()
        with opening, self._journaled(actor, Action.DOCUMENT_READ, call) as access:
            dossier = self._dossier(dossier_id, access)
            document_uuid = parse_id(document_id, "document id")
            access.documents = (document_uuid,)
            access.require(self._facts(actor, Action.DOCUMENT_READ, dossier))
            record = self._index.version(dossier.dossier_id, document_uuid, version)
            if record is None:
                raise NotFoundError("no such document")
            if offset > record.size:
                raise OutOfRangeError("the range starts past the end of the document")
            opening.start(self._background.submit(self._open_version, record, offset, length))
        return opening.result()

    def _open_version(self, record: VersionRecord, offset: int, length: int | None) -> _Opened:
        dossier_key = self._dossier_key(record.dossier_id, record.dossier_key_version)
        document = secrets.open_metadata(dossier_key, record)
        document_key = secrets.unwrap_document_key(dossier_key, record)
        ref = ObjectRef(
            record.dossier_id, record.document_id, record.version, record.dossier_key_version
        )
        if offset == 0 and length is None:
            chunks = self._plaintext(record.blob_key, document_key, ref)
        else:
            chunks = self._plaintext_range(record, document_key, ref, offset, length)
        return document, _read_ahead(chunks)

    def _plaintext(
        self, blob_key: str, document_key: bytes, ref: ObjectRef
    ) -> Generator[bytes, None, None]:
        reader = self._blobs.open(blob_key)
        try:
            yield from decrypt_object(document_key, ref, reader.read)
        finally:
            reader.close()

    def _plaintext_range(
        self,
        record: VersionRecord,
        document_key: bytes,
        ref: ObjectRef,
        offset: int,
        length: int | None,
    ) -> Generator[bytes, None, None]:
        readers: list[BlobReader] = []

        def open_at(at: int, size: int) -> Callable[[int], bytes]:
            readers.append(self._blobs.open(record.blob_key, at, size))
            return readers[-1].read

        try:
            yield from decrypt_range(
                document_key, ref, open_at, record.ciphertext_size, offset, length
            )
        finally:
            for reader in readers:
                reader.close()

    def list_documents(
        self, actor: Actor, dossier_id: str, page_size: int, page_token: str, call: Call
    ) -> DocumentPage:
        """One page of the dossier's documents at their latest version, newest first."""
        with self._journaled(actor, Action.DOCUMENT_LIST, call) as access:
            dossier = self._dossier(dossier_id, access)
            access.require(self._facts(actor, Action.DOCUMENT_LIST, dossier))
            limit = self._page_limit(page_size)
            cursor = self._document_cursor(dossier.dossier_id, page_token)
            records = self._index.latest_versions(dossier.dossier_id, limit + 1, cursor)
            page, more = records[:limit], len(records) > limit
            access.documents = tuple(r.document_id for r in page)
        next_token = ""
        if more:
            last = Cursor(page[-1].created_us, page[-1].document_id)
            next_token = self._document_page_token(dossier.dossier_id, last)
        keys: dict[int, bytes] = {}
        documents = []
        for record in page:
            version = record.dossier_key_version
            if version not in keys:
                keys[version] = self._dossier_key(record.dossier_id, version)
            documents.append(secrets.open_metadata(keys[version], record))
        return DocumentPage(tuple(documents), next_token)

    # -- the journal's read side ---------------------------------------------------------

    def export_journal(
        self,
        actor: Actor,
        call: Call,
        *,
        from_seq: int = 0,
        to_seq: int = 0,
        since_us: int | None = None,
        until_us: int | None = None,
    ) -> Generator[bytes, None, None]:
        """Auditors: export lines (entries and their checkpoints) for a range."""
        with self._journaled(actor, Action.JOURNAL_EXPORT, call) as access:
            access.require(Facts(actor.kind, Action.JOURNAL_EXPORT, False, None))
            if to_seq and from_seq > to_seq:
                raise InvalidArgumentError("from_seq is after to_seq")
            if since_us is not None and until_us is not None and since_us >= until_us:
                raise InvalidArgumentError("the time range is the wrong way round")
        first, last = max(from_seq, 1), to_seq or None
        checkpoints = dict(self._journal_log.checkpoints(first, last))
        entries = self._journal_log.entries(first, last, since_us=since_us, until_us=until_us)
        return export_lines(entries, checkpoints)

    def query_journal(
        self, actor: Actor, call: Call, where: EntryFilter, page_size: int, page_token: str
    ) -> tuple[list[JournalEntry], str]:
        """A dossier's access history (its holder, auditors), or auditors' filters."""
        with self._journaled(actor, Action.JOURNAL_READ, call) as access:
            if where.dossier:
                dossier = self._dossier(where.dossier, access)
                where = replace(where, dossier=str(dossier.dossier_id))
                facts = self._facts(actor, Action.JOURNAL_READ, dossier)
            else:
                facts = Facts(actor.kind, Action.JOURNAL_READ, False, None)
            access.require(facts)
            limit = self._page_limit(page_size)
            scope = hashlib.sha256(repr(replace(where, after_seq=0)).encode()).digest()[:16]
            if page_token:
                payload = self._tokens.open(page_token, _JOURNAL_CURSOR.size, _JOURNAL_PURPOSE)
                _, after_seq, token_scope = _JOURNAL_CURSOR.unpack(payload)
                if token_scope != scope:
                    raise InvalidArgumentError("page token belongs to another query")
                where = replace(where, after_seq=after_seq)
            entries = self._journal_log.query(where, limit + 1)
        page, more = entries[:limit], len(entries) > limit
        token = ""
        if more:
            token = self._tokens.seal(_JOURNAL_CURSOR.pack(_JOURNAL_PURPOSE, page[-1].seq, scope))
        return page, token
