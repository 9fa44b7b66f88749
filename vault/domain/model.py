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
    secret_care: bool = False  # a professional in a minor's secret-care context (L.1111-5)
    structure: str | None = None  # a professional's FINESS or SIRET, from the token


class ClosureReason(StrEnum):
    PATIENT_REQUEST = "patient_request"
    DEATH = "death"
    INSURER_SUSPENSION = "insurer_suspension"  # uncontested by the patient
    DELETION_REQUEST = "deletion_request"  # the patient asked for early destruction


class CreationMode(StrEnum):
    """Who opens a dossier for its holder (CSP L.1111-14, as we read it): the holder
    themself, their legal representative (a minor, a protected adult), or someone who
    assists them (a professional, an insurer's office). The dossier is the holder's from
    the first second whoever opened it."""

    OWN = "own"
    FOR_REPRESENTED = "for-represented"  # a legal representative, recorded as such
    ASSISTED = "assisted"  # a professional or the insurer's office, no access kept


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


class Relation(StrEnum):
    """How someone stands towards a dossier, as the dossier records it."""

    AUTHORISED = "authorised"  # a professional the patient authorised (or who recorded consent)
    BLOCKED = "blocked"  # a professional the patient blocked
    TREATING = "treating"  # the treating physician, declared through the insurer
    REPRESENTATIVE = "representative"  # a legal representative
    EMERGENCY = "emergency"  # a break-the-glass window
    SEEN = "seen"  # a professional who has accessed the dossier (first-access notice sent)
    OCCUPATIONAL = "occupational"  # the holder's express grant to an occupational physician


DECLARED_CONSENT = "consent"
"""An authorisation's `detail` when the professional opened it by declaring the patient's
consent at a consultation (a break-the-glass window's `detail` is its reason code)."""


@dataclass(frozen=True, slots=True)
class Relationship:
    """One relation of one subject to a dossier. `subject` names the person as the
    journal does: an RPPS number, or `ins-hmac:...` for a representative. Times are
    Unix microseconds; `detail` is the break-the-glass reason code, or `DECLARED_CONSENT`."""

    dossier_id: uuid.UUID
    relation: Relation
    subject: str
    created_us: int
    expires_us: int | None = None
    profession: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class CareTeam:
    """A care team the patient side let into a dossier (équipe de soins, CSP L.1110-12):
    its `members` are RPPS numbers (11 digits) and structure identifiers, FINESS (9
    characters) or SIRET (14 digits), matched against a professional's token. `name` is
    the patient's label for it, health data (a team's name says what care it gives):
    sealed under the dossier key in the index, never logged. Times in Unix microseconds."""

    dossier_id: uuid.UUID
    team_id: uuid.UUID
    name: str = field(repr=False)
    members: tuple[str, ...]
    created_us: int
    expires_us: int


@dataclass(frozen=True, slots=True)
class MatrixOverride:
    """The patient's override of the authorisation matrix for one professional (`subject`,
    an RPPS number) and one document category: `opened` beyond their row, or closed
    within it (vault/domain/policy/overrides.py). Times are Unix microseconds."""

    dossier_id: uuid.UUID
    subject: str
    category: DocumentCategory
    opened: bool
    created_us: int


@dataclass(frozen=True, slots=True)
class AccessRules:
    """Who stands in which relation to a dossier, the patient's two emergency objections
    (to break-the-glass, and to the SAMU regulator's access) and the care teams let in."""

    entries: tuple[Relationship, ...]
    emergency_refused: bool
    regulation_refused: bool = False
    teams: tuple[CareTeam, ...] = ()
    overrides: tuple[MatrixOverride, ...] = ()  # the patient's overrides of the matrix


class NotificationKind(StrEnum):
    FIRST_ACCESS = "first_access"
    EMERGENCY_ACCESS = "emergency_access"
    RELEASE_NOTICE = "release_notice"  # a held-back document is to be released soon
    DOCUMENT_RELEASED = "released"  # a held-back document's delay ran: released
    BLOCK_LIFTED = "block_lifted"  # a blocked professional became the treating physician
    DOCUMENT_DEPOSITED = "deposited"  # a new document, for a holder who opted in
    REPRESENTATIVE_ENDED = "rights_ended"  # a legal representative's rights ended
    DOSSIER_DELETED = "deleted"  # the holder's deletion request was carried out


