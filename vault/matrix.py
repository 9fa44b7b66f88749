"""The authorisation matrix from the operator's file: for each profession (or
`profession/specialty`), the document categories an authorised professional reads and
writes, and whether the profession may break the glass.

    # VAULT_ACCESS_MATRIX=/etc/dossier-vault/access-matrix.toml
    [professions.physician]
    read = ["*"]
    write = ["synthesis", "reports"]
    emergency = true
    [professions."physician/occupational_medicine"]
    read = ["prevention"]

A row's missing key means nothing (no category, no emergency access). The older form,
`[professions] pharmacist = ["synthesis", ...]`, still loads: the list is what it reads,
it writes every category but the reimbursement history (the behaviour before write
cells existed), and only `physician` may break the glass. A profession the file does not
list reads and writes nothing (the treating physician, the patient side and the author's
own documents are not the matrix's business: see vault/domain/policy/). This module only
reads and checks the file; unset, the policy's `DEFAULT_MATRIX` applies
(docs/examples/access-matrix.toml, the same).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from vault.domain.model import DocumentCategory
from vault.domain.policy import AccessMatrix, Rights
from vault.errors import ConfigurationError

_EVERY_CATEGORY = "*"
_ROW_KEYS = frozenset({"read", "write", "emergency"})
_OLD_FORM_EMERGENCY = "physician"
_CLINICAL = frozenset(DocumentCategory) - {DocumentCategory.REIMBURSEMENT_HISTORY}


def load_matrix(path: Path) -> AccessMatrix:
    """The matrix in `path`; ConfigurationError, naming the problem, if it is not one."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigurationError(f"cannot read the access matrix {path}: {e}") from None
    professions = document.get("professions")
    if set(document) != {"professions"} or not isinstance(professions, dict):
        raise ConfigurationError(f"{path}: expected one [professions] table and nothing else")
    return AccessMatrix({name: _row(path, name, value) for name, value in professions.items()})


def _row(path: Path, profession: str, value: object) -> Rights:
    if isinstance(value, list):  # the older form: what the profession reads
        read = _categories(path, profession, value)
        return Rights(read, _CLINICAL, profession == _OLD_FORM_EMERGENCY)
    if not isinstance(value, dict) or not set(value) <= _ROW_KEYS:
        raise ConfigurationError(
            f"{path}: {profession} must be a table of read, write and emergency"
        )
    emergency = value.get("emergency", False)
    if not isinstance(emergency, bool):
        raise ConfigurationError(f"{path}: {profession}.emergency must be true or false")
    read = _categories(path, profession, value.get("read", []))
    return Rights(read, _categories(path, profession, value.get("write", [])), emergency)


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
