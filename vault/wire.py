"""Mapping between generated protobuf messages and the domain's frozen dataclasses.

With `vault.wire_grants` (care teams, heirs), the only modules besides the server's
handlers and the client that touch `vault.v1`: both edges go through them, so generated
types never leak into the service or the domain.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from vault.domain.ids import parse_id
from vault.domain.lifecycle import LegalHold
from vault.domain.model import (
    DECLARED_CONSENT,
    DOCUMENT_NOTICES,
    ActorKind,
    Author,
    ClosureReason,
    CreationMode,
    Document,
    DocumentCategory,
    DocumentFormat,
    DocumentMetadata,
    DocumentQuery,
    DocumentStatus,
    Dossier,
    DossierState,
    EmergencyReason,
    ExportSummary,
    Notification,
    NotificationKind,
    Relation,
    Relationship,
    Replacement,
    Visibility,
)
from vault.errors import InvalidArgumentError
from vault.journal.chain import JournalEntry, JournalEvent
from vault.v1 import vault_pb2 as pb

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

K = TypeVar("K")
T = TypeVar("T")
E = TypeVar("E", bound=Enum)
P = TypeVar("P", bound=int)


def numbering(
    members: Iterable[E], proto: _EnumTypeWrapper[P], prefix: str
) -> tuple[dict[E, P], dict[P, E]]:
    """Each member's number in the generated enum, where it is named `PREFIX_NAME`, and
    the member each of those numbers stands for."""
    to_proto = {member: proto.Value(f"{prefix}_{member.name}") for member in members}
    return to_proto, {number: member for member, number in to_proto.items()}


_CATEGORY_TO_PROTO, _CATEGORY_FROM_PROTO = numbering(
    DocumentCategory, pb.DocumentCategory, "DOCUMENT_CATEGORY"
)
_STATE_TO_PROTO, _STATE_FROM_PROTO = numbering(DossierState, pb.DossierState, "DOSSIER_STATE")
_CLOSURE_TO_PROTO, _CLOSURE_FROM_PROTO = numbering(
    ClosureReason, pb.ClosureReason, "CLOSURE_REASON"
)
_REASON_TO_PROTO, _REASON_FROM_PROTO = numbering(
    EmergencyReason, pb.EmergencyReason, "EMERGENCY_REASON"
)
_RELATION_TO_PROTO, _RELATION_FROM_PROTO = numbering(
    set(Relation) - {Relation.SEEN}, pb.Relation, "RELATION"
)
_NOTICE_TO_PROTO, _NOTICE_FROM_PROTO = numbering(
    NotificationKind, pb.NotificationKind, "NOTIFICATION_KIND"
)
_FORMAT_TO_PROTO, _FORMAT_FROM_PROTO = numbering(
    DocumentFormat, pb.DocumentFormat, "DOCUMENT_FORMAT"
)
_STATUS_TO_PROTO, _STATUS_FROM_PROTO = numbering(
    DocumentStatus, pb.DocumentStatus, "DOCUMENT_STATUS"
)


def known(table: Mapping[K, T], number: K, what: str) -> T:
    """The member an enum number stands for; a number this version does not know (a
    newer peer, a corrupt message) is an InvalidArgumentError, never a KeyError."""
    member = table.get(number)
    if member is None:
        raise InvalidArgumentError(f"unknown or missing {what}")
    return member


_VISIBILITY_FIELDS = {
    Visibility.MASKED_FROM_PROFESSIONALS: "masked_from_professionals",
    Visibility.HIDDEN_FROM_PATIENT: "hidden_from_patient",
    Visibility.HIDDEN_FROM_REPRESENTATIVES: "hidden_from_representatives",
}


# The range a google.protobuf.Timestamp may hold (its own specification): 0001-01-01 to
# 9999-12-31, nanos 0 to 999,999,999. Outside it, the conversions to a datetime or to
# microseconds fail or give values no column can hold.
MIN_TIMESTAMP_SECONDS = -62_135_596_800
MAX_TIMESTAMP_SECONDS = 253_402_300_799
MAX_NANOS = 999_999_999


def valid_timestamp(stamp: Timestamp) -> bool:
    """Whether `stamp` is within the range its specification allows."""
    return (
        MIN_TIMESTAMP_SECONDS <= stamp.seconds <= MAX_TIMESTAMP_SECONDS
        and 0 <= stamp.nanos <= MAX_NANOS
    )


def timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _moment(message: Message, name: str) -> datetime | None:
    """A Timestamp field as an aware datetime, or None when it is not set."""
    stamp = _optional_timestamp(message, name)
    return None if stamp is None else stamp.ToDatetime(UTC)


def metadata_from_proto(message: pb.DocumentMetadata) -> DocumentMetadata:
    return DocumentMetadata(
        title=message.title,
        category=category_from_proto(message.category),
        media_type=message.media_type,
        type_code=message.type_code,
        care_date=_moment(message, "care_date"),
        format=known(_FORMAT_FROM_PROTO, message.format, "format") if message.format else None,
    )


def metadata_to_proto(metadata: DocumentMetadata) -> pb.DocumentMetadata:
    message = pb.DocumentMetadata(
        title=metadata.title,
        category=_CATEGORY_TO_PROTO[metadata.category],
        media_type=metadata.media_type,
        type_code=metadata.type_code,
    )
    if metadata.care_date is not None:
        message.care_date.CopyFrom(timestamp(metadata.care_date))
    if metadata.format is not None:
        message.format = _FORMAT_TO_PROTO[metadata.format]
    return message


def replacement_from_proto(header: pb.PutDocumentHeader) -> Replacement | None:
    if not header.HasField("replaces"):
        return None
    return Replacement(header.replaces.document_id, header.replaces.version)


def declared_size_from_proto(header: pb.PutDocumentHeader) -> int | None:
    """The content size the client declared, None if it did not."""
    return header.declared_size if header.HasField("declared_size") else None


def resume_key_from_proto(header: pb.PutDocumentHeader) -> bytes | None:
    """The key that makes a new upload resumable, None if it is not (docs/adr/0031)."""
    return header.resume_key or None


def upload_status_to_proto(offset: int, until_us: int) -> pb.UploadStatus:
    return pb.UploadStatus(offset=offset, resumable_until=timestamp_us(until_us))


def replacement_to_proto(replaces: Replacement) -> pb.DocumentVersionRef:
    return pb.DocumentVersionRef(document_id=replaces.document_id, version=replaces.version)


def query_from_proto(request: pb.ListDocumentsRequest) -> DocumentQuery:
    """The search a listing asks for."""
    statuses = frozenset(
        known(_STATUS_FROM_PROTO, number, "document status") for number in request.statuses
    )
    return DocumentQuery(
        categories=frozenset(category_from_proto(c) for c in request.categories),
        type_codes=frozenset(request.type_codes),
        author=request.author or None,
        care_from=_moment(request, "care_from"),
        care_until=_moment(request, "care_until"),
        statuses=statuses,
        document_id=parse_id(request.document_id, "document id") if request.document_id else None,
    )


def query_to_proto(query: DocumentQuery, request: pb.ListDocumentsRequest) -> None:
    """Sets `request`'s filters from `query`."""
    request.categories.extend(_CATEGORY_TO_PROTO[c] for c in sorted(query.categories))
    request.type_codes.extend(sorted(query.type_codes))
    request.author = query.author or ""
    if query.care_from is not None:
        request.care_from.CopyFrom(timestamp(query.care_from))
    if query.care_until is not None:
        request.care_until.CopyFrom(timestamp(query.care_until))
    request.statuses.extend(_STATUS_TO_PROTO[s] for s in sorted(query.statuses))
    request.document_id = "" if query.document_id is None else str(query.document_id)


