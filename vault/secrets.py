"""A document version's secrets under its dossier key: its document key and its metadata.

Both are sealed boxes (docs/format.md, "Sealed box v1") whose associated data binds them
to dossier, document, version and dossier key version, with distinct labels so that one
can never be taken for the other. The metadata plaintext is canonical JSON of the title,
media type and plaintext SHA-256: all of it dies with the dossier key.
"""

from __future__ import annotations

import json

from vault.crypto import sealed
from vault.domain.clock import from_us
from vault.domain.model import Document, DocumentMetadata
from vault.errors import IntegrityError
from vault.index.base import VersionRecord


def _context(record: VersionRecord) -> bytes:
    return sealed.document_key_context(
        record.dossier_id, record.document_id, record.version, record.dossier_key_version
    )


def wrap_document_key(dossier_key: bytes, record: VersionRecord, document_key: bytes) -> bytes:
    return sealed.seal(dossier_key, document_key, sealed.DOCUMENT_KEY_LABEL + _context(record))


def unwrap_document_key(dossier_key: bytes, record: VersionRecord) -> bytes:
    return sealed.open_sealed(
        dossier_key, record.wrapped_key, sealed.DOCUMENT_KEY_LABEL + _context(record)
    )


def seal_metadata(
    dossier_key: bytes, record: VersionRecord, metadata: DocumentMetadata, digest: bytes
) -> bytes:
    plaintext = json.dumps(
        {"media_type": metadata.media_type, "sha256": digest.hex(), "title": metadata.title},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    return sealed.seal(dossier_key, plaintext, sealed.METADATA_LABEL + _context(record))


def document(record: VersionRecord, metadata: DocumentMetadata, digest: bytes) -> Document:
    """The caller's view of a stored version."""
    return Document(
        dossier_id=record.dossier_id,
        document_id=record.document_id,
        version=record.version,
        metadata=metadata,
        size=record.size,
        sha256=digest,
        created_at=from_us(record.created_us),
        visibility=record.visibility,
    )


def open_metadata(dossier_key: bytes, record: VersionRecord) -> Document:
    plaintext = sealed.open_sealed(
        dossier_key, record.sealed_metadata, sealed.METADATA_LABEL + _context(record)
    )
    try:
        fields = json.loads(plaintext)
        metadata = DocumentMetadata(fields["title"], record.category, fields["media_type"])
        digest = bytes.fromhex(fields["sha256"])
    except (ValueError, KeyError, TypeError) as e:
        raise IntegrityError("sealed metadata is malformed") from e
    return document(record, metadata, digest)
