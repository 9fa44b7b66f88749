"""Opaque, authenticated page tokens (docs/format.md, "Page tokens"): what a token says,
byte by byte, and the sealing that keeps clients from forging, editing or moving one.

Sealing. A token is base64url (no padding) of `payload || tag`, where
`tag = HMAC-SHA256(index key, "DVLT/v1/page-token\\0" || payload)[:16]` is computed by the
key provider. The payload's first byte (its purpose) says what it is a cursor for, so a
token of one kind of query is refused by another. Anything but a token this vault sealed,
for this query, is INVALID_ARGUMENT.

Payloads. Integers are big-endian; `uuid` is the 16 bytes of the UUID.

Documents, 61 bytes (`DocumentPageToken`)::

    offset size field
         0    1 purpose = 0x01
         1   16 dossier id (uuid)
        17   16 query digest: document_query_digest(the search's filters)
        33    8 document_created_us of the page's last version: when its document's
                first version was written, microseconds since the Unix epoch (int64)
        41   16 document id of the page's last version (uuid)
        57    4 version of the page's last version (uint32)

Journal, 33 bytes (`JournalPageToken`)::

    offset size field
         0    1 purpose = 0x02
         1    8 sequence number of the page's last entry (uint64)
         9    8 last sequence number of the query: the journal's end at its first page (uint64)
        17   16 query digest: journal_query_digest(the filters)

Query digests. A token binds the query it continues by a digest of a canonical encoding
of its filters, `SHA-256(label || encoding)[:16]` (the label's ASCII bytes, NUL included),
with these encodings of values:

- `bool`: one byte, 0x00 or 0x01;
- `int64`: 8 bytes, big-endian, two's complement;
- `string`: its UTF-8 length as a uint32 (big-endian), then its UTF-8 bytes;
- `set`: the count of its strings as a uint32 (big-endian), then each `string`, in
  ascending order of their UTF-8 bytes (no duplicates: a set);
- `optional X`: 0x00 when absent, else 0x01 followed by X.

Documents: label `"DVLT/v1/document-query\\0"`, encoding the concatenation, in this order,
of: `set` of the category values (e.g. "biology"); `set` of the type codes; `optional
string` author (an RPPS number); `optional int64` care_from, in microseconds since the Unix
epoch (`vault.domain.clock.to_us`); `optional int64` care_until, likewise; `set` of the
statuses searched ("current", "deprecated": the defaults applied, see
`DocumentQuery.wanted_statuses`); `optional` 16 bytes of the document id.

Journal: label `"DVLT/v1/journal-query\\0"`, encoding the concatenation, in this order, of:
`optional string` dossier (its canonical UUID text); `optional string` actor_ref; `bool`
emergency_only; `bool` denials_only. The position (`after_seq`) is not part of a query.

This module knows no policy and no storage: whether a caller may run the query, and
the page itself, are the service's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import ClassVar, TypeVar

from vault.crypto.keyprovider import KeyProvider
from vault.domain.clock import to_us
from vault.domain.model import DocumentQuery
from vault.errors import InvalidArgumentError
from vault.index.base import Cursor
from vault.journal.store import EntryFilter

TAG_SIZE = 16
DIGEST_SIZE = 16
_LABEL = b"DVLT/v1/page-token\x00"
_DOCUMENT_QUERY_LABEL = b"DVLT/v1/document-query\x00"
_JOURNAL_QUERY_LABEL = b"DVLT/v1/journal-query\x00"
_UINT32 = struct.Struct(">I")
_INT64 = struct.Struct(">q")


def _prefixed(data: bytes) -> bytes:
    return _UINT32.pack(len(data)) + data


def _string(text: str | None) -> bytes:
    """An `optional string`."""
    return _optional(None if text is None else _prefixed(text.encode()))


def _set(texts: Iterable[str]) -> bytes:
    items = sorted({text.encode() for text in texts})
    return _UINT32.pack(len(items)) + b"".join(_prefixed(item) for item in items)


def _optional(value: bytes | None) -> bytes:
    return b"\x00" if value is None else b"\x01" + value


def _time(moment: datetime | None) -> bytes:
    """An `optional int64` of microseconds."""
    return _optional(None if moment is None else _INT64.pack(to_us(moment)))


def document_query_encoding(query: DocumentQuery) -> bytes:
    """The canonical encoding of a search's filters (module docstring)."""
    return b"".join(
        (
            _set(c.value for c in query.categories),
            _set(query.type_codes),
            _string(query.author),
            _time(query.care_from),
            _time(query.care_until),
            _set(s.value for s in query.wanted_statuses),
            _optional(None if query.document_id is None else query.document_id.bytes),
        )
    )


