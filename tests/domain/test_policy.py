"""The access policy as a decision table, plus invariants over every combination."""

from __future__ import annotations

import itertools

import pytest

from vault.domain.model import ActorKind, DossierState
from vault.domain.policy import Action, Decision, Facts, Reason, decide

A, S = Action, DossierState
ALLOW_HOLDER = Decision(True, Reason.HOLDER)

TABLE = [
    # actor kind, action, is holder, dossier state -> decision
    (ActorKind.PATIENT, A.DOSSIER_CREATE, True, None, ALLOW_HOLDER),
    (ActorKind.PATIENT, A.DOSSIER_CREATE, False, None, Decision(False, Reason.NOT_HOLDER)),
    (ActorKind.PATIENT, A.DOSSIER_READ, True, S.ACTIVE, ALLOW_HOLDER),
    (ActorKind.PATIENT, A.DOCUMENT_WRITE, True, S.ACTIVE, ALLOW_HOLDER),
    (ActorKind.PATIENT, A.DOCUMENT_READ, True, S.ACTIVE, ALLOW_HOLDER),
    (ActorKind.PATIENT, A.DOCUMENT_LIST, True, S.ACTIVE, ALLOW_HOLDER),
    (ActorKind.PATIENT, A.DOCUMENT_READ, False, S.ACTIVE, Decision(False, Reason.NOT_HOLDER)),
    (
        ActorKind.PATIENT,
        A.DOCUMENT_READ,
        True,
        S.CLOSED,
        Decision(False, Reason.DOSSIER_NOT_ACTIVE),
    ),
    (
        ActorKind.PATIENT,
        A.DOCUMENT_WRITE,
        True,
        S.DESTROYED,
        Decision(False, Reason.DOSSIER_NOT_ACTIVE),
    ),
    (
        ActorKind.PROFESSIONAL,
        A.DOCUMENT_READ,
        False,
        S.ACTIVE,
        Decision(False, Reason.NO_AUTHORISATION),
    ),
    (
        ActorKind.LEGAL_REPRESENTATIVE,
        A.DOCUMENT_READ,
        False,
        S.ACTIVE,
        Decision(False, Reason.NO_AUTHORISATION),
    ),
    (
        ActorKind.INSURER,
        A.DOCUMENT_READ,
        False,
        S.ACTIVE,
        Decision(False, Reason.ACTOR_NEVER_ALLOWED),
    ),
    (
        ActorKind.OPERATOR,
        A.DOCUMENT_LIST,
        False,
        S.ACTIVE,
        Decision(False, Reason.ACTOR_NEVER_ALLOWED),
    ),
    (
        ActorKind.AUDITOR,
        A.DOCUMENT_READ,
        False,
        S.ACTIVE,
        Decision(False, Reason.ACTOR_NEVER_ALLOWED),
    ),
]


@pytest.mark.parametrize(("kind", "action", "holder", "state", "expected"), TABLE)
def test_decision_table(
    kind: ActorKind,
    action: Action,
    holder: bool,
    state: DossierState | None,
    expected: Decision,
) -> None:
    assert decide(Facts(kind, action, holder, state)) == expected


JOURNAL_ACTIONS = {Action.JOURNAL_READ, Action.JOURNAL_EXPORT}
ALL_FACTS = [
    Facts(kind, action, holder, state)
    for kind, action, holder, state in itertools.product(
        ActorKind, Action, (True, False), (None, *DossierState)
    )
]
DOSSIER_FACTS = [f for f in ALL_FACTS if f.action not in JOURNAL_ACTIONS]
JOURNAL_FACTS = [f for f in ALL_FACTS if f.action in JOURNAL_ACTIONS]


@pytest.mark.parametrize("facts", DOSSIER_FACTS, ids=str)
def test_only_the_holder_of_an_active_dossier_ever_reaches_it(facts: Facts) -> None:
    decision = decide(facts)
    creating = facts.action is Action.DOSSIER_CREATE  # the dossier's state is moot then
    active = facts.dossier_state is DossierState.ACTIVE or creating
    expected = facts.actor_kind is ActorKind.PATIENT and facts.is_holder and active
    assert decision.allowed is expected
    assert decision.reason in Reason


@pytest.mark.parametrize("facts", JOURNAL_FACTS, ids=str)
def test_the_journal_is_for_auditors_and_the_holder_of_an_active_dossier(facts: Facts) -> None:
    holder_reads = (
        facts.actor_kind is ActorKind.PATIENT
        and facts.action is Action.JOURNAL_READ
        and facts.is_holder
        and facts.dossier_state is DossierState.ACTIVE
    )
    assert decide(facts).allowed is (facts.actor_kind is ActorKind.AUDITOR or holder_reads)


@pytest.mark.parametrize("kind", [ActorKind.INSURER, ActorKind.OPERATOR, ActorKind.AUDITOR])
@pytest.mark.parametrize("action", sorted(set(Action) - JOURNAL_ACTIONS))
def test_insurers_operators_and_auditors_never_read_even_when_claiming_to_hold(
    kind: ActorKind, action: Action
) -> None:
    assert not decide(Facts(kind, action, True, DossierState.ACTIVE)).allowed
