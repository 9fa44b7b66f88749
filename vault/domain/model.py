"""The dossier and document model as frozen values.

These are what the service hands to its edges: no blob keys, no wrapped keys, no
patient identifier. The index adapter has its own richer records for what it stores.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntFlag, StrEnum


class ActorKind(StrEnum):
    """Who is calling, as asserted by the signed token."""

    PATIENT = "patient"
    LEGAL_REPRESENTATIVE = "legal_representative"
    PROFESSIONAL = "professional"
    INSURER = "insurer"  # the national health insurer (assurance maladie)
    COMPLEMENTARY_INSURER = "complementary_insurer"  # mutuelles: never any access
    OCCUPATIONAL_PHYSICIAN = "occupational_physician"  # médecin du travail: never
    INSURANCE_PHYSICIAN = "insurance_physician"  # médecin d'assurance: never
    OPERATOR = "operator"  # the host's staff: never a document
    AUDITOR = "auditor"  # the journal, never a document


INS_SUBJECT_KINDS = frozenset({ActorKind.PATIENT, ActorKind.LEGAL_REPRESENTATIVE})


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated caller. `subject` is an INS for the kinds in `INS_SUBJECT_KINDS`
    (patients, legal representatives), so it is never shown."""

    kind: ActorKind
    subject: str = field(repr=False)
    profession: str | None = None
    specialty: str | None = None


class DossierState(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"
    DESTROYED = "destroyed"


class DocumentCategory(StrEnum):
    """The DMP's document categories."""

    SYNTHESIS = "synthesis"
    TREATMENTS_AND_CARE = "treatments_and_care"
    REPORTS = "reports"
    IMAGING = "imaging"
    BIOLOGY = "biology"
    PREVENTION = "prevention"
    ADVANCE_DIRECTIVES = "advance_directives"
    VACCINATION = "vaccination"
    REIMBURSEMENT_HISTORY = "reimbursement_history"


class Visibility(IntFlag):
    """A document's visibility codes (stored in clear: every listing filters on them)."""

    NORMAL = 0
    MASKED_FROM_PROFESSIONALS = 1  # MASQUE_PS, set by the patient side
    HIDDEN_FROM_PATIENT = 2  # until an announcement consultation, set by the author
    HIDDEN_FROM_REPRESENTATIVES = 4  # a minor's confidential care


class EmergencyReason(StrEnum):
    """Why a professional breaks the glass: a code, never free text (free text would
    be health data in clear)."""

    VITAL_EMERGENCY = "vital_emergency"
    UNCONSCIOUS_PATIENT = "unconscious_patient"
    SAMU_REGULATION = "samu_regulation"
    URGENT_CARE = "urgent_care"


@dataclass(frozen=True, slots=True)
class Dossier:
    dossier_id: uuid.UUID
    state: DossierState
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DocumentMetadata:
    """What the author says about a document. `title` is health data: never logged."""

    title: str = field(repr=False)
    category: DocumentCategory
    media_type: str


@dataclass(frozen=True, slots=True)
class Document:
    """One stored version of a document, as a caller sees it."""

    dossier_id: uuid.UUID
    document_id: uuid.UUID
    version: int
    metadata: DocumentMetadata
    size: int
    sha256: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DocumentPage:
    documents: tuple[Document, ...]
    next_page_token: str
