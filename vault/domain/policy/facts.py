"""What the policy is told about one request: the caller's standing towards the dossier
(`Standing`), the document concerned (`DocumentFacts`) and the request itself (`Facts`).
Plain frozen records: the service gathers them, `rules.decide` reads them; nothing here
decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from vault.domain.model import (
    ActorKind,
    ClosureReason,
    CreationMode,
    DocumentCategory,
    DossierState,
    Visibility,
)
from vault.domain.policy.codes import Action
from vault.domain.policy.matrix import Categories


@dataclass(frozen=True, slots=True)
class Standing:
    """What the dossier records about the caller. Times are Unix microseconds."""

    holder: bool = False
    representative: bool = False
    treating_physician: bool = False
    authorised_until_us: int | None = None
    blocked: bool = False
    emergency_until_us: int | None = None  # a break-the-glass window this caller opened
    emergency_refused: bool = False  # the patient objected to break-the-glass, for everyone
    seen: bool = False  # first access notified already (the service's concern, no rule's)
    representative_until_us: int | None = None  # the holder's majority, when known
    team_until_us: int | None = None  # the latest expiry of the care teams the caller is in
    # Emergencies and occupational health (policy/emergency.py, policy/occupational.py):
    regulation_refused: bool = False  # the patient objected to the SAMU regulator's access
    emergency_regulation: bool = False  # the open window is the regulator's, not a glass
    occupational_until_us: int | None = None  # the holder's express grant (occupational)
    heir_until_us: int | None = None  # a deceased holder's heir: their grant's expiry
    # The patient's overrides of the matrix for this professional (policy/overrides.py):
    opened: Categories = frozenset()  # categories opened to them beyond their row
    closed: Categories = frozenset()  # categories closed to them (wins over opened)


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    """The document a request concerns: an existing one (read, delete, visibility
    change: `new_visibility`), or the one being written (`visibility` requested)."""

    category: DocumentCategory
    visibility: Visibility = Visibility.NORMAL
    authored_by_caller: bool = False
    new_visibility: Visibility | None = None
    deposited_us: int | None = None  # the document's first version; None: unknown


@dataclass(frozen=True, slots=True)
class Facts:
    """What the policy needs to know about one request. Without `now_us` (None), time
    is unknown and no time-bound standing (authorisation, emergency window) is open, and
    no held-back document is released by its delay. `release_months` is that delay (a
    setting, the law's month by default). `target_blocked`: the professional the national
    insurer designates as treating physician is blocked by the patient (the designation
    lifts the block). `caller`: a professional's name as a document's author records it
    (their RPPS), for the author exemption in a listing's scope; None: unknown, none."""

    actor_kind: ActorKind
    action: Action
    dossier_state: DossierState | None  # None: no dossier yet (creation) or none concerned
    standing: Standing = Standing()
    now_us: int | None = None
    profession: str | None = None
    specialty: str | None = None
    document: DocumentFacts | None = None
    release_months: int = 1
    closure_reason: ClosureReason | None = None  # why a closed dossier was closed
    target_blocked: bool = False  # the professional a designation names is blocked
    regulation: bool = False  # a break-the-glass request is the SAMU regulator's access
    posthumous_objection: bool = False  # the holder objected to heirs' access, alive
    creation: CreationMode = CreationMode.OWN  # who opens a dossier (creation only)
    caller: str | None = None  # the caller as the journal and documents' authors name them
    new_majority_us: int | None = None  # the majority a date of birth being set gives
