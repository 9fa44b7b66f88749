"""Writing documents: a new document, or a new version of one, streamed in.

`Uploads.begin` makes the decision and opens the blob writer; the returned `Upload`
takes the chunks and commits them. The document key is sealed and the pending version row
reserved in the background, under a lease, while the first chunks arrive (docs/adr/0007).

Key hierarchy: each document version gets a random 32-byte key sealed under its dossier's
key, bound to its dossier, document, version and dossier key version; its metadata
(title, media type, digest, author) is sealed under the dossier key the same way, so it
dies with it.

Quotas (`UploadQuota`, docs/adr/0026): a version's content may not pass the document
quota (the chunk that would cross it is refused, never buffered), nor a dossier's live
versions the dossier quota (a full dossier, or a declared size that cannot fit, is refused
at the header; the finish checks the real size, as a plain read, then under the dossier
row's lock in the commit). Refusals are RESOURCE_EXHAUSTED, journaled, keep nothing.

Reading, listing and changing documents once written is `documents.py`'s.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass, replace
from typing import Any, NoReturn, Protocol

from vault import version_secrets
from vault.blobstore.base import BlobStore, BlobWriter
from vault.crypto import sealed
from vault.crypto.objectformat import ObjectEncryptor
from vault.domain.clock import from_us, to_us
from vault.domain.ids import new_id, new_object_key, parse_id
from vault.domain.model import (
    Actor,
    ActorKind,
    Author,
    Document,
    DocumentMetadata,
    Replacement,
    Visibility,
)
from vault.domain.policy import Action, DocumentFacts
from vault.domain.validation import validate_metadata
from vault.errors import (
    ConflictError,
    DocumentTooLargeError,
    DossierQuotaExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    VaultError,
)
from vault.index.base import (
    DocumentIndex,
    DossierKeyRecord,
    DossierRecord,
    SweepIndex,
    VersionRecord,
)
from vault.service.gate import Access, Call, Gate, object_ref


def _author(actor: Actor) -> Author:
    """The author of what `actor` writes, as sealed with the metadata."""
    professional_id = actor.subject if actor.kind is ActorKind.PROFESSIONAL else ""
    return Author(actor.kind, professional_id, actor.profession, actor.specialty)


def _inherited(metadata: DocumentMetadata, replaced: VersionRecord) -> DocumentMetadata:
    """A new version's metadata: what the replaced version had in the clear fields the
    writer left out (its type code, its date of care)."""
    care_us = replaced.care_us if metadata.care_date is None else to_us(metadata.care_date)
    return replace(
        metadata,
        type_code=metadata.type_code or replaced.type_code,
        care_date=None if care_us is None else from_us(care_us),
    )


def _next_version(
    replaced: VersionRecord,
    replaces: Replacement,
    metadata: DocumentMetadata,
    visibility: Visibility,
    now_us: int,
) -> VersionRecord:
    """The version that replaces `replaced`: same document, category, visibility and
    author, the next number. The caller names the version it replaces: one it has not
    seen is ABORTED, one that never was NOT_FOUND (the message of a hidden document)."""
    if replaces.version > replaced.version:
        raise NotFoundError("no such document")
    if replaces.version != replaced.version:
        raise ConflictError("the document has a newer version than the one replaced")
    if metadata.category is not replaced.category:
        raise InvalidArgumentError("a new version keeps its document's category")
    if visibility not in (Visibility.NORMAL, replaced.visibility):
        raise InvalidArgumentError(
            "a new version keeps its document's visibility: change it separately"
        )
    return replace(
        replaced,
        version=replaced.version + 1,
        created_us=now_us,
        latest_version=0,
        size=0,
        ciphertext_size=0,
        wrapped_key=b"",
        sealed_metadata=b"",
    )


MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True, slots=True)
class UploadQuota:
    """The most content bytes one document version may hold, and a dossier's live
    versions together (each document's latest; the versions it replaced are not
    counted). The defaults are the settings' (vault/config.py)."""

    document_bytes: int = 1024 * MIB
    dossier_bytes: int = 20 * GIB


class UploadIndex(DocumentIndex, SweepIndex, Protocol):
    """What uploads write: a version's reservation, its renewals, its commit or discard."""


