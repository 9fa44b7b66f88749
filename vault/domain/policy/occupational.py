"""Occupational physicians (médecins du travail): recognised by the specialty in a
professional token (`occupational_medicine`), whatever else the token says. They get
nothing from an authorisation, a declared consent, the treating physician's standing or
an emergency: only the holder's express grant to them, by RPPS (`Standing.
occupational_until_us`), opens the dossier, and then only what the matrix's
`physician/occupational_medicine` row gives, never a masked document (CSP L.1111-18;
Code du travail L.4624-8). They never record consent nor break the glass.

A token of kind `occupational_physician` is refused everything by `rules.py`, grant or
not: a grant names a professional identified by RPPS. Pure; decides only this.
"""

from __future__ import annotations

from vault.domain.model import Visibility
from vault.domain.policy.codes import Action, Reason
from vault.domain.policy.facts import Facts
from vault.domain.policy.matrix import OCCUPATIONAL_SPECIALTY, AccessMatrix, Rights
from vault.domain.policy.scope import Decision, Scope, deny
from vault.domain.policy.windows import is_open

_UNDER_GRANT = frozenset(
    {Action.DOSSIER_READ, Action.DOCUMENT_READ, Action.DOCUMENT_LIST, Action.DOCUMENT_WRITE}
)


def is_occupational(facts: Facts) -> bool:
    return facts.specialty == OCCUPATIONAL_SPECIALTY


def decide_occupational(facts: Facts, matrix: AccessMatrix) -> Decision:
    """An occupational physician's request: only under an open grant, and only reading,
    listing and writing what their row gives."""
    if not is_open(facts.standing.occupational_until_us, facts.now_us):
        return deny(Reason.NO_OCCUPATIONAL_GRANT)
    if facts.action not in _UNDER_GRANT:
        return deny(Reason.ACTION_NOT_PERMITTED)
    rights: Rights = matrix.rights(facts.profession, facts.specialty)
    scope = Scope(Visibility.MASKED_FROM_PROFESSIONALS, rights.read)
    return Decision(True, Reason.OCCUPATIONAL_GRANT, scope)
