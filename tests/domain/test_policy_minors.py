"""A minor's confidential care (CSP L.1111-5) in the pure policy: the representatives'
scope never admits it, an author may declare it, and only the minor (the holder) lifts
it: neither its author, the treating physician nor a representative can."""

from __future__ import annotations

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
from vault.domain.model import Visibility
from vault.domain.policy import DocumentFacts, Facts, Reason, decide

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