def export_summary_to_proto(summary: ExportSummary) -> pb.ExportSummary:
    return pb.ExportSummary(
        documents=summary.documents,
        versions=summary.versions,
        content_bytes=summary.content_bytes,
    )


def export_summary_from_proto(message: pb.ExportSummary) -> ExportSummary:
    return ExportSummary(message.documents, message.versions, message.content_bytes)


def visibility_from_proto(message: pb.Visibility) -> Visibility:
    flags = Visibility.NORMAL
    for flag, name in _VISIBILITY_FIELDS.items():
        if getattr(message, name):
            flags |= flag
    return flags


def visibility_to_proto(visibility: Visibility) -> pb.Visibility:
    return pb.Visibility(
        **{name: bool(visibility & flag) for flag, name in _VISIBILITY_FIELDS.items()}
    )


def emergency_reason_from_proto(number: pb.EmergencyReason.ValueType) -> EmergencyReason:
    return known(_REASON_FROM_PROTO, number, "emergency reason")


def emergency_reason_to_proto(reason: EmergencyReason) -> pb.EmergencyReason.ValueType:
    return _REASON_TO_PROTO[reason]


def category_from_proto(number: pb.DocumentCategory.ValueType) -> DocumentCategory:
    return known(_CATEGORY_FROM_PROTO, number, "document category")


def category_to_proto(category: DocumentCategory) -> pb.DocumentCategory.ValueType:
    return _CATEGORY_TO_PROTO[category]