class _UploadLease:
    """An upload's hold on its version number, from its start (`record.created_us`):
    renewed as chunks arrive once a quarter of it has run, so that only an upload that
    stopped sending for three quarters of a lease or more can lose its reservation (to
    the next upload of that number)."""

    def __init__(
        self, index: DocumentIndex, record: VersionRecord, length_us: int, now_us: Callable[[], int]
    ) -> None:
        self._index = index
        self._record = record
        self._length_us = length_us
        self._now_us = now_us
        self.first_until_us = record.created_us + length_us  # what the reservation records
        self._renew_from_us = record.created_us + length_us // 4

    def due(self) -> bool:
        return self._now_us() >= self._renew_from_us

    def renew(self) -> None:
        """Pushes the lease one length ahead; ConflictError if the reservation is gone."""
        now_us = self._now_us()
        if not self._index.renew_reservation(self._record, now_us + self._length_us):
            raise ConflictError(
                "the upload's reservation lapsed and another upload took its version"
            )
        self._renew_from_us = now_us + self._length_us // 4


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


def _refused(
    gate: Gate, actor: Actor, action: Action, call: Call, access: Access, error: VaultError
) -> NoReturn:
    """Journals `error` as the refusal of the upload `access` allowed, then raises it."""
    with gate.refusal_journaled(actor, action, call) as refusal:
        refusal.dossier, refusal.documents = access.dossier, access.documents
        raise error
    raise error  # not reached: the block re-raises it once journaled


def _too_large(quota: UploadQuota) -> DocumentTooLargeError:
    return DocumentTooLargeError(
        f"a document may hold at most {quota.document_bytes} bytes (VAULT_MAX_DOCUMENT_MIB)"
    )


def _dossier_full() -> DossierQuotaExceededError:
    return DossierQuotaExceededError(
        "the dossier's documents would exceed its quota (VAULT_MAX_DOSSIER_GIB)"
    )


def _discard_pending(index: SweepIndex, record: VersionRecord, *jobs: Future[Any]) -> None:
    """Waits for an upload's background jobs to end, then removes its pending row if
    there is one (they may have failed before recording it, or after)."""
    for job in jobs:
        with contextlib.suppress(Exception):  # its error is moot: the upload is abandoned
            job.result()
    index.discard_version(record)


