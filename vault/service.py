"""The application service: every use case, from an authenticated actor to stored bytes.

`Vault` composes the ports (Index, BlobStore, KeyProvider, JournalStore, Clock) and knows
no wire format: the gRPC edge drives it, tests can too. Each call runs inside
`_journaled`, which writes exactly one journal entry per request, allowed or denied,
before any document byte or metadata is released: no journal, no access. Writes are
journaled at the decision, before any effect.

Key hierarchy: the key provider wraps one 32-byte key per dossier (versioned); each
document version gets a random 32-byte key sealed under the dossier key, bound to its
dossier, document, version and dossier key version; metadata (title, media type, digest)
is sealed under the dossier key the same way, so it dies with it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import struct
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from vault.blobstore.base import BlobStore, BlobWriter
from vault.crypto import sealed
from vault.crypto.keyprovider import KeyProvider
from vault.crypto.objectformat import DEFAULT_SEGMENT_SIZE, ObjectEncryptor, ObjectRef
from vault.crypto.objectformat import decrypt_stream as decrypt_object
from vault.domain.clock import Clock
from vault.domain.identifiers import Ins, parse_ins
from vault.domain.ids import new_id, new_object_key, parse_id
from vault.domain.model import (
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
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
    VaultError,
)
from vault.index.base import Cursor, DossierKeyRecord, DossierRecord, Index, VersionRecord
from vault.journal.chain import JournalEvent
from vault.journal.store import JournalStore

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_TITLE_LENGTH = 1000
MAX_MEDIA_TYPE_LENGTH = 255
_PAGE_TOKEN_VERSION = 1
_PAGE_TOKEN = struct.Struct(">B16sq16s")
_PAGE_TOKEN_TAG_SIZE = 16

_REFUSALS: dict[type[VaultError], Reason] = {
    UnauthenticatedError: Reason.UNAUTHENTICATED,
    InvalidArgumentError: Reason.INVALID_ARGUMENT,
    NotFoundError: Reason.NOT_FOUND,
    AlreadyExistsError: Reason.ALREADY_EXISTS,
}


def _refusal_reason(error: VaultError) -> str:
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


def _time_us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _datetime(time_us: int) -> datetime:
    return datetime.fromtimestamp(time_us / 1_000_000, UTC)


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
    """A document being written: `write` chunks, then `commit` (or `abort`).

    Nothing is visible until `commit` returns; memory holds about two segments."""

    def __init__(
        self, vault: Vault, record: VersionRecord, document_key: bytes, metadata: DocumentMetadata
    ) -> None:
        self._vault = vault
        self._record = record
        self._dossier_key = b""
        self._metadata = metadata
        self._digest = hashlib.sha256()
        vault._index.reserve_version(record)
        self._writer: BlobWriter = vault._blobs.create(record.blob_key)
        ref = ObjectRef(
            record.dossier_id, record.document_id, record.version, record.dossier_key_version
        )
        self._encryptor = ObjectEncryptor(
            document_key, ref, self._writer.write, segment_size=vault._segment_size
        )

    def write(self, chunk: bytes) -> None:
        self._digest.update(chunk)
        self._encryptor.write(chunk)

    def commit(self) -> Document:
        self._encryptor.close()
        self._writer.commit()
        digest = self._digest.digest()
        record = replace(
            self._record,
            size=self._encryptor.plaintext_size,
            ciphertext_size=self._encryptor.ciphertext_size,
            sealed_metadata=self._vault._seal_metadata(self._record, self._metadata, digest),
        )
        self._vault._index.commit_version(record)
        return self._vault._document(record, self._metadata, digest)

    def abort(self) -> None:
        self._writer.abort()
        self._vault._index.discard_version(self._record)


class Vault:
    def __init__(
        self,
        *,
        index: Index,
        blobs: BlobStore,
        keys: KeyProvider,
        journal: JournalStore,
        clock: Clock,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
    ) -> None:
        self._index = index
        self._blobs = blobs
        self._keys = keys
        self._journal = journal
        self._clock = clock
        self._segment_size = segment_size

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
        call.journaled = True
        self._journal.append(
            JournalEvent(
                time_us=_time_us(self._clock.now()),
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

    @contextlib.contextmanager
    def _journaled(self, actor: Actor, action: Action, call: Call) -> Iterator[_Access]:
        """Runs one decision; journals it as allowed on exit, or as denied on error."""
        access = _Access()
        try:
            yield access
        except VaultError as error:
            self._append(actor, action, call, access, "deny", _refusal_reason(error))
            raise
        if access.reason is None:
            raise AssertionError("a use case ended without a policy decision")
        self._append(actor, action, call, access, "allow", access.reason.value)

    def record_refusal(
        self, actor: Actor | None, action: Action, call: Call, error: VaultError
    ) -> None:
        """Journals a request the edge refused before the service decided (bad token,
        malformed message); does nothing if the request is journaled already."""
        if not call.journaled:
            self._append(actor, action, call, _Access(), "deny", _refusal_reason(error))

    # -- identities ----------------------------------------------------------------

    def _patient_index(self, ins: Ins) -> bytes:
        return self._keys.blind_index(b"DVLT/v1/ins\x00" + ins.value.encode())

    def _actor_patient_index(self, actor: Actor) -> bytes | None:
        if actor.kind is not ActorKind.PATIENT:
            return None
        return self._patient_index(parse_ins(actor.subject))

    def _actor_ref(self, actor: Actor | None) -> str:
        """How the journal names an actor: never a patient's INS, only its blind index."""
        if actor is None:
            return "-"
        holder_index = self._actor_patient_index(actor)
        return f"ins-hmac:{holder_index.hex()}" if holder_index else actor.subject

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
        record = self._index.dossier_key(dossier_id, version)
        return self._keys.unwrap(record.wrapped, sealed.dossier_key_context(dossier_id, version))

    def _context(self, record: VersionRecord) -> bytes:
        return sealed.document_key_context(
            record.dossier_id, record.document_id, record.version, record.dossier_key_version
        )

    def _seal_metadata(
        self, record: VersionRecord, metadata: DocumentMetadata, digest: bytes
    ) -> bytes:
        plaintext = json.dumps(
            {"title": metadata.title, "media_type": metadata.media_type, "sha256": digest.hex()},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        key = self._dossier_key(record.dossier_id, record.dossier_key_version)
        return sealed.seal(key, plaintext, sealed.METADATA_LABEL + self._context(record))

    def _open_metadata(self, key: bytes, record: VersionRecord) -> Document:
        plaintext = sealed.open_sealed(
            key, record.sealed_metadata, sealed.METADATA_LABEL + self._context(record)
        )
        fields = json.loads(plaintext)
        metadata = DocumentMetadata(fields["title"], record.category, fields["media_type"])
        return self._document(record, metadata, bytes.fromhex(fields["sha256"]))

    def _document(
        self, record: VersionRecord, metadata: DocumentMetadata, digest: bytes
    ) -> Document:
        return Document(
            dossier_id=record.dossier_id,
            document_id=record.document_id,
            version=record.version,
            metadata=metadata,
            size=record.size,
            sha256=digest,
            created_at=_datetime(record.created_us),
        )

    # -- page tokens -----------------------------------------------------------------

    def _page_token_tag(self, payload: bytes) -> bytes:
        tag = self._keys.blind_index(b"DVLT/v1/page-token\x00" + payload)
        return tag[:_PAGE_TOKEN_TAG_SIZE]

    def _encode_page_token(self, dossier_id: uuid.UUID, cursor: Cursor) -> str:
        payload = _PAGE_TOKEN.pack(
            _PAGE_TOKEN_VERSION, dossier_id.bytes, cursor.created_us, cursor.document_id.bytes
        )
        token = payload + self._page_token_tag(payload)
        return base64.urlsafe_b64encode(token).rstrip(b"=").decode()

    def _decode_page_token(self, dossier_id: uuid.UUID, token: str) -> Cursor | None:
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            raise InvalidArgumentError("malformed page token") from None
        payload, tag = raw[: _PAGE_TOKEN.size], raw[_PAGE_TOKEN.size :]
        if len(payload) != _PAGE_TOKEN.size or not hmac.compare_digest(
            tag, self._page_token_tag(payload)
        ):
            raise InvalidArgumentError("malformed page token")
        version, dossier, created_us, document = _PAGE_TOKEN.unpack(payload)
        if version != _PAGE_TOKEN_VERSION or dossier != dossier_id.bytes:
            raise InvalidArgumentError("page token belongs to another query")
        return Cursor(created_us, uuid.UUID(bytes=document))

    # -- use cases -------------------------------------------------------------------

    def create_dossier(self, actor: Actor, ins_text: str, call: Call) -> Dossier:
        with self._journaled(actor, Action.DOSSIER_CREATE, call) as access:
            patient_index = self._patient_index(parse_ins(ins_text))
            is_holder = self._actor_patient_index(actor) == patient_index
            access.require(Facts(actor.kind, Action.DOSSIER_CREATE, is_holder, None))
            if self._index.dossier_by_patient(patient_index) is not None:
                raise AlreadyExistsError("this patient already has a dossier")
            now_us = _time_us(self._clock.now())
            record = DossierRecord(
                new_id(now_us // 1000), patient_index, DossierState.ACTIVE, now_us, key_version=1
            )
            access.dossier = record.dossier_id
        context = sealed.dossier_key_context(record.dossier_id, 1)
        wrapped = self._keys.wrap(os.urandom(sealed.KEY_SIZE), context)
        self._index.add_dossier(record, DossierKeyRecord(record.dossier_id, 1, wrapped))
        return Dossier(record.dossier_id, record.state, _datetime(record.created_us))

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
        return Dossier(record.dossier_id, record.state, _datetime(record.created_us))

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
        """Starts writing a new document; the caller streams into the returned Upload."""
        with self._journaled(actor, Action.DOCUMENT_WRITE, call) as access:
            dossier = self._dossier(dossier_id, access)
            access.require(self._facts(actor, Action.DOCUMENT_WRITE, dossier))
            validate_metadata(metadata)
            now_us = _time_us(self._clock.now())
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
        dossier_key = self._dossier_key(dossier.dossier_id, dossier.key_version)
        wrapped = sealed.seal(
            dossier_key, document_key, sealed.DOCUMENT_KEY_LABEL + self._context(record)
        )
        return Upload(self, replace(record, wrapped_key=wrapped), document_key, metadata)

    def open_document(
        self, actor: Actor, dossier_id: str, document_id: str, version: int | None, call: Call
    ) -> tuple[Document, Generator[bytes, None, None]]:
        """The document's metadata and its plaintext, segment by segment (authenticated)."""
        with self._journaled(actor, Action.DOCUMENT_READ, call) as access:
            dossier = self._dossier(dossier_id, access)
            document_uuid = parse_id(document_id, "document id")
            access.documents = (document_uuid,)
            access.require(self._facts(actor, Action.DOCUMENT_READ, dossier))
            record = self._index.version(dossier.dossier_id, document_uuid, version)
            if record is None:
                raise NotFoundError("no such document")
        dossier_key = self._dossier_key(record.dossier_id, record.dossier_key_version)
        document = self._open_metadata(dossier_key, record)
        document_key = sealed.open_sealed(
            dossier_key, record.wrapped_key, sealed.DOCUMENT_KEY_LABEL + self._context(record)
        )
        ref = ObjectRef(
            record.dossier_id, record.document_id, record.version, record.dossier_key_version
        )
        return document, self._plaintext(record.blob_key, document_key, ref)

    def _plaintext(
        self, blob_key: str, document_key: bytes, ref: ObjectRef
    ) -> Generator[bytes, None, None]:
        reader = self._blobs.open(blob_key)
        try:
            yield from decrypt_object(document_key, ref, reader.read)
        finally:
            reader.close()

    def list_documents(
        self, actor: Actor, dossier_id: str, page_size: int, page_token: str, call: Call
    ) -> DocumentPage:
        """One page of the dossier's documents at their latest version, newest first."""
        with self._journaled(actor, Action.DOCUMENT_LIST, call) as access:
            dossier = self._dossier(dossier_id, access)
            access.require(self._facts(actor, Action.DOCUMENT_LIST, dossier))
            if not 0 <= page_size <= MAX_PAGE_SIZE:
                raise InvalidArgumentError(f"page size must be between 1 and {MAX_PAGE_SIZE}")
            limit = page_size or DEFAULT_PAGE_SIZE
            cursor = self._decode_page_token(dossier.dossier_id, page_token)
            records = self._index.latest_versions(dossier.dossier_id, limit + 1, cursor)
            page, more = records[:limit], len(records) > limit
            access.documents = tuple(r.document_id for r in page)
        next_token = ""
        if more:
            last = Cursor(page[-1].created_us, page[-1].document_id)
            next_token = self._encode_page_token(dossier.dossier_id, last)
        keys: dict[int, bytes] = {}
        documents = []
        for record in page:
            version = record.dossier_key_version
            if version not in keys:
                keys[version] = self._dossier_key(record.dossier_id, version)
            documents.append(self._open_metadata(keys[version], record))
        return DocumentPage(tuple(documents), next_token)
