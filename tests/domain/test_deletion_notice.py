"""What is left of a dossier destroyed at its holder's request (issue 15, item 6;
vault/domain/policy/deletion.py): its holder reads the notice that it was carried out,
nothing else opens, to anyone."""

from __future__ import annotations

import pytest

from vault.domain.model import ActorKind, DossierState
from vault.domain.policy import NOTHING, Action, Facts, Reason, Standing, decide

HOLDER = Standing(holder=True)

DESTROYED = [  # (case, kind, standing, action, allowed, reason)
    ("holder reads the notice", ActorKind.PATIENT, HOLDER, Action.NOTIFICATIONS_READ, True),
    ("holder lists documents", ActorKind.PATIENT, HOLDER, Action.DOCUMENT_LIST, False),
    ("holder reads the dossier", ActorKind.PATIENT, HOLDER, Action.DOSSIER_READ, False),
    ("holder's history", ActorKind.PATIENT, HOLDER, Action.JOURNAL_READ, False),
    ("holder's copy", ActorKind.PATIENT, HOLDER, Action.DOSSIER_EXPORT, False),
    ("another patient", ActorKind.PATIENT, Standing(), Action.NOTIFICATIONS_READ, False),
    (
        "former representative",
        ActorKind.LEGAL_REPRESENTATIVE,
        Standing(representative=True),
        Action.NOTIFICATIONS_READ,
        False,
    ),
    (
        "former treating physician",
        ActorKind.PROFESSIONAL,
        Standing(treating_physician=True),
        Action.NOTIFICATIONS_READ,
        False,
    ),
]


@pytest.mark.parametrize(
    ("case", "kind", "standing", "action", "allowed"), DESTROYED, ids=[r[0] for r in DESTROYED]
)
def test_destroyed_dossier_decision_table(
    case: str, kind: ActorKind, standing: Standing, action: Action, allowed: bool
) -> None:
    decision = decide(Facts(kind, action, DossierState.DESTROYED, standing, 1))
    expected = Reason.HOLDER if allowed else Reason.DOSSIER_NOT_ACTIVE
    assert (decision.allowed, decision.reason, decision.scope) == (allowed, expected, NOTHING), case
