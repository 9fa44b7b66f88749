"""A deceased holder's heirs (issue 15, item 4): the grant an operator records, what it
opens and until when, the holder's objection while alive, and that a dossier closed for
a death is never reopened. The decision table of `policy/heirs.py` and the checks of
`vault/domain/heirs.py`."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.domain.test_lifecycle import A_DAY, CLOSED_ON, RULES, TEN_YEARS_LATER
from vault.domain.heirs import HeirGrant, HeirPurpose, check_expiry, latest_expiry
from vault.domain.lifecycle import Lifecycle, close, reopen
from vault.domain.model import ActorKind, ClosureReason, DocumentCategory, DossierState, Visibility
from vault.domain.policy import Action, DocumentFacts, Facts, Standing, decide
from vault.errors import FailedPreconditionError, InvalidArgumentError

NOW = CLOSED_ON + 30 * A_DAY
UNTIL = NOW + 90 * A_DAY
HEIR = Standing(heir_until_us=UNTIL)
NOBODY = Standing()
DEAD = (DossierState.CLOSED, ClosureReason.DEATH)
REPORT = DocumentFacts(DocumentCategory.REPORTS, deposited_us=CLOSED_ON - 400 * A_DAY)


def _facts(
    kind: ActorKind,
    action: Action,
    state: tuple[DossierState, ClosureReason | None] = DEAD,
    standing: Standing = NOBODY,
    document: DocumentFacts | None = None,
    objection: bool = False,
    now_us: int = NOW,
) -> Facts:
    return Facts(
        kind,
        action,
        state[0],
        standing,
        now_us,
        document=document,
        closure_reason=state[1],
        posthumous_objection=objection,
    )


ROWS = [
    # (name, facts, allowed, reason)
    ("operator grants on a death", _facts(ActorKind.OPERATOR, Action.HEIR_GRANT), True, "operator"),
    (
        "operator grants on a patient's closure",
        _facts(
            ActorKind.OPERATOR,
            Action.HEIR_GRANT,
            (DossierState.CLOSED, ClosureReason.PATIENT_REQUEST),
        ),
        False,
        "not-deceased",
    ),
    (
        "operator grants on an active dossier",
        _facts(ActorKind.OPERATOR, Action.HEIR_GRANT, (DossierState.ACTIVE, None)),
        False,
        "not-deceased",
    ),
    (
        "operator grants though the deceased objected",
        _facts(ActorKind.OPERATOR, Action.HEIR_GRANT, objection=True),
        False,
        "posthumous-objection",
    ),
    (
        "insurer grants heirs' access",
        _facts(ActorKind.INSURER, Action.HEIR_GRANT),
        False,
        "action-not-permitted",
    ),
    (
        "patient grants themself heirs' access",
        _facts(ActorKind.PATIENT, Action.HEIR_GRANT, standing=HEIR),
        False,
        "action-not-permitted",
    ),
    (
        "heir lists the documents",
        _facts(ActorKind.PATIENT, Action.DOCUMENT_LIST, standing=HEIR),
        True,
        "heir",
    ),
    (
        "heir reads a report",
        _facts(ActorKind.PATIENT, Action.DOCUMENT_READ, standing=HEIR, document=REPORT),
        True,
        "heir",
    ),
    (
        "heir reads a masked report",
        _facts(
            ActorKind.PATIENT,
            Action.DOCUMENT_READ,
            standing=HEIR,
            document=replace(REPORT, visibility=Visibility.MASKED_FROM_PROFESSIONALS),
        ),
        False,
        "document-hidden",
    ),
    (
        "heir reads a minor's secret care",
        _facts(
            ActorKind.PATIENT,
            Action.DOCUMENT_READ,
            standing=HEIR,
            document=replace(REPORT, visibility=Visibility.HIDDEN_FROM_REPRESENTATIVES),
        ),
        False,
        "document-hidden",
    ),
    (
        "heir reads what was held back from the deceased, days before the death",
        _facts(
            ActorKind.PATIENT,
            Action.DOCUMENT_READ,
            standing=HEIR,
            document=DocumentFacts(
                DocumentCategory.REPORTS, Visibility.HIDDEN_FROM_PATIENT, deposited_us=NOW - A_DAY
            ),
        ),
        False,
        "document-hidden",
    ),
    (
        "heir reads on the day their access ends",
        _facts(ActorKind.PATIENT, Action.DOCUMENT_LIST, standing=HEIR, now_us=UNTIL),
        False,
        "heir-access-expired",
    ),
    (
        "heir reads the day before their access ends",
        _facts(ActorKind.PATIENT, Action.DOCUMENT_LIST, standing=HEIR, now_us=UNTIL - A_DAY),
        True,
        "heir",
    ),
    (
        "heir takes the patient's copy",
        _facts(ActorKind.PATIENT, Action.DOSSIER_EXPORT, standing=HEIR),
        False,
        "action-not-permitted",
    ),
    (
        "heir reads the access history",
        _facts(ActorKind.PATIENT, Action.JOURNAL_READ, standing=HEIR),
        False,
        "action-not-permitted",
    ),
    (
        "heir deletes a document",
        _facts(ActorKind.PATIENT, Action.DOCUMENT_DELETE, standing=HEIR, document=REPORT),
        False,
        "action-not-permitted",
    ),
    (
        "heir reopens the dossier",
        _facts(ActorKind.PATIENT, Action.DOSSIER_REOPEN, standing=HEIR),
        False,
        "action-not-permitted",
    ),
    (
        "a patient without a grant lists a deceased's documents",
        _facts(ActorKind.PATIENT, Action.DOCUMENT_LIST),
        False,
        "dossier-not-active",
    ),
    (
        "a professional lists a deceased's documents",
        _facts(
            ActorKind.PROFESSIONAL,
            Action.DOCUMENT_LIST,
            standing=Standing(authorised_until_us=UNTIL),
        ),
        False,
        "dossier-not-active",
    ),
    (
        "holder objects while alive",
        _facts(
            ActorKind.PATIENT,
            Action.POSTHUMOUS_OBJECTION,
            (DossierState.ACTIVE, None),
            Standing(holder=True),
        ),
        True,
        "holder",
    ),
    (
        "representative objects for the holder",
        _facts(
            ActorKind.LEGAL_REPRESENTATIVE,
            Action.POSTHUMOUS_OBJECTION,
            (DossierState.ACTIVE, None),
            Standing(representative=True),
        ),
        False,
        "not-holder",
    ),
    (
        "an objection recorded after the death",
        _facts(ActorKind.PATIENT, Action.POSTHUMOUS_OBJECTION, standing=Standing(holder=True)),
        False,
        "dossier-not-active",
    ),
]


@pytest.mark.parametrize(
    ("facts", "allowed", "reason"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_heirs_decision_table(facts: Facts, allowed: bool, reason: str) -> None:
    decision = decide(facts)
    assert (decision.allowed, decision.reason.value) == (allowed, reason)


def test_an_heirs_scope_leaves_out_what_the_deceased_masked_or_kept_secret() -> None:
    scope = decide(_facts(ActorKind.PATIENT, Action.DOCUMENT_LIST, standing=HEIR)).scope
    assert scope.admits(DocumentCategory.REPORTS, Visibility.NORMAL)
    for hidden in (
        Visibility.MASKED_FROM_PROFESSIONALS,
        Visibility.HIDDEN_FROM_REPRESENTATIVES,
        Visibility.HIDDEN_FROM_PATIENT,
    ):
        assert not scope.admits(DocumentCategory.REPORTS, hidden, NOW)
    assert scope.admits(
        DocumentCategory.REPORTS, Visibility.HIDDEN_FROM_PATIENT, CLOSED_ON - 60 * A_DAY
    )


def test_a_dossier_closed_for_a_death_is_never_reopened() -> None:
    dead = close(Lifecycle(), CLOSED_ON, ClosureReason.DEATH, RULES)
    assert dead.destroy_after_us == TEN_YEARS_LATER  # its conservation runs
    with pytest.raises(FailedPreconditionError, match="death"):
        reopen(dead, CLOSED_ON + A_DAY)


@pytest.mark.parametrize(
    ("expires_us", "error"),
    [
        (NOW, InvalidArgumentError),
        (NOW - 1, InvalidArgumentError),
        (NOW + 366 * A_DAY, InvalidArgumentError),
        (NOW + A_DAY, None),
        (NOW + 365 * A_DAY, None),
    ],
    ids=["now", "past", "past-the-maximum", "a-day", "the-maximum"],
)
def test_an_heirs_access_expires_in_the_future_within_the_maximum(
    expires_us: int, error: type[Exception] | None
) -> None:
    dead = close(Lifecycle(), CLOSED_ON, ClosureReason.DEATH, RULES)
    if error is None:
        check_expiry(dead, NOW, expires_us, 365)
    else:
        with pytest.raises(error):
            check_expiry(dead, NOW, expires_us, 365)


def test_an_heirs_access_never_outlasts_the_conservation() -> None:
    dead = close(Lifecycle(), CLOSED_ON, ClosureReason.DEATH, RULES)
    late = TEN_YEARS_LATER - 10 * A_DAY
    check_expiry(dead, late, TEN_YEARS_LATER, 365)
    with pytest.raises(FailedPreconditionError, match="conservation"):
        check_expiry(dead, late, TEN_YEARS_LATER + 1, 365)


def test_the_latest_grant_is_the_one_that_counts() -> None:
    def grant(expires_us: int) -> HeirGrant:
        return HeirGrant(
            dead_id, "ins-hmac:00", HeirPurpose.ASSERT_RIGHTS, "TJ-1", NOW, expires_us, "op", "r"
        )

    import uuid

    dead_id = uuid.uuid4()
    assert latest_expiry([]) is None
    assert latest_expiry([grant(UNTIL), grant(NOW + A_DAY)]) == UNTIL
