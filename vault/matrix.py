"""The authorisation matrix from the operator's file: which document categories an
authorised professional of each profession may read.

    # VAULT_ACCESS_MATRIX=/etc/dossier-vault/access-matrix.toml
    [professions]
    physician = ["*"]
    pharmacist = ["synthesis", "treatments_and_care", "biology", "vaccination"]

A profession the file does not list reads nothing (the treating physician, the patient
side and break-the-glass rules are not the matrix's business: see vault/domain/policy/).
This module only reads and checks the file; unset, the policy's `DEFAULT_MATRIX` applies.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from vault.domain.model import DocumentCategory
from vault.domain.policy import AccessMatrix
from vault.errors import ConfigurationError

_EVERY_CATEGORY = "*"


def load_matrix(path: Path) -> AccessMatrix:
    """The matrix in `path`; ConfigurationError, naming the problem, if it is not one."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigurationError(f"cannot read the access matrix {path}: {e}") from None
    professions = document.get("professions")
    if set(document) != {"professions"} or not isinstance(professions, dict):
        raise ConfigurationError(f"{path}: expected one [professions] table and nothing else")
    return {name: _categories(path, name, value) for name, value in professions.items()}


def _categories(path: Path, profession: str, value: object) -> frozenset[DocumentCategory]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"{path}: {profession} must be a list of category names")
    if _EVERY_CATEGORY in value:
        return frozenset(DocumentCategory)
    try:
        return frozenset(DocumentCategory(v) for v in value)
    except ValueError:
        known = ", ".join(c.value for c in DocumentCategory)
        raise ConfigurationError(
            f"{path}: {profession} names an unknown category (known: {known}, or *)"
        ) from None
