"""A minor's confidential care (CSP L.1111-5) in the pure policy: the representatives'
scope never admits it, an author may declare it, and only the minor (the holder) lifts
it: neither its author, the treating physician nor a representative can."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from tests.domain.test_policy import (
    AUTHORISED,
    HOLDER,
    REPRESENTATIVE,
    TREATING,
    A,
    C,
    K,
    R,
    V,
    facts,
)
from vault.domain.clock import to_us
from vault.domain.majority import coming_of_age, majority_us
from vault.domain.model import DossierState, Visibility
from vault.domain.policy import Action, DocumentFacts, Facts, Reason, Standing, decide

SECRET = V.HIDDEN_FROM_REPRESENTATIVES


def _change(old: Visibility, new: Visibility, *, authored: bool = False) -> DocumentFacts:
    return DocumentFacts(C.REPORTS, old, authored_by_caller=authored, new_visibility=new)


MINORS_TABLE: list[tuple[str, Facts, bool, Reason]] = [
    (
        "minor lifts their secret",
        facts(K.PATIENT, A.DOCUMENT_VISIBILITY, HOLDER, _change(SECRET, V.NORMAL)),
        True,
        R.HOLDER,
    ),
    (
        "minor asks for the secret",
        facts(K.PATIENT, A.DOCUMENT_VISIBILITY, HOLDER, _change(V.NORMAL, SECRET)),
        True,
        R.HOLDER,
    ),
    (
        "author declares the secret",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_VISIBILITY,
            AUTHORISED,
            _change(V.NORMAL, SECRET, authored=True),
        ),
        True,
        R.AUTHORISED,
    ),
    (
        "author lifts the minor's secret",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_VISIBILITY,
            AUTHORISED,
            _change(SECRET, V.NORMAL, authored=True),
        ),
        False,
        R.VISIBILITY_NOT_SETTABLE,
    ),
    (
        "author releases a held-back secret document but keeps the secret",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_VISIBILITY,
            AUTHORISED,
            _change(SECRET | V.HIDDEN_FROM_PATIENT, SECRET, authored=True),
        ),
        True,
        R.AUTHORISED,
    ),
    (
        "author releases a held-back secret document and lifts the secret",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_VISIBILITY,
            AUTHORISED,
            _change(SECRET | V.HIDDEN_FROM_PATIENT, V.NORMAL, authored=True),
        ),
        False,
        R.VISIBILITY_NOT_SETTABLE,
    ),
    (
        "treating physician lifts the minor's secret",
        facts(K.PROFESSIONAL, A.DOCUMENT_VISIBILITY, TREATING, _change(SECRET, V.NORMAL)),
        False,
        R.VISIBILITY_NOT_SETTABLE,
    ),
    (
        "treating physician who wrote it lifts the minor's secret",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_VISIBILITY,
            TREATING,
            _change(SECRET, V.NORMAL, authored=True),
        ),
        False,
        R.VISIBILITY_NOT_SETTABLE,
    ),
    (
        "representative lifts the minor's secret",
        facts(
            K.LEGAL_REPRESENTATIVE, A.DOCUMENT_VISIBILITY, REPRESENTATIVE, _change(SECRET, V.NORMAL)
        ),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "representative reads the minor's secret",
        facts(
            K.LEGAL_REPRESENTATIVE,
            A.DOCUMENT_READ,
            REPRESENTATIVE,
            DocumentFacts(C.REPORTS, SECRET),
        ),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "representative masks a secret document",
        facts(
            K.LEGAL_REPRESENTATIVE,
            A.DOCUMENT_VISIBILITY,
            REPRESENTATIVE,
            _change(SECRET, SECRET | V.MASKED_FROM_PROFESSIONALS),
        ),
        False,
        R.DOCUMENT_HIDDEN,
    ),
]


@pytest.mark.parametrize(
    ("name", "given_facts", "allowed", "reason"),
    MINORS_TABLE,
    ids=[t[0] for t in MINORS_TABLE],
)
def test_minors_secret_decision_table(
    name: str, given_facts: Facts, allowed: bool, reason: Reason
) -> None:
    decision = decide(given_facts)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_only_the_holder_ever_lifts_a_minors_secret() -> None:
    """Over every kind of caller and standing, and every visibility a secret document
    may carry: a change that clears the secret is allowed only to the holder."""
    standings = (HOLDER, REPRESENTATIVE, TREATING, AUTHORISED)
    lifted = 0
    for kind in K:
        for standing in standings:
            for old in range(8):
                for authored in (False, True):
                    before = V(old) | SECRET
                    document = _change(before, before & ~SECRET, authored=authored)
                    decision = decide(facts(kind, A.DOCUMENT_VISIBILITY, standing, document))
                    if decision.allowed:
                        lifted += 1
                        assert decision.reason is R.HOLDER, (kind, standing, before)
    assert lifted > 0


# A representative's rights end at the holder's majority (issue 15, item 3: the policy and
# the date; storing the holder's date of birth is not built yet).
BIRTH = date(2008, 6, 15)
MAJORITY_US = majority_us(BIRTH)
_PARIS = ZoneInfo("Europe/Paris")


def _at(day: date, hour: int = 12) -> int:
    return to_us(datetime.combine(day, time(hour), tzinfo=_PARIS))


def _parent_at(action: Action, now_us: int | None) -> Facts:
    standing = Standing(representative=True, representative_until_us=MAJORITY_US)
    return Facts(K.LEGAL_REPRESENTATIVE, action, DossierState.ACTIVE, standing, now_us)


MAJORITY_TABLE: list[tuple[str, Facts, bool, Reason]] = [
    (
        "representative lists the day before the 18th birthday",
        _parent_at(A.DOCUMENT_LIST, _at(date(2026, 6, 14), 23)),
        True,
        R.REPRESENTATIVE,
    ),
    (
        "representative lists on the 18th birthday",
        _parent_at(A.DOCUMENT_LIST, _at(date(2026, 6, 15), 0)),
        False,
        R.NOT_REPRESENTATIVE,
    ),
    (
        "representative reads the history on the 18th birthday",
        _parent_at(A.JOURNAL_READ, _at(date(2026, 6, 15))),
        False,
        R.NOT_REPRESENTATIVE,
    ),
    (
        "representative asks for closure on the 18th birthday",
        _parent_at(A.DOSSIER_CLOSE, _at(date(2026, 6, 15))),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    (
        "representative asks for closure the day before",
        _parent_at(A.DOSSIER_CLOSE, _at(date(2026, 6, 14))),
        True,
        R.REPRESENTATIVE,
    ),
    (
        "representative of a holder whose majority is known, time unknown",
        _parent_at(A.DOCUMENT_LIST, None),
        False,
        R.NOT_REPRESENTATIVE,
    ),
    (
        "representative with no majority recorded (a protected adult's, or not known)",
        Facts(
            K.LEGAL_REPRESENTATIVE,
            A.DOCUMENT_LIST,
            DossierState.ACTIVE,
            Standing(representative=True),
            _at(date(2040, 1, 1)),
        ),
        True,
        R.REPRESENTATIVE,
    ),
]


@pytest.mark.parametrize(
    ("name", "given_facts", "allowed", "reason"),
    MAJORITY_TABLE,
    ids=[t[0] for t in MAJORITY_TABLE],
)
def test_a_representative_loses_every_right_at_the_holders_majority(
    name: str, given_facts: Facts, allowed: bool, reason: Reason
) -> None:
    decision = decide(given_facts)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_the_majority_falls_at_midnight_in_france_on_the_18th_birthday() -> None:
    assert coming_of_age(BIRTH) == date(2026, 6, 15)
    assert majority_us(BIRTH) == _at(date(2026, 6, 15), 0)
    assert coming_of_age(date(2008, 2, 29)) == date(2026, 3, 1)  # never early
    assert coming_of_age(date(2008, 2, 28)) == date(2026, 2, 28)


def test_every_representative_action_ends_at_majority_and_none_before() -> None:
    """Whatever the action, a representative decided a microsecond before the majority
    gets what a representative gets; at it, what a stranger to the dossier gets."""
    before, at = MAJORITY_US - 1, MAJORITY_US
    stranger = Standing()
    compared = 0
    for action in Action:
        for state in (DossierState.ACTIVE, DossierState.CLOSED):
            parent = Standing(representative=True, representative_until_us=MAJORITY_US)
            minor = decide(Facts(K.LEGAL_REPRESENTATIVE, action, state, parent, before))
            plain = Standing(representative=True)
            assert minor == decide(Facts(K.LEGAL_REPRESENTATIVE, action, state, plain, before))
            adult = decide(Facts(K.LEGAL_REPRESENTATIVE, action, state, parent, at))
            assert adult == decide(Facts(K.LEGAL_REPRESENTATIVE, action, state, stranger, at))
            compared += minor.allowed
    assert compared > 10
