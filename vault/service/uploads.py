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
at the header; the finish checks the real size under the dossier row's lock, in the
commit that makes the version visible, against the dossier's running total). Refusals
are RESOURCE_EXHAUSTED, journaled, keep nothing.

The pieces: `upload.py` (the `Upload` that takes the chunks), `upload_terms.py` (quotas,
lease, refusals after the decision). Reading, listing and changing documents once written
is `documents.py`'s.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import replace
from typing import Any

from vault import version_secrets
from vault.blobstore.base import BlobStore
from vault.crypto import sealed
from vault.domain.clock import from_us, to_us
from vault.domain.ids import new_id, new_object_key, parse_id
from vault.domain.model import (
    Actor,
    ActorKind,
    Author,
    DocumentMetadata,
    Replacement,
    Visibility,
)
from vault.domain.policy import Action, DocumentFacts
from vault.domain.validation import validate_metadata
from vault.errors import ConflictError, InvalidArgumentError, NotFoundError
from vault.index.base import DossierKeyRecord, DossierRecord, VersionRecord
from vault.service.gate import Access, Call, Gate
from vault.service.parking import key_hash
from vault.service.resumes import UploadResumes
from vault.service.upload import Prepared, Upload
from vault.service.upload_terms import (
    UploadIndex,
    UploadLease,
    UploadQuota,
    after,
    discard_pending,
    dossier_full,
    refused,
    too_large,
)

__all__ = ["Upload", "UploadIndex", "UploadQuota", "Uploads"]


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
        self.resumes = UploadResumes(gate)

    def begin(
        self,
        actor: Actor,
        dossier_id: str,
        metadata: DocumentMetadata,
        call: Call,
        visibility: Visibility = Visibility.NORMAL,
        replaces: Replacement | None = None,
        declared_size: int | None = None,
        resume_key: bytes | None = None,
    ) -> Upload:
        """Starts writing a new document, or a new version of one (`replaces`); the caller
        streams into the returned Upload. A `declared_size` the quotas cannot hold is
        refused here, before anything is reserved; the upload then holds the client to it.
        With a `resume_key` the upload is resumable (`resumes.py`, docs/adr/0031).

        Only the decision is made here: its journal entry, and the sealed document key
        and pending version row, are recorded in the background while the first chunks
        arrive (`Upload.commit` waits for them before anything becomes visible)."""
        gate = self._gate
        action = Action.DOCUMENT_WRITE if replaces is None else Action.DOCUMENT_REPLACE
        with gate.refusal_journaled(actor, action, call) as access:
            if resume_key is not None:
                self.resumes.lot.require_free(key_hash(resume_key))
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
        lease = UploadLease(self._index, record, self._lease_us, gate.now_us)
        prepared: Future[Prepared]
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
            journaled = self._background.submit(after, prepared, allowed)
        try:
            writer = self._blobs.create(record.blob_key)
        except BaseException:
            discard_pending(self._index, record, journaled, prepared)
            raise
        upload = Upload(
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
            functools.partial(refused, gate, actor, action, call, access),
            self._blobs.delete,
            declared_size,
        )
        if resume_key is not None:
            try:
                self.resumes.register(resume_key, upload, actor)
            except BaseException:
                upload.abort()
                raise
        return upload

    def _check_room(
        self, dossier: DossierRecord, replaced: VersionRecord | None, declared_size: int | None
    ) -> None:
        """Refuses, as far as the header tells, an upload the quotas cannot hold: a new
        document in a full dossier, a declared size past either quota (the dossier's room
        is its live total less the version replaced, if any)."""
        if declared_size is not None and declared_size > self._quota.document_bytes:
            raise too_large(self._quota)
        if declared_size is None and replaced is not None:
            return  # a replacement may free room: its finish decides
        live = self._index.content_size(dossier.dossier_id)
        if replaced is not None:
            live -= replaced.size
        full = replaced is None and live >= self._quota.dossier_bytes  # not even an empty one
        if full or live + (declared_size or 0) > self._quota.dossier_bytes:
            raise dossier_full()

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
    ) -> Prepared:
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
        return Prepared(record, dossier_key)
