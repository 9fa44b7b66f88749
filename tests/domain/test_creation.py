"""Who opens a dossier (issue 15, item 5): the holder, their legal representative, or a
professional or the insurer's office assisting them; the mode a request states must be
its caller's. The decision table of `policy/creation.py`."""

from __future__ import annotations

import pytest

from vault.domain.model import ActorKind, CreationMode, DossierState
from vault.domain.policy import Action, Facts, Standing, decide

ROWS = [
    # (name, kind, mode, holder, allowed, reason)
    ("holder opens their own", ActorKind.PATIENT, CreationMode.OWN, True, True, "holder"),
    ("patient opens another's", ActorKind.PATIENT, CreationMode.OWN, False, False, "not-holder"),
    (
        "representative opens a minor's",
        ActorKind.LEGAL_REPRESENTATIVE,
        CreationMode.FOR_REPRESENTED,
        False,
        True,
        "representative",
    ),
    (
        "representative opens as the holder",
        ActorKind.LEGAL_REPRESENTATIVE,
        CreationMode.OWN,
        False,
        False,
        "action-not-permitted",
    ),
    (
        "physician assists",
        ActorKind.PROFESSIONAL,
        CreationMode.ASSISTED,
        False,
        True,
        "assisted-creation",
    ),
    (
        "CPAM agent assists",
        ActorKind.INSURER,
        CreationMode.ASSISTED,
        False,
        True,
        "assisted-creation",
    ),
    (
        "professional opens without saying it assists",
        ActorKind.PROFESSIONAL,
        CreationMode.OWN,
        False,
        False,
        "action-not-permitted",
    ),
    (
        "professional opens as a representative",
        ActorKind.PROFESSIONAL,
        CreationMode.FOR_REPRESENTED,
        False,
        False,
        "action-not-permitted",
    ),
    (
        "patient says they are assisted",
        ActorKind.PATIENT,
        CreationMode.ASSISTED,
        True,
        False,
        "action-not-permitted",
    ),
    (
        "complementary insurer assists",
        ActorKind.COMPLEMENTARY_INSURER,
        CreationMode.ASSISTED,
        False,
        False,
        "actor-never-allowed",
    ),
    (
        "operator assists",
        ActorKind.OPERATOR,
        CreationMode.ASSISTED,
        False,
        False,
        "actor-never-allowed",
    ),
]


@pytest.mark.parametrize(
    ("kind", "mode", "holder", "allowed", "reason"),
    [r[1:] for r in ROWS],
    ids=[r[0] for r in ROWS],
)
def test_creation_decision_table(
    kind: ActorKind, mode: CreationMode, holder: bool, allowed: bool, reason: str
) -> None:
    facts = Facts(kind, Action.DOSSIER_CREATE, None, Standing(holder=holder), creation=mode)
    decision = decide(facts)
    assert (decision.allowed, decision.reason.value) == (allowed, reason)


def test_nobody_creates_a_dossier_that_exists() -> None:
    facts = Facts(
        ActorKind.PROFESSIONAL,
        Action.DOSSIER_CREATE,
        DossierState.ACTIVE,
        creation=CreationMode.ASSISTED,
    )
    assert decide(facts).reason.value == "action-not-permitted"