def access_entry_to_proto(entry: Relationship) -> pb.AccessEntry:
    message = pb.AccessEntry(
        relation=_RELATION_TO_PROTO[entry.relation],
        subject=entry.subject,
        created_at=timestamp_us(entry.created_us),
        profession=entry.profession or "",
    )
    if entry.expires_us is not None:
        message.expires_at.CopyFrom(timestamp_us(entry.expires_us))
    if entry.detail == DECLARED_CONSENT:
        message.declared_consent = True
    elif entry.detail is not None:
        message.emergency_reason = _REASON_TO_PROTO[EmergencyReason(entry.detail)]
    return message


def access_entry_from_proto(dossier_id: uuid.UUID, message: pb.AccessEntry) -> Relationship:
    return Relationship(
        dossier_id,
        known(_RELATION_FROM_PROTO, message.relation, "relation"),
        message.subject,
        message.created_at.ToMicroseconds(),
        optional_time_us(message, "expires_at"),
        message.profession or None,
        DECLARED_CONSENT
        if message.declared_consent
        else _optional_reason(message.emergency_reason),
    )


def _optional_reason(number: pb.EmergencyReason.ValueType) -> str | None:
    """An emergency reason code, or None when the field is unset."""
    return emergency_reason_from_proto(number).value if number else None


def notification_to_proto(notice: Notification) -> pb.Notification:
    named = notice.kind in DOCUMENT_NOTICES or notice.kind is NotificationKind.REPRESENTATIVE_ENDED
    return pb.Notification(
        id=notice.notification_id,
        kind=_NOTICE_TO_PROTO[notice.kind],
        time=timestamp_us(notice.created_us),
        professional="" if named else notice.subject,
        document_id=notice.subject if notice.kind in DOCUMENT_NOTICES else "",
        representative=notice.subject
        if notice.kind is NotificationKind.REPRESENTATIVE_ENDED
        else "",
        profession=notice.profession or "",
        emergency_reason=_REASON_TO_PROTO[EmergencyReason(notice.detail)]
        if notice.detail
        else pb.EMERGENCY_REASON_UNSPECIFIED,
        request_id=notice.request_id,
    )


def notification_from_proto(dossier_id: uuid.UUID, message: pb.Notification) -> Notification:
    return Notification(
        dossier_id,
        known(_NOTICE_FROM_PROTO, message.kind, "notification kind"),
        message.document_id or message.representative or message.professional,
        message.time.ToMicroseconds(),
        message.request_id,
        message.profession or None,
        _optional_reason(message.emergency_reason),
        message.id,
    )


def closure_reason_from_proto(number: pb.ClosureReason.ValueType) -> ClosureReason:
    return known(_CLOSURE_FROM_PROTO, number, "closure reason")


def closure_reason_to_proto(reason: ClosureReason) -> pb.ClosureReason.ValueType:
    return _CLOSURE_TO_PROTO[reason]


def dossier_to_proto(dossier: Dossier) -> pb.Dossier:
    message = pb.Dossier(
        dossier_id=str(dossier.dossier_id),
        state=_STATE_TO_PROTO[dossier.state],
        created_at=timestamp(dossier.created_at),
    )
    if dossier.closed_at is not None:
        message.closed_at.CopyFrom(timestamp(dossier.closed_at))
    if dossier.closure_reason is not None:
        message.closure_reason = _CLOSURE_TO_PROTO[dossier.closure_reason]
    if dossier.destroy_after is not None:
        message.destroy_after.CopyFrom(timestamp(dossier.destroy_after))
    return message


def document_to_proto(document: Document) -> pb.Document:
    return pb.Document(
        dossier_id=str(document.dossier_id),
        document_id=str(document.document_id),
        version=document.version,
        metadata=metadata_to_proto(document.metadata),
        size=document.size,
        sha256=document.sha256,
        created_at=timestamp(document.created_at),
        visibility=visibility_to_proto(document.visibility),
        status=_STATUS_TO_PROTO[document.status],
        author=None if document.author is None else _author_to_proto(document.author),
    )


def _author_to_proto(author: Author) -> pb.Author:
    return pb.Author(
        kind=author.kind.value,
        professional_id=author.professional_id,
        profession=author.profession or "",
        specialty=author.specialty or "",
    )


def _author_from_proto(message: pb.Author) -> Author:
    try:
        kind = ActorKind(message.kind)
    except ValueError:
        raise InvalidArgumentError("unknown author kind") from None
    return Author(
        kind, message.professional_id, message.profession or None, message.specialty or None
    )


