"""Rows to records and records to rows: the one place that knows both shapes.

Each function maps one table's row (or the columns a query selects, such as
`VERSION_COLUMNS`) to a frozen record of `vault.index.records`, or a record to the
column values an insert takes. No query runs here, no connection is opened; what is
selected and when is each role's module.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from vault.crypto.keyprovider import WrappedKey
from vault.domain.lifecycle import LegalHold, Lifecycle
from vault.domain.model import (
    ClosureReason,
    DocumentCategory,
    DossierState,
    Notification,
    NotificationKind,
    Relation,
    Relationship,
    Visibility,
)
from vault.index.records import (
    AccessChange,
    Destruction,
    DossierKeyRecord,
    DossierRecord,
    OverrideTrail,
    VersionRecord,
)
from vault.index.sql.tables import DOC, K, V

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

VERSION_COLUMNS = (
    DOC.c.dossier_id,
    V.c.document_id,
    V.c.version,
    DOC.c.category,
    V.c.created_us,
    V.c.blob_key,
    V.c.dossier_key_version,
    V.c.wrapped_key,
    V.c.sealed_metadata,
    V.c.size,
    V.c.ciphertext_size,
    DOC.c.visibility,
    DOC.c.metadata_version,
    DOC.c.author,
    V.c.type_code,
    V.c.care_us,
    DOC.c.created_us.label("document_created_us"),
    DOC.c.latest_version,
)
"""The columns `version_record` maps, in its order."""

KEY_COLUMNS = (K.c.dossier_id, K.c.version, K.c.master_version, K.c.wrapped)
"""The columns `key_record` maps."""

R = TypeVar("R", bound="DataclassInstance")

_CATEGORIES = {category.value: category for category in DocumentCategory}
_VISIBILITIES = {int(flags): flags for flags in map(Visibility, range(8))}


def version_record(row: Any) -> VersionRecord:
    """A row of `VERSION_COLUMNS` as a record. Listings map up to a thousand of these
    per request: unpacked by position and enums looked up, about three times faster
    than by name and by constructor."""
    (
        dossier_id,
        document_id,
        version,
        category,
        created_us,
        blob_key,
        dossier_key_version,
        wrapped_key,
        sealed_metadata,
        size,
        ciphertext_size,
        visibility,
        metadata_version,
        author,
        type_code,
        care_us,
        document_created_us,
        latest_version,
    ) = row
    return VersionRecord(
        dossier_id,
        document_id,
        version,
        _CATEGORIES[category],
        created_us,
        blob_key,
        dossier_key_version,
        wrapped_key,
        sealed_metadata,
        size,
        ciphertext_size,
        _VISIBILITIES.get(visibility) or Visibility(visibility),
        metadata_version,
        author,
        type_code or "",
        care_us,
        document_created_us,
        latest_version,
    )


def dossier_record(row: Any) -> DossierRecord:
    state = DossierState(row.state)
    reason = None if row.closure_reason is None else ClosureReason(row.closure_reason)
    lifecycle = Lifecycle(state, row.closed_us, reason, row.destroy_after_us, row.holds)
    return DossierRecord(
        row.id,
        row.patient_index,
        row.created_us,
        row.key_version,
        bool(row.emergency_refused),
        lifecycle,
        bool(row.regulation_refused),
    )


def lifecycle_columns(lifecycle: Lifecycle) -> dict[str, object]:
    reason = lifecycle.closure_reason
    return {
        "state": lifecycle.state.value,
        "closed_us": lifecycle.closed_us,
        "closure_reason": None if reason is None else reason.value,
        "destroy_after_us": lifecycle.destroy_after_us,
    }


def key_record(row: Any) -> DossierKeyRecord:
    """A row of `KEY_COLUMNS` as a record."""
    return DossierKeyRecord(
        row.dossier_id, row.version, WrappedKey(row.master_version, row.wrapped)
    )


def key_row(key: DossierKeyRecord) -> dict[str, object]:
    return {
        "dossier_id": key.dossier_id,
        "version": key.version,
        "master_version": key.wrapped.master_version,
        "wrapped": key.wrapped.blob,
    }


def _record(record_type: type[R], row: Any, /, **columns: object) -> R:
    """A record of `record_type` whose every field is read from the row's column of the same
    name, but for those `columns` gives: converted, or read from a column of another name."""
    names = (field.name for field in fields(record_type))
    return record_type(
        **{name: getattr(row, name) for name in names if name not in columns}, **columns
    )


def _columns(record: DataclassInstance, /, **columns: object) -> dict[str, object]:
    """The column values of a record whose every field is a column of the same name, but
    for those `columns` gives converted."""
    return {field.name: getattr(record, field.name) for field in fields(record)} | columns


def hold_record(row: Any) -> LegalHold:
    return _record(LegalHold, row, hold_id=row.id)


def destruction_record(row: Any) -> Destruction:
    reason = None if row.reason == "deadline" else ClosureReason(row.reason)
    return _record(Destruction, row, reason=reason)


def relationship_record(row: Any) -> Relationship:
    return _record(Relationship, row, relation=Relation(row.relation))


def relationship_row(entry: Relationship) -> dict[str, object]:
    return _columns(entry, relation=entry.relation.value)


_OVERRIDE_TRAIL = frozenset(t.value for t in OverrideTrail)


def access_change_record(row: Any) -> AccessChange:
    trail = row.relation in _OVERRIDE_TRAIL  # an override of the matrix, not a relation
    relation = OverrideTrail(row.relation) if trail else Relation(row.relation)
    return _record(AccessChange, row, relation=relation)


def access_change_row(change: AccessChange) -> dict[str, object]:
    return _columns(change, relation=change.relation.value)


def notification_record(row: Any) -> Notification:
    return _record(Notification, row, kind=NotificationKind(row.kind), notification_id=row.id)


def notification_row(notice: Notification) -> dict[str, object]:
    return {
        "dossier_id": notice.dossier_id,
        "created_us": notice.created_us,
        "kind": notice.kind.value,
        "subject": notice.subject,
        "profession": notice.profession,
        "detail": notice.detail,
        "request_id": notice.request_id,
        "recipient": notice.recipient,
    }
