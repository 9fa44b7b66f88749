"""A document version's secrets under its dossier key: its document key and its metadata.

Both are sealed boxes (docs/format.md, "Sealed box v1") whose associated data binds them
to dossier, document, version and dossier key version, with distinct labels so that one
can never be taken for the other. The metadata plaintext is canonical JSON of the title,
media type, format, plaintext SHA-256 and the author's kind, profession and specialty
(docs/format.md, "Sealed metadata"): all of it dies with the dossier key. What searches
filter on (category, type code, date of care, author id) is in the index row instead.
"""

from __future__ import annotations

import json

from vault.crypto import sealed
from vault.domain.clock import from_us
from vault.domain.model import (
    ActorKind,
    Author,
    Document,
    DocumentFormat,
    DocumentMetadata,
)
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
    dossier_key: bytes,
    record: VersionRecord,
    metadata: DocumentMetadata,
    digest: bytes,
    author: Author | None,
) -> bytes:
    fields = {
        "author_kind": None if author is None else author.kind.value,
        "author_profession": None if author is None else author.profession,
        "author_specialty": None if author is None else author.specialty,
        "format": None if metadata.format is None else metadata.format.value,
        "media_type": metadata.media_type,
        "sha256": digest.hex(),
        "title": metadata.title,
    }
    plaintext = json.dumps(
        {name: value for name, value in fields.items() if value is not None},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    return sealed.seal(dossier_key, plaintext, sealed.METADATA_LABEL + _context(record))


def document(
    record: VersionRecord, metadata: DocumentMetadata, digest: bytes, author: Author | None
) -> Document:
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
        status=record.status,
        author=author,
    )


def open_metadata(dossier_key: bytes, record: VersionRecord) -> Document:
    plaintext = sealed.open_sealed(
        dossier_key, record.sealed_metadata, sealed.METADATA_LABEL + _context(record)
    )
    try:
        fields = json.loads(plaintext)
        metadata = DocumentMetadata(
            title=fields["title"],
            category=record.category,
            media_type=fields["media_type"],
            type_code=record.type_code,
            care_date=None if record.care_us is None else from_us(record.care_us),
            format=DocumentFormat(fields["format"]) if "format" in fields else None,
        )
        digest = bytes.fromhex(fields["sha256"])
        author = _author(fields, record.author)
    except (ValueError, KeyError, TypeError) as e:
        raise IntegrityError("sealed metadata is malformed") from e
    return document(record, metadata, digest, author)


def _author(fields: dict[str, str], ref: str) -> Author | None:
    """The author as sealed, named by `ref` (the index's author column) if a professional;
    None for metadata sealed before authors were recorded."""
    if "author_kind" not in fields:
        return None
    kind = ActorKind(fields["author_kind"])
    return Author(
        kind,
        ref if kind is ActorKind.PROFESSIONAL else "",
        fields.get("author_profession"),
        fields.get("author_specialty"),
    )
