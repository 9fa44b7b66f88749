"""The records that cross the index ports: frozen dataclasses, nothing that runs a query.

Dossiers, their wrapped keys, document versions, relations' trail, legal holds and
destructions, as `vault.index.base`'s Protocols speak them. What they mean is the
domain's (vault/domain); how they are stored is the adapter's (vault/index/sql).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from vault.crypto.keyprovider import WrappedKey
from vault.domain.lifecycle import Lifecycle
from vault.domain.model import (
    ClosureReason,
    DocumentCategory,
    DocumentStatus,
    DossierState,
    Relation,
    Visibility,
)


@dataclass(frozen=True, slots=True)
class DossierRecord:
    dossier_id: uuid.UUID
    patient_index: bytes = b""  # blind index of the holder's INS
    created_us: int = 0
    key_version: int = 1
    emergency_refused: bool = False  # the patient objected to break-the-glass
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    regulation_refused: bool = False  # the patient objected to the SAMU regulator's access

    @property
    def state(self) -> DossierState:
        return self.lifecycle.state


@dataclass(frozen=True, slots=True)
class Destruction:
    """A dossier's destruction: its manifest is recorded before anything is destroyed;
    `completed_us` and the signed `certificate` once everything is."""

    dossier_id: uuid.UUID
    reason: ClosureReason | None  # None: the conservation deadline passed
    job_id: str
    started_us: int
    manifest: str  # canonical JSON (retention/manifest.py)
    completed_us: int | None = None
    certificate: str | None = None


@dataclass(frozen=True, slots=True)
class DueSummary:
    """Dossiers due for destruction for one reason: how many, and their stored bytes."""

    reason: str
    dossiers: int
    bytes: int


class OverrideTrail(StrEnum):
    """How the trail (`AccessChange.relation`) names the patient's override of the matrix
    for one professional (`subject`) and one category (`detail`): opened or closed to
    them. Trail only: overrides live in `matrix_overrides`, never in `dossier_access`,
    so these are not `Relation`s."""

    CATEGORY_OPENED = "category-opened"
    CATEGORY_CLOSED = "category-closed"

    @classmethod
    def of(cls, opened: bool) -> OverrideTrail:
        return cls.CATEGORY_OPENED if opened else cls.CATEGORY_CLOSED


@dataclass(frozen=True, slots=True)
class AccessChange:
    """One relation set or removed (`access_changes`, append-only): the trail that the
    current relations do not keep; and each override of the matrix set or removed
    (`OverrideTrail`, the category in `detail`). `request_id` is that of the journal
    entry that decided it."""

    dossier_id: uuid.UUID
    relation: Relation | OverrideTrail
    subject: str
    change: str  # "set" or "removed"
    changed_us: int
    request_id: str
    expires_us: int | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class DossierKeyRecord:
    dossier_id: uuid.UUID
    version: int
    wrapped: WrappedKey


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """One version of a document as stored: everything needed to find and open it."""

    dossier_id: uuid.UUID
    document_id: uuid.UUID
    version: int
    category: DocumentCategory
    created_us: int
    blob_key: str
    dossier_key_version: int
    wrapped_key: bytes  # document key, sealed under the dossier key
    sealed_metadata: bytes  # title, media type, digest, sealed under the dossier key
    size: int = 0
    ciphertext_size: int = 0
    visibility: Visibility = Visibility.NORMAL
    metadata_version: int = 1
    author: str = ""  # as the journal names the writer
    type_code: str = ""  # LOINC or TRE_A05; empty: none given
    care_us: int | None = None  # the date of care
    document_created_us: int = 0  # the document's first version's: its place in listings
    latest_version: int = 0  # the document's, when read from the index (0: unknown)

    @property
    def status(self) -> DocumentStatus:
        if self.version < self.latest_version:
            return DocumentStatus.DEPRECATED
        return DocumentStatus.CURRENT


ManifestBuilder = Callable[[list[VersionRecord], list[int]], str]
"""Version rows and key versions -> the manifest (retention/destroyer.py)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Position after the last version of a page: documents newest first (by their first
    version's time), each document's versions newest first."""

    created_us: int
    document_id: uuid.UUID
    version: int

    @classmethod
    def after(cls, record: VersionRecord) -> Cursor:
        return cls(record.document_created_us, record.document_id, record.version)


@dataclass(frozen=True, slots=True)
class CareTeamRecord:
    """A care team as the index keeps it: its name sealed under dossier key version
    `key_version` (`vault/team_secrets.py`), its members in clear (RPPS numbers, FINESS,
    SIRET: what each professional's request is matched against)."""

    dossier_id: uuid.UUID
    team_id: uuid.UUID
    sealed_name: bytes = field(repr=False)
    key_version: int
    members: tuple[str, ...]
    created_us: int
    expires_us: int