def legal_hold_to_proto(hold: LegalHold) -> pb.LegalHold:
    return pb.LegalHold(
        hold_id=hold.hold_id,
        dossier_id=str(hold.dossier_id),
        placed_at=timestamp_us(hold.placed_us),
        reason=hold.reason,
        released_at=None if hold.released_us is None else timestamp_us(hold.released_us),
        release_reason=hold.release_reason or "",
    )


def legal_hold_from_proto(message: pb.LegalHold) -> LegalHold:
    """A hold as a client sees it: who placed or released it is not on the wire."""
    return LegalHold(
        hold_id=message.hold_id,
        dossier_id=uuid.UUID(message.dossier_id),
        placed_us=message.placed_at.ToMicroseconds(),
        placed_by="",
        reason=message.reason,
        released_us=optional_time_us(message, "released_at"),
        release_reason=message.release_reason or None,
    )


def dossier_from_proto(message: pb.Dossier) -> Dossier:
    return Dossier(
        dossier_id=uuid.UUID(message.dossier_id),
        state=known(_STATE_FROM_PROTO, message.state, "dossier state"),
        created_at=message.created_at.ToDatetime(UTC),
        closed_at=_moment(message, "closed_at"),
        closure_reason=(
            closure_reason_from_proto(message.closure_reason) if message.closure_reason else None
        ),
        destroy_after=_moment(message, "destroy_after"),
    )


def document_from_proto(message: pb.Document) -> Document:
    return Document(
        dossier_id=uuid.UUID(message.dossier_id),
        document_id=uuid.UUID(message.document_id),
        version=message.version,
        metadata=metadata_from_proto(message.metadata),
        size=message.size,
        sha256=message.sha256,
        created_at=message.created_at.ToDatetime(UTC),
        visibility=visibility_from_proto(message.visibility),
        status=known(_STATUS_FROM_PROTO, message.status, "document status"),
        author=_author_from_proto(message.author) if message.HasField("author") else None,
    )


def timestamp_us(time_us: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMicroseconds(time_us)
    return stamp


def journal_record_to_proto(entry: JournalEntry) -> pb.JournalRecord:
    event = entry.event
    return pb.JournalRecord(
        seq=entry.seq,
        time=timestamp_us(event.time_us),
        actor_kind=event.actor_kind,
        actor_ref=event.actor_ref,
        actor_profession=event.actor_profession or "",
        action=event.action,
        dossier_id=event.dossier or "",
        document_ids=list(event.documents),
        decision=event.decision,
        reason=event.reason,
        emergency=event.emergency,
        request_id=event.request_id,
    )


def journal_record_from_proto(message: pb.JournalRecord) -> tuple[int, JournalEvent]:
    event = JournalEvent(
        time_us=message.time.ToMicroseconds(),
        actor_kind=message.actor_kind,
        actor_ref=message.actor_ref,
        actor_profession=message.actor_profession or None,
        action=message.action,
        dossier=message.dossier_id or None,
        documents=tuple(message.document_ids),
        decision=message.decision,
        reason=message.reason,
        emergency=message.emergency,
        request_id=message.request_id,
    )
    return message.seq, event


def _optional_timestamp(message: Message, name: str) -> Timestamp | None:
    """A Timestamp field, or None when it is not set; InvalidArgumentError when it is out
    of its range."""
    if not message.HasField(name):
        return None
    stamp: Timestamp = getattr(message, name)
    if not valid_timestamp(stamp):
        raise InvalidArgumentError(f"{name} is not a valid timestamp")
    return stamp


def page_size(request: Message) -> int | None:
    """A request's `page_size`, or None when it is not set (the server's default)."""
    return getattr(request, "page_size") if request.HasField("page_size") else None  # noqa: B009


def optional_time_us(message: Message, name: str) -> int | None:
    """A Timestamp field as microseconds, or None when it is not set."""
    stamp = _optional_timestamp(message, name)
    return None if stamp is None else stamp.ToMicroseconds()


# -- creation (issue 15, item 5) ---------------------------------------------------

_MODE_TO_PROTO, _MODE_FROM_PROTO = numbering(CreationMode, pb.CreationMode, "CREATION_MODE")


def creation_mode_from_proto(number: pb.CreationMode.ValueType) -> CreationMode:
    """The mode a request names; unset (0) is the holder's own creation."""
    if number == pb.CREATION_MODE_UNSPECIFIED:
        return CreationMode.OWN
    return known(_MODE_FROM_PROTO, number, "creation mode")


def creation_mode_to_proto(mode: CreationMode) -> pb.CreationMode.ValueType:
    return _MODE_TO_PROTO[mode]