def journal_query_encoding(where: EntryFilter) -> bytes:
    """The canonical encoding of a journal query's filters, without its position
    (`after_seq`; module docstring)."""
    return b"".join(
        (
            _string(where.dossier),
            _string(where.actor_ref),
            bytes((where.emergency_only, where.denials_only)),
        )
    )


def document_query_digest(query: DocumentQuery) -> bytes:
    """What a document page token binds its search by."""
    encoding = document_query_encoding(query)
    return hashlib.sha256(_DOCUMENT_QUERY_LABEL + encoding).digest()[:DIGEST_SIZE]


def journal_query_digest(where: EntryFilter) -> bytes:
    """What a journal page token binds its query by."""
    encoding = journal_query_encoding(where)
    return hashlib.sha256(_JOURNAL_QUERY_LABEL + encoding).digest()[:DIGEST_SIZE]


def _another_query() -> InvalidArgumentError:
    return InvalidArgumentError("page token belongs to another query")


@dataclass(frozen=True, slots=True)
class DocumentPageToken:
    """Where a search of a dossier's documents goes on: after `cursor`."""

    PURPOSE: ClassVar[int] = 1
    _LAYOUT: ClassVar[struct.Struct] = struct.Struct(">B16s16sq16sI")
    SIZE: ClassVar[int] = _LAYOUT.size

    dossier_id: uuid.UUID
    query_digest: bytes
    cursor: Cursor

    @classmethod
    def after(
        cls, dossier_id: uuid.UUID, query: DocumentQuery, cursor: Cursor
    ) -> DocumentPageToken:
        return cls(dossier_id, document_query_digest(query), cursor)

    def encode(self) -> bytes:
        cursor = self.cursor
        return self._LAYOUT.pack(
            self.PURPOSE,
            self.dossier_id.bytes,
            self.query_digest,
            cursor.created_us,
            cursor.document_id.bytes,
            cursor.version,
        )

    @classmethod
    def decode(cls, payload: bytes) -> DocumentPageToken:
        _, dossier, digest, created_us, document, version = cls._LAYOUT.unpack(payload)
        cursor = Cursor(created_us, uuid.UUID(bytes=document), version)
        return cls(uuid.UUID(bytes=dossier), digest, cursor)

    def resume(self, dossier_id: uuid.UUID, query: DocumentQuery) -> Cursor:
        """The cursor, if this token continues this search of this dossier."""
        if (self.dossier_id, self.query_digest) != (dossier_id, document_query_digest(query)):
            raise _another_query()
        return self.cursor


@dataclass(frozen=True, slots=True)
class JournalPageToken:
    """Where a journal query goes on: after entry `after_seq`, up to `last_seq`."""

    PURPOSE: ClassVar[int] = 2
    _LAYOUT: ClassVar[struct.Struct] = struct.Struct(">BQQ16s")
    SIZE: ClassVar[int] = _LAYOUT.size

    after_seq: int
    last_seq: int
    query_digest: bytes

    @classmethod
    def after(cls, after_seq: int, last_seq: int, where: EntryFilter) -> JournalPageToken:
        return cls(after_seq, last_seq, journal_query_digest(where))

    def encode(self) -> bytes:
        return self._LAYOUT.pack(self.PURPOSE, self.after_seq, self.last_seq, self.query_digest)

    @classmethod
    def decode(cls, payload: bytes) -> JournalPageToken:
        _, after_seq, last_seq, digest = cls._LAYOUT.unpack(payload)
        return cls(after_seq, last_seq, digest)

    def resume(self, where: EntryFilter) -> EntryFilter:
        """The query's next page, if this token continues this query."""
        if self.query_digest != journal_query_digest(where):
            raise _another_query()
        return replace(where, after_seq=self.after_seq)


_Token = TypeVar("_Token", DocumentPageToken, JournalPageToken)


class PageTokens:
    """Seals page tokens, and opens the ones this vault sealed."""

    def __init__(self, keys: KeyProvider) -> None:
        self._keys = keys

    def _tag(self, payload: bytes) -> bytes:
        return self._keys.blind_index(_LABEL + payload)[:TAG_SIZE]

    def seal(self, token: DocumentPageToken | JournalPageToken) -> str:
        payload = token.encode()
        return base64.urlsafe_b64encode(payload + self._tag(payload)).rstrip(b"=").decode()

    def open(self, text: str, kind: type[_Token]) -> _Token:
        """The token of `kind` this vault sealed as `text`, or InvalidArgumentError."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (ValueError, binascii.Error):
            raise InvalidArgumentError("malformed page token") from None
        payload, tag = raw[: kind.SIZE], raw[kind.SIZE :]
        if len(payload) != kind.SIZE or not hmac.compare_digest(tag, self._tag(payload)):
            raise InvalidArgumentError("malformed page token")
        if payload[0] != kind.PURPOSE:
            raise _another_query()
        return kind.decode(payload)