DOCUMENT_NOTICES = frozenset(
    {
        NotificationKind.RELEASE_NOTICE,
        NotificationKind.DOCUMENT_RELEASED,
        NotificationKind.DOCUMENT_DEPOSITED,
    }
)
"""The kinds whose `subject` is a document id, not a professional."""


@dataclass(frozen=True, slots=True)
class Notification:
    """What the patient is told: a professional's first access, or an emergency one (its
    `subject` an RPPS number); a held-back document's coming or done release (its
    `subject` the document's id). `notification_id` orders the outbox (0 until stored).
    `recipient`: None for the patient side (the holder's outbox); an RPPS number for a
    copy addressed to a professional (the treating physician, after an emergency access)."""

    dossier_id: uuid.UUID
    kind: NotificationKind
    subject: str
    created_us: int
    request_id: str
    profession: str | None = None
    detail: str | None = None
    notification_id: int = 0
    recipient: str | None = None


@dataclass(frozen=True, slots=True)
class Dossier:
    dossier_id: uuid.UUID
    state: DossierState
    created_at: datetime
    closed_at: datetime | None = None
    closure_reason: ClosureReason | None = None
    destroy_after: datetime | None = None


class DocumentFormat(StrEnum):
    """What a document's bytes are (vault/domain/formats.py maps media types to these)."""

    PDF = "pdf"
    CDA_R2 = "cda_r2"  # HL7 CDA release 2, the DMP's structured documents
    FHIR_JSON = "fhir_json"
    IMAGE = "image"
    TEXT = "text"


class DocumentStatus(StrEnum):
    """Where a version stands in its document's history (XDS: Approved, Deprecated)."""

    CURRENT = "current"  # the document's latest version
    DEPRECATED = "deprecated"  # replaced by a later version; still readable


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote a document version: the writer's kind and, for a professional, their
    RPPS number, profession and specialty (sealed with the metadata: a specialty says
    much about the care). A patient-side author is never named by an INS."""

    kind: ActorKind
    professional_id: str = ""
    profession: str | None = None
    specialty: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentMetadata:
    """What the author says about a document. `title` is health data: never logged.

    `type_code` is the XDS typeCode, LOINC or TRE_A05 (empty: none given); `care_date`
    the date of the care the document records (None: not given); `format` is derived
    from the media type when not declared (vault/domain/formats.py)."""

    title: str = field(repr=False)
    category: DocumentCategory
    media_type: str
    type_code: str = ""
    care_date: datetime | None = None
    format: DocumentFormat | None = None


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
    visibility: Visibility = Visibility.NORMAL
    status: DocumentStatus = DocumentStatus.CURRENT
    author: Author | None = None  # None: stored before authors were recorded


@dataclass(frozen=True, slots=True)
class Replacement:
    """The version a new version replaces: it must still be the document's latest."""

    document_id: str
    version: int


@dataclass(frozen=True, slots=True)
class DocumentQuery:
    """What a search of one dossier's documents keeps: each filter given must match
    (an empty one matches everything). `author` is an RPPS number; the care dates bound
    the date of care, `care_from` included, `care_until` excluded; `document_id` narrows
    the search to one document's versions. No status: current versions only, or, with
    `document_id`, every version (the document's history)."""

    categories: frozenset[DocumentCategory] = frozenset()
    type_codes: frozenset[str] = frozenset()
    author: str | None = None
    care_from: datetime | None = None
    care_until: datetime | None = None
    statuses: frozenset[DocumentStatus] = frozenset()
    document_id: uuid.UUID | None = None

    @property
    def wanted_statuses(self) -> frozenset[DocumentStatus]:
        if self.statuses:
            return self.statuses
        if self.document_id is not None:
            return frozenset(DocumentStatus)
        return frozenset({DocumentStatus.CURRENT})


@dataclass(frozen=True, slots=True)
class DocumentPage:
    documents: tuple[Document, ...]
    next_page_token: str
    # How many versions the query keeps that the caller may see, over all pages (None:
    # not known, e.g. from a server older than the count).
    total: int | None = None


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What a patient copy holds, known before its first byte: its documents, their
    versions (one file each) and the sum of those versions' content sizes (plaintext,
    before the archive's compression)."""

    documents: int
    versions: int
    content_bytes: int