class Upload:
    """A document being written: `write` chunks, then `commit` with the size and SHA-256
    the client computed (or `abort`).

    Created by `Uploads.begin` once the decision is made and the blob writer open.
    Background work runs while the chunks stream in: `prepared` seals the document key
    and records the pending version row, and `journaled` writes the decision's journal
    entry. When the journal is in the index's database they are one job and one
    transaction (docs/adr/0014); otherwise the entry is written after the row (both
    write to the database and the row is needed first).
    `commit` waits for the row before it commits the blob, and for the entry (which had
    the blob's upload to finish) before it makes the version visible: the write order of
    docs/architecture.md. While chunks arrive, `write` renews the row's lease. Nothing is
    visible until `commit` returns; memory holds about two segments. After `commit` or
    `abort` the upload is spent: `abort` becomes a no-op."""

    def __init__(
        self,
        index: UploadIndex,
        writer: BlobWriter,
        record: VersionRecord,
        lease: _UploadLease,
        journaled: Future[Any],
        prepared: Future[_Prepared],
        document_key: bytes,
        metadata: DocumentMetadata,
        author: Author,
        segment_size: int,
        index_write: Callable[[Callable[[], None]], None],
        quota: UploadQuota,
        refuse: Callable[[VaultError], NoReturn],
        delete_blob: Callable[[str], object],
        declared_size: int | None = None,
    ) -> None:
        self._index = index
        self._quota = quota
        self._declared = declared_size
        self._refuse = refuse
        self._delete_blob = delete_blob
        self._received = 0
        self._index_write = index_write
        self._writer = writer
        self._record = record
        self._lease = lease
        self._journaled = journaled
        self._prepared = prepared
        self._metadata = metadata
        self._author = author
        self._digest = hashlib.sha256()
        self._open = True
        self._encryptor = ObjectEncryptor(
            document_key, object_ref(record), writer.write, segment_size=segment_size
        )

    def refuses(self, size: int) -> bool:
        """Whether `write` refuses `size` more bytes (exact once the previous write
        returned): a caller overlapping writes with reads then waits for that write."""
        limit = self._quota.document_bytes if self._declared is None else self._declared
        return self._received + size > min(limit, self._quota.document_bytes)

    def write(self, chunk: bytes) -> None:
        if not self._open:
            raise FailedPreconditionError("the upload is finished")
        if self._received + len(chunk) > self._quota.document_bytes:
            self._refuse(_too_large(self._quota))  # before a byte of it is kept
        if self._declared is not None and self._received + len(chunk) > self._declared:
            self._refuse(InvalidArgumentError("the stream sent more than its declared size"))
        self._received += len(chunk)
        self._keep_reservation()
        self._digest.update(chunk)
        self._encryptor.write(chunk)

    @property
    def buffered(self) -> int:
        """Plaintext received and held back, not sealed yet (at most one segment)."""
        return self._encryptor.buffered

    def _keep_reservation(self) -> None:
        if self._lease.due():
            self._prepared.result()  # the row is reserved (or its failure raised here)
            self._lease.renew()

    def commit(self, expected_size: int, expected_sha256: bytes) -> Document:
        """Stores the document if what arrived is what the client says it sent."""
        if not self._open:
            raise FailedPreconditionError("the upload is finished")
        if (self._encryptor.plaintext_size, self._digest.digest()) != (
            expected_size,
            expected_sha256,
        ):
            raise InvalidArgumentError("the content received does not match its size and digest")
        if self._declared is not None and expected_size != self._declared:
            raise InvalidArgumentError("the content's size is not the size its header declared")
        others = self._index.content_size(self._record.dossier_id)
        if self._record.version > 1:  # the version it replaces will no longer count
            replaced = self._index.version(self._record.dossier_id, self._record.document_id, None)
            others -= 0 if replaced is None else replaced.size
        if others + expected_size > self._quota.dossier_bytes:
            self._refuse(_dossier_full())  # the caller aborts: nothing kept
        self._encryptor.close()
        prepared = self._prepared.result()  # the pending row is recorded
        self._keep_reservation()  # through the wait for the last parts and the entry
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
            sealed_metadata=version_secrets.seal_metadata(
                prepared.dossier_key, prepared.record, self._metadata, digest, self._author
            ),
        )
        try:
            self._index_write(
                functools.partial(self._index.commit_version, record, self._quota.dossier_bytes)
            )
        except DossierQuotaExceededError as error:  # a concurrent upload took the room
            self._release_committed()
            self._refuse(error)
        return version_secrets.document(record, self._metadata, digest, self._author)

    def _release_committed(self) -> None:
        """Removes the pending row, then the blob committed for it (if that fails, the
        blob is an orphan the sweeper removes)."""
        self._index.discard_version(self._record)
        with contextlib.suppress(VaultError):
            self._delete_blob(self._record.blob_key)

    def abort(self) -> None:
        """Discards the blob and the pending row; does nothing once committed or aborted."""
        if self._open:
            self._open = False
            self._writer.abort()
            _discard_pending(self._index, self._record, self._journaled, self._prepared)


