"""The default authorisation matrix: which document categories an authorised (or
emergency) professional reads, per profession, and the specialties that may break the
glass. An operator replaces the matrix (vault/matrix.py reads the file); this module only
holds the default and its types, and decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from vault.domain.model import DocumentCategory

Categories = frozenset[DocumentCategory]
AccessMatrix = Mapping[str, Categories]
"""Profession code -> the document categories an authorised professional may read."""

ALL_CATEGORIES: Categories = frozenset(DocumentCategory)
_CLINICAL = ALL_CATEGORIES - {DocumentCategory.REIMBURSEMENT_HISTORY}
_C = DocumentCategory
_EVERYDAY = frozenset({_C.SYNTHESIS, _C.TREATMENTS_AND_CARE, _C.BIOLOGY, _C.VACCINATION})
DEFAULT_MATRIX: AccessMatrix = {
    "physician": ALL_CATEGORIES,
    "midwife": ALL_CATEGORIES,
    "dentist": _CLINICAL,
    "pharmacist": _EVERYDAY | {_C.PREVENTION},
    "nurse": _EVERYDAY | {_C.PREVENTION, _C.ADVANCE_DIRECTIVES},
    "physiotherapist": frozenset({_C.SYNTHESIS, _C.TREATMENTS_AND_CARE, _C.REPORTS, _C.IMAGING}),
}
EMERGENCY_SPECIALTIES = frozenset({"emergency_medicine", "medical_regulation"})  # SAMU too
EMERGENCY_PROFESSIONS = frozenset({"physician"})
"""The professions whose emergency specialty opens break-the-glass: a specialty claimed
with another profession (a pharmacist "in regulation") opens nothing."""
