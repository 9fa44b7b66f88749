"""The index's tables, declared with SQLAlchemy 2.0 typed mappings.

Times are integer microseconds since the Unix epoch (UTC), identical on both backends.
What is in clear and why: docs/security.md.
"""

from __future__ import annotations

import uuid

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class DossierRow(Base):
    __tablename__ = "dossiers"
    __table_args__ = (
        Index(
            "ix_dossiers_due",
            "destroy_after_us",
            postgresql_where=text("state = 'closed' AND holds = 0"),
            sqlite_where=text("state = 'closed' AND holds = 0"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    patient_index: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    created_us: Mapped[int] = mapped_column(BigInteger)
    key_version: Mapped[int] = mapped_column(Integer)
    emergency_refused: Mapped[bool] = mapped_column(Boolean, default=False)
    # The lifecycle (vault/domain/lifecycle.py); the retention job finds due dossiers
    # through the partial index, at a cost that grows with the number due.
    closed_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    closure_reason: Mapped[str | None] = mapped_column(String(24), nullable=True)
    destroy_after_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    holds: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # The SAMU regulator's objection (revision 0008, hence last); the server's default
    # only, so that a server at revision 0007 still creates dossiers.
    regulation_refused: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # The content bytes of the dossier's live versions (each document's latest committed
    # one), kept by the writes that change them (revision 0014): the dossier quota reads
    # it instead of summing the versions on every upload.
    content_bytes: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class DossierKeyRow(Base):
    __tablename__ = "dossier_keys"

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    master_version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


class DocumentRow(Base):
    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_listing", "dossier_id", "created_us", "id"),
        Index("ix_documents_age", "category", "created_us"),  # rolling retention windows
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossiers.id"))
    category: Mapped[str] = mapped_column(String(32))
    created_us: Mapped[int] = mapped_column(BigInteger)
    latest_version: Mapped[int] = mapped_column(Integer)  # 0 until a version is committed
    visibility: Mapped[int] = mapped_column(Integer, default=0)  # model.Visibility flags
    metadata_version: Mapped[int] = mapped_column(Integer, default=1)
    author: Mapped[str] = mapped_column(String(80))  # as the journal names actors


class DocumentVersionRow(Base):
    __tablename__ = "document_versions"
    __table_args__ = (
        Index(  # the sweeper's pending pass reads pending rows only, oldest first
            "ix_document_versions_pending",
            "created_us",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    # pending | committed; a committed version below the document's latest_version is
    # deprecated (replaced), which is derived rather than stored
    status: Mapped[str] = mapped_column(String(16))
    created_us: Mapped[int] = mapped_column(BigInteger)
    blob_key: Mapped[str] = mapped_column(String(32), unique=True)
    dossier_key_version: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_metadata: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)
    ciphertext_size: Mapped[int] = mapped_column(BigInteger)
    # What searches filter on, per version (a replacement may correct them): the LOINC
    # document type code and the date of care, both in clear (docs/security.md).
    type_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    care_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # A pending version's lease: until when its upload is presumed alive (renewed as the
    # chunks arrive). A lapsed reservation may be taken over by the next upload of that
    # version number, and is swept once it lapsed longer ago than the grace period. NULL:
    # reserved by a server older than revision 0006, which never renews; such a row holds
    # one lease from its creation against a takeover, and the sweeper counts from then.
    lease_until_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class DocumentVisibilityRow(Base):
    """Every visibility a document has had: each change is a new metadata version."""

    __tablename__ = "document_visibility"

    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    metadata_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    visibility: Mapped[int] = mapped_column(Integer)
    changed_us: Mapped[int] = mapped_column(BigInteger)
    changed_by: Mapped[str] = mapped_column(String(80))


class DossierAccessRow(Base):
    """Who stands in which relation to a dossier: authorised, blocked, treating
    physician, legal representative, break-the-glass window, already seen."""

    __tablename__ = "dossier_access"

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    relation: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    created_us: Mapped[int] = mapped_column(BigInteger)
    expires_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    profession: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(32), nullable=True)


class AccessChangeRow(Base):
    """Every change of a relation in `dossier_access` (which keeps only the current
    ones), append-only and written in the same transaction: who was authorised, blocked,
    made treating physician or representative, or opened a break-the-glass window, when,
    until when, and by which request (the journal entry with that request id says who
    asked); and the patient's overrides of the matrix (`relation` `category-opened` or
    `category-closed`, the category in `detail`). First accesses (`seen`) are not access
    changes and are not recorded."""

    __tablename__ = "access_changes"
    __table_args__ = (Index("ix_access_changes_dossier", "dossier_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossiers.id"))
    relation: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(80))
    change: Mapped[str] = mapped_column(String(8))  # set | removed
    changed_us: Mapped[int] = mapped_column(BigInteger)
    expires_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    detail: Mapped[str | None] = mapped_column(String(32), nullable=True)
    request_id: Mapped[str] = mapped_column(String(36))


class CareTeamRow(Base):
    """A care team the patient side let into a dossier (docs/access-control.md, "Care
    teams"). Its name is sealed under the dossier key version `key_version`
    (docs/format.md, "Sealed box v1"); a removed team keeps its row (`removed_us`, by
    `removed_request`): the table is its own trail."""

    __tablename__ = "care_teams"
    __table_args__ = (Index("ix_care_teams_dossier", "dossier_id", "created_us"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossiers.id"))
    sealed_name: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int] = mapped_column(Integer)
    created_us: Mapped[int] = mapped_column(BigInteger)
    expires_us: Mapped[int] = mapped_column(BigInteger)
    created_request: Mapped[str] = mapped_column(String(36))
    removed_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    removed_request: Mapped[str | None] = mapped_column(String(36), nullable=True)


class CareTeamMemberRow(Base):
    """A care team's members: RPPS numbers, FINESS or SIRET, looked up by dossier and
    member at each professional's request."""

    __tablename__ = "care_team_members"
    __table_args__ = (Index("ix_care_team_members_lookup", "dossier_id", "member"),)

    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_teams.id"), primary_key=True)
    member: Mapped[str] = mapped_column(String(14), primary_key=True)
    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossiers.id"))


class NotificationRow(Base):
    """The patient's notification outbox, in order."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_dossier", "dossier_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossiers.id"))
    created_us: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(80))
    profession: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(32), nullable=True)
    request_id: Mapped[str] = mapped_column(String(36))
    # None: the patient side's; an RPPS number: a copy for that professional.
    recipient: Mapped[str | None] = mapped_column(String(80), nullable=True)


class LegalHoldRow(Base):
    """Legal holds, kept after release: who placed and released each, when, and why."""

    __tablename__ = "legal_holds"
    __table_args__ = (Index("ix_legal_holds_dossier", "dossier_id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossiers.id"))
    placed_us: Mapped[int] = mapped_column(BigInteger)
    placed_by: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(200))
    released_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    release_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class DestructionRow(Base):
    """A dossier's destruction, from its manifest (what will be destroyed, recorded
    before anything is) to its signed certificate: the tombstone that stays."""

    __tablename__ = "destructions"
    __table_args__ = (
        Index(
            "ix_destructions_unfinished",
            "started_us",
            postgresql_where=text("completed_us IS NULL"),
            sqlite_where=text("completed_us IS NULL"),
        ),
    )

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(24))
    job_id: Mapped[str] = mapped_column(String(36))
    started_us: Mapped[int] = mapped_column(BigInteger)
    manifest: Mapped[str] = mapped_column(Text)
    completed_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    certificate: Mapped[str | None] = mapped_column(Text, nullable=True)


class HeirGrantRow(Base):
    """Heirs' access to a deceased holder's documents (vault/domain/heirs.py): one row per
    grant an operator recorded, kept after it expires (the request it answers, who
    granted it, until when). `heir` names the heir as the journal does (`ins-hmac:`)."""

    __tablename__ = "heir_grants"
    __table_args__ = (Index("ix_heir_grants_dossier_heir", "dossier_id", "heir"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossiers.id"))
    heir: Mapped[str] = mapped_column(String(80))
    purpose: Mapped[str] = mapped_column(String(16))
    request_reference: Mapped[str] = mapped_column(String(200))
    granted_us: Mapped[int] = mapped_column(BigInteger)
    expires_us: Mapped[int] = mapped_column(BigInteger)
    granted_by: Mapped[str] = mapped_column(String(80))
    request_id: Mapped[str] = mapped_column(String(36))


class PosthumousObjectionRow(Base):
    """The holder's objection, recorded while alive, to their heirs' access after their
    death: present while it stands (withdrawing it removes the row; the journal keeps
    both requests)."""

    __tablename__ = "posthumous_objections"

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    recorded_us: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[str] = mapped_column(String(36))


class BirthDateRow(Base):
    """The holder's date of birth, sealed under the dossier key version `key_version`
    (docs/format.md, "Sealed box v1", use "birth date"): when a representative's rights
    end (vault/domain/majority.py). One row per dossier that recorded one."""

    __tablename__ = "birth_dates"

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int] = mapped_column(Integer)


class DeletionReceiptRow(Base):
    """Who held a dossier destroyed at their request (their INS's blind index, as the
    dossier kept it before its tombstone), until when they may read the notice that it
    was carried out (issue 15, item 6; vault/index/receipts.py). Purged by the
    retention job after `kept_until_us`."""

    __tablename__ = "deletion_receipts"

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    patient_index: Mapped[bytes] = mapped_column(LargeBinary(32))
    kept_until_us: Mapped[int] = mapped_column(BigInteger, index=True)


class NotificationPreferenceRow(Base):
    """What the holder asked to be told beyond the notices always sent (issue 15 item 9):
    one row per dossier that set a preference."""

    __tablename__ = "notification_preferences"

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    new_documents: Mapped[bool] = mapped_column(Boolean)
    changed_us: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[str] = mapped_column(String(36))


class MatrixOverrideRow(Base):
    """The patient's overrides of the authorisation matrix (docs/access-control.md, "The
    patient's overrides"): one row per dossier, professional (RPPS) and category, opened
    or closed; clearing one deletes its row (the journal keeps the change)."""

    __tablename__ = "matrix_overrides"

    dossier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    opened: Mapped[bool] = mapped_column(Boolean)
    created_us: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[str] = mapped_column(String(36))
