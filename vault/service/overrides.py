"""The patient's overrides of the authorisation matrix, the patient side's use cases:
open a document category to a named professional, close one to them, or let the matrix
decide it again (clear). `AccessControl` exposes them; what an override does is the
policy's (vault/domain/policy/overrides.py), read by the gate for each request
(`Gate._standing`). Each change is decided and journaled through the gate
(`access.category-open`, `-close`, `-clear`) and applied after its allow entry
(ADR 0003); the index records each in the access trail (`access_changes`).
"""

from __future__ import annotations

from collections.abc import Callable

from vault.domain.identifiers import parse_rpps
from vault.domain.model import Actor, DocumentCategory, MatrixOverride
from vault.domain.policy import Action
from vault.errors import NotFoundError
from vault.index.overrides import OverrideIndex
from vault.service.gate import Call, Gate

Category = Callable[[], DocumentCategory]
"""A request's category, parsed when called (inside the decision)."""


class MatrixOverrides:
    """The override use cases, on the gate and the index `AccessControl` holds."""

    def __init__(self, gate: Gate, index: OverrideIndex) -> None:
        self._gate = gate
        self._index = index

    def set(
        self,
        actor: Actor,
        dossier_id: str,
        rpps: str,
        category: Category,
        call: Call,
        *,
        opened: bool,
    ) -> MatrixOverride:
        """Opens (`opened`) or closes `category` to the professional `rpps`, in place of
        any override of theirs for it. The arguments are parsed in the decision: a
        malformed request is journaled as a denial."""
        action = Action.CATEGORY_OPEN if opened else Action.CATEGORY_CLOSE
        with self._gate.on_dossier(actor, dossier_id, action, call) as dossier:
            override = MatrixOverride(
                dossier.dossier_id, parse_rpps(rpps), category(), opened, self._gate.now_us()
            )
        self._index.set_matrix_override(override, call.request_id)
        return override

    def clear(
        self, actor: Actor, dossier_id: str, rpps: str, category: Category, call: Call
    ) -> None:
        """The matrix decides `category` for `rpps` again; NOT_FOUND if no override."""
        with self._gate.on_dossier(actor, dossier_id, Action.CATEGORY_CLEAR, call) as dossier:
            subject, cleared = parse_rpps(rpps), category()
            held = self._index.matrix_overrides(dossier.dossier_id, subject)
            if all(o.category is not cleared for o in held):
                raise NotFoundError("no such override")
        cleared_us, request_id = self._gate.now_us(), call.request_id
        self._index.clear_matrix_override(
            dossier.dossier_id, subject, cleared, cleared_us, request_id
        )