class Uploads:
    """Starts uploads: the decision, then the background work of `Upload`."""

    def __init__(
        self,
        gate: Gate,
        *,
        index: UploadIndex,
        blobs: BlobStore,
        background: Executor,
        segment_size: int,
        lease_us: int,
        quota: UploadQuota | None = None,
    ) -> None:
        self._quota = quota or UploadQuota()
        self._gate = gate
        self._index = index
        self._blobs = blobs
        self._background = background
        self._segment_size = segment_size
        self._lease_us = lease_us

    def begin(
        self,
        actor: Actor,
        dossier_id: str,
        metadata: DocumentMetadata,
        call: Call,
        visibility: Visibility = Visibility.NORMAL,
        replaces: Replacement | None = None,
        declared_size: int | None = None,
    ) -> Upload:
        """Starts writing a new document, or a new version of one (`replaces`); the caller
        streams into the returned Upload. A `declared_size` the quotas cannot hold is
        refused here, before anything is reserved; the upload then holds the client to it.

        Only the decision is made here: its journal entry, and the sealed document key
        and pending version row, are recorded in the background while the first chunks
        arrive (`Upload.commit` waits for them before anything becomes visible)."""
        gate = self._gate
        action = Action.DOCUMENT_WRITE if replaces is None else Action.DOCUMENT_REPLACE
        with gate.refusal_journaled(actor, action, call) as access:
            with gate.reads():  # dossier, standing, replaced version, key: one read scope
                dossier = gate.dossier(dossier_id, access)
                now_us = gate.now_us()
                metadata = validate_metadata(metadata, now_us)
                if replaces is None:
                    record = self._new_document(
                        actor, dossier, metadata, visibility, access, now_us
                    )
                else:
                    access.documents = (parse_id(replaces.document_id, "document id"),)
                    replaced = gate.visible_version(actor, action, dossier, access)
                    metadata = _inherited(metadata, replaced)
                    record = _next_version(replaced, replaces, metadata, visibility, now_us)
                wrapped = gate.wrapped_dossier_key(dossier.dossier_id, dossier.key_version)
                self._check_room(dossier, None if replaces is None else replaced, declared_size)
            gate.notify_first_access(actor, dossier, call)
        record = replace(
            record,
            blob_key=new_object_key(),
            dossier_key_version=dossier.key_version,
            type_code=metadata.type_code,
            care_us=None if metadata.care_date is None else to_us(metadata.care_date),
        )
        document_key = os.urandom(sealed.KEY_SIZE)
        lease = _UploadLease(self._index, record, self._lease_us, gate.now_us)
        prepared: Future[_Prepared]
        journaled: Future[Any]
        if gate.journal_joins_index:  # the row and the entry in one durable commit
            allowed_with = functools.partial(gate.journal_allowed_with, actor, action, call, access)
            prepared = journaled = self._background.submit(
                self._prepare, record, wrapped, document_key, lease.first_until_us, allowed_with
            )
        else:
            prepared = self._background.submit(
                self._prepare, record, wrapped, document_key, lease.first_until_us
            )
            allowed = functools.partial(gate.journal_allowed, actor, action, call, access)
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
            lease,
            journaled,
            prepared,
            document_key,
            metadata,
            _author(actor),
            self._segment_size,
            gate.index_write,
            self._quota,
            functools.partial(_refused, gate, actor, action, call, access),
            self._blobs.delete,
            declared_size,
        )

    def _check_room(
        self, dossier: DossierRecord, replaced: VersionRecord | None, declared_size: int | None
    ) -> None:
        """Refuses, as far as the header tells, an upload the quotas cannot hold: a new
        document in a full dossier, a declared size past either quota (the dossier's room
        is its live total less the version replaced, if any)."""
        if declared_size is not None and declared_size > self._quota.document_bytes:
            raise _too_large(self._quota)
        if declared_size is None and replaced is not None:
            return  # a replacement may free room: its finish decides
        live = self._index.content_size(dossier.dossier_id)
        if replaced is not None:
            live -= replaced.size
        full = replaced is None and live >= self._quota.dossier_bytes  # not even an empty one
        if full or live + (declared_size or 0) > self._quota.dossier_bytes:
            raise _dossier_full()

    def _new_document(
        self,
        actor: Actor,
        dossier: DossierRecord,
        metadata: DocumentMetadata,
        visibility: Visibility,
        access: Access,
        now_us: int,
    ) -> VersionRecord:
        """The first version of a new document, if the caller may write it."""
        new = DocumentFacts(metadata.category, visibility)
        access.require(self._gate.facts(actor, Action.DOCUMENT_WRITE, dossier, new))
        document_id = new_id(now_us // 1000)
        access.documents = (document_id,)
        return VersionRecord(
            dossier_id=dossier.dossier_id,
            document_id=document_id,
            version=1,
            category=metadata.category,
            created_us=now_us,
            blob_key="",
            dossier_key_version=0,
            wrapped_key=b"",
            sealed_metadata=b"",
            visibility=visibility,
            author=self._gate.actor_ref(actor),
            document_created_us=now_us,
        )

    def _prepare(
        self,
        record: VersionRecord,
        wrapped: DossierKeyRecord,
        document_key: bytes,
        lease_until_us: int,
        journal_with: Callable[[Callable[[], None]], None] | None = None,
    ) -> _Prepared:
        """Seals the document key under the dossier key; records the pending version row,
        with `journal_with` in the transaction of the decision's journal entry (the entry
        is written even if the reservation is refused, as it is without it)."""
        dossier_key = self._gate.unwrap(wrapped)
        record = replace(
            record, wrapped_key=version_secrets.wrap_document_key(dossier_key, record, document_key)
        )
        reserve = functools.partial(self._index.reserve_version, record, lease_until_us)
        if journal_with is None:
            reserve()
        else:
            journal_with(reserve)
        return _Prepared(record, dossier_key)
