"""The authorisation matrix's types and its default: for each profession (or a
profession with one specialty, where the specialty changes the rights), the document
categories an authorised professional reads and writes, and whether the profession may
break the glass. An operator replaces the matrix (vault/matrix.py reads the file, whose
default is docs/examples/access-matrix.toml: each cell's source is there). This module
holds the data and how a row is found; it decides nothing (`rules.py` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from vault.domain.model import DocumentCategory

Categories = frozenset[DocumentCategory]

ALL_CATEGORIES: Categories = frozenset(DocumentCategory)
SPECIALTY_SEPARATOR = "/"  # a row for one specialty: "physician/occupational_medicine"


@dataclass(frozen=True, slots=True)
class Rights:
    """One row of the matrix: what a professional of the row reads and writes once they
    may act on a dossier, and whether they may break the glass (`emergency`)."""

    read: Categories = frozenset()
    write: Categories = frozenset()
    emergency: bool = False


NO_RIGHTS = Rights()
"""An unknown profession's: nothing read, nothing written, no emergency access."""


@dataclass(frozen=True, slots=True)
class AccessMatrix:
    """Rows by profession code, or by `profession/specialty` for a specialty whose rights
    differ from its profession's (that row wins over the profession's)."""

    rows: Mapping[str, Rights] = field(default_factory=dict)

    def rights(self, profession: str | None, specialty: str | None = None) -> Rights:
        """The row of a token's profession and specialty; `NO_RIGHTS` if none."""
        if not profession:
            return NO_RIGHTS
        if specialty:
            row = self.rows.get(f"{profession}{SPECIALTY_SEPARATOR}{specialty}")
            if row is not None:
                return row
        return self.rows.get(profession, NO_RIGHTS)


_C = DocumentCategory
_CLINICAL = ALL_CATEGORIES - {_C.REIMBURSEMENT_HISTORY}
_EVERYDAY = frozenset({_C.SYNTHESIS, _C.TREATMENTS_AND_CARE, _C.BIOLOGY, _C.VACCINATION})
_REHABILITATION = frozenset({_C.SYNTHESIS, _C.TREATMENTS_AND_CARE, _C.REPORTS, _C.IMAGING})
_CARE_NOTES = frozenset({_C.TREATMENTS_AND_CARE, _C.REPORTS})
_PARAMEDICAL = frozenset({_C.SYNTHESIS, _C.TREATMENTS_AND_CARE, _C.REPORTS})
DEFAULT_MATRIX = AccessMatrix(
    {
        "physician": Rights(ALL_CATEGORIES, _CLINICAL, emergency=True),
        "physician/occupational_medicine": Rights(
            frozenset({_C.SYNTHESIS, _C.VACCINATION, _C.PREVENTION}), frozenset({_C.PREVENTION})
        ),
        "midwife": Rights(ALL_CATEGORIES, _CLINICAL, emergency=True),
        "dentist": Rights(_CLINICAL, _CLINICAL),
        "pharmacist": Rights(
            _EVERYDAY | {_C.PREVENTION},
            frozenset({_C.TREATMENTS_AND_CARE, _C.REPORTS, _C.VACCINATION, _C.PREVENTION}),
        ),
        "nurse": Rights(
            _EVERYDAY | {_C.PREVENTION, _C.ADVANCE_DIRECTIVES},
            frozenset({_C.TREATMENTS_AND_CARE, _C.REPORTS, _C.VACCINATION, _C.PREVENTION}),
        ),
        "physiotherapist": Rights(_REHABILITATION, _CARE_NOTES),
        "podiatrist": Rights(_REHABILITATION | {_C.BIOLOGY}, _CARE_NOTES),
        "speech_therapist": Rights(_PARAMEDICAL, _CARE_NOTES),
        "orthoptist": Rights(_PARAMEDICAL, _CARE_NOTES),
        "radiographer": Rights(_PARAMEDICAL | {_C.IMAGING}, frozenset({_C.IMAGING})),
        "dietitian": Rights(_PARAMEDICAL | {_C.BIOLOGY}, _CARE_NOTES),
        "occupational_therapist": Rights(_PARAMEDICAL, _CARE_NOTES),
        "psychomotor_therapist": Rights(_PARAMEDICAL, _CARE_NOTES),
    }
)
"""The built-in matrix, equal to docs/examples/access-matrix.toml (a test checks it)."""

REGULATION_SPECIALTY = "medical_regulation"
"""The SAMU regulator's specialty (centre 15): with a profession the matrix allows for
emergency access, it opens the regulator's access, a distinct objection of the patient's."""
OCCUPATIONAL_SPECIALTY = "occupational_medicine"
"""The occupational physician's specialty (médecin du travail), whatever the token kind."""
