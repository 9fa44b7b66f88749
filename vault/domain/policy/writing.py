"""The matrix's write cells: a professional writes a new document only in a category
their row gives (`Rights.write`), unless they are the treating physician (`rules.py`
does not ask then). The reimbursement history stays the national insurer's whatever a
row says (`documents.decide_new_document`). Pure; decides only this.
"""

from __future__ import annotations

from vault.domain.policy.codes import Action, Reason
from vault.domain.policy.facts import Facts
from vault.domain.policy.matrix import AccessMatrix
from vault.domain.policy.scope import Decision, deny


def within_write_rights(facts: Facts, matrix: AccessMatrix, decision: Decision) -> Decision:
    """`decision`, or `category-not-writable` for a new document outside the row."""
    document = facts.document
    if facts.action is not Action.DOCUMENT_WRITE or document is None or not decision.allowed:
        return decision
    if document.category not in matrix.rights(facts.profession, facts.specialty).write:
        return deny(Reason.CATEGORY_NOT_WRITABLE)
    return decision
