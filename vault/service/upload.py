"""`Upload`: one document version being written, from its first chunk to its commit.

It hashes and encrypts the chunks as they come (the object format's segments,
docs/format.md), renews its lease, and at the finish checks the client's size and SHA-256,
then commits the blob and makes the version visible, in the write order of
docs/architecture.md, the dossier quota checked in that last step (a refusal there
deletes the blob just committed).

What it does not: decide whether the caller may write (`uploads.py` does, before it
creates an `Upload`), or move messages (the gRPC edge).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any, NoReturn

from vault import version_secrets
from vault.blobstore.base import BlobWriter
from vault.crypto.objectformat import ObjectEncryptor
from vault.domain.model import Author, Document, DocumentMetadata
from vault.errors import (
    DossierQuotaExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    VaultError,
)
from vault.index.base import VersionRecord
from vault.service.gate import object_ref
from vault.service.upload_terms import (
    UploadIndex,
    UploadLease,
    UploadQuota,
    discard_pending,
    too_large,
)


@dataclass(frozen=True, slots=True)
class Prepared:
    """What an upload records in the background: its pending row, and the dossier key
    that seals its document key and metadata."""

    record: VersionRecord
    dossier_key: bytes


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
        lease: UploadLease,
        journaled: Future[Any],
        prepared: Future[Prepared],
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
        self._forget: Callable[[], object] = _nothing  # leaves the resumable uploads' lot
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
            self._refuse(too_large(self._quota))  # before a byte of it is kept
        if self._declared is not None and self._received + len(chunk) > self._declared:
            self._refuse(InvalidArgumentError("the stream sent more than its declared size"))
        self._received += len(chunk)
        self._keep_reservation()
        self._digest.update(chunk)
        self._encryptor.write(chunk)

    @property
    def record(self) -> VersionRecord:
        """The version being written (its pending row, before it is sealed)."""
        return self._record

    @property
    def received(self) -> int:
        """The content bytes taken so far: a resumed stream continues from here."""
        return self._received

    def resumable(self, forget: Callable[[], object]) -> None:
        """Makes the upload resumable: `forget` takes it out of the lot once it is
        committed or aborted (docs/adr/0031)."""
        self._forget = forget

    def park(self) -> int:
        """Renews the lease of an upload whose stream was cut, so that it stays
        resumable for one lease; returns the lease's end (ConflictError if lost)."""
        if not self._open:
            raise FailedPreconditionError("the upload is finished")
        self._prepared.result()  # the row is reserved (or its failure raised here)
        return self._lease.renew()

    def resumed(self, refuse: Callable[[VaultError], NoReturn]) -> None:
        """A new stream continues the upload: its refusals are journaled for the new
        request (`refuse`), and the lease is renewed (ConflictError if lost)."""
        self._refuse = refuse
        self._lease.renew()

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
        # the dossier quota: checked by `commit_version` under the dossier row's lock
        # (a plain read here first cost a read transaction per upload, to spare a blob
        # commit only to the rare upload that finds its dossier full)
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
        self._forget()
        return version_secrets.document(record, self._metadata, digest, self._author)

    def _release_committed(self) -> None:
        """Removes the pending row, then the blob committed for it (if that fails, the
        blob is an orphan the sweeper removes)."""
        self._index.discard_version(self._record)
        with contextlib.suppress(VaultError):
            self._delete_blob(self._record.blob_key)

    def abort(self) -> None:
        """Discards the blob and the pending row; does nothing once committed or aborted."""
        self._forget()
        if self._open:
            self._open = False
            self._writer.abort()
            discard_pending(self._index, self._record, self._journaled, self._prepared)


def _nothing() -> None:
    """An upload that is not resumable has no lot to leave."""
