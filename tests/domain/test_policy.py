"""The DMP's access rules as a decision table, plus invariants checked over an exhaustive
enumeration of facts (every kind, action and state, a representative set of standings,
professions, specialties, documents and visibility changes), each invariant counting
the cases that could break it so that it is known to have met them."""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import cast

import pytest

from vault.domain.clock import to_us
from vault.domain.lifecycle import add_months
from vault.domain.model import ActorKind, ClosureReason, DocumentCategory, DossierState, Visibility
from vault.domain.policy import (
    Action,
    Decision,
    DocumentFacts,
    Facts,
    Reason,
    Standing,
    decide,
)

A, K, S, R, V, C = Action, ActorKind, DossierState, Reason, Visibility, DocumentCategory
NOW = 1_000_000_000
LATER, EARLIER = NOW + 1, NOW - 1
HOLDER = Standing(holder=True)
REPRESENTATIVE = Standing(representative=True)
TREATING = Standing(treating_physician=True)
AUTHORISED = Standing(authorised_until_us=LATER)
EXPIRED = Standing(authorised_until_us=EARLIER)
BLOCKED = Standing(blocked=True)
EMERGENCY = Standing(emergency_until_us=LATER)
NOBODY = Standing()
MASKED = DocumentFacts(C.REPORTS, V.MASKED_FROM_PROFESSIONALS)
REPORT = DocumentFacts(C.REPORTS)
NOT_ANNOUNCED = DocumentFacts(C.REPORTS, V.HIDDEN_FROM_PATIENT)
CONFIDENTIAL = DocumentFacts(C.REPORTS, V.HIDDEN_FROM_REPRESENTATIVES)
REIMBURSEMENT = DocumentFacts(C.REIMBURSEMENT_HISTORY)
AUTHORED = DocumentFacts(C.REPORTS, authored_by_caller=True)


def facts(
    kind: ActorKind,
    action: Action,
    standing: Standing = NOBODY,
    document: DocumentFacts | None = None,
    *,
    state: DossierState | None = S.ACTIVE,
    profession: str | None = None,
    specialty: str | None = None,
) -> Facts:
    if profession is None and kind is K.PROFESSIONAL:
        profession = "physician"
    return Facts(kind, action, state, standing, NOW, profession, specialty, document)


# Each row: the facts, then whether it is allowed and why.
TABLE: list[tuple[str, Facts, bool, Reason]] = [
    # the patient side
    ("holder creates", facts(K.PATIENT, A.DOSSIER_CREATE, HOLDER, state=None), True, R.HOLDER),
    (
        "stranger creates",
        facts(K.PATIENT, A.DOSSIER_CREATE, state=None),
        False,
        R.NOT_HOLDER,
    ),
    (
        "representative creates",
        facts(K.LEGAL_REPRESENTATIVE, A.DOSSIER_CREATE, REPRESENTATIVE, state=None),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    ("holder reads report", facts(K.PATIENT, A.DOCUMENT_READ, HOLDER, REPORT), True, R.HOLDER),
    ("holder reads masked", facts(K.PATIENT, A.DOCUMENT_READ, HOLDER, MASKED), True, R.HOLDER),
    (
        "holder reads unannounced",
        facts(K.PATIENT, A.DOCUMENT_READ, HOLDER, NOT_ANNOUNCED),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    ("stranger reads", facts(K.PATIENT, A.DOCUMENT_READ, NOBODY, REPORT), False, R.NOT_HOLDER),
    (
        "holder of closed dossier",
        facts(K.PATIENT, A.DOCUMENT_READ, HOLDER, REPORT, state=S.CLOSED),
        False,
        R.DOSSIER_NOT_ACTIVE,
    ),
    (
        "holder writes to destroyed",
        facts(K.PATIENT, A.DOCUMENT_WRITE, HOLDER, REPORT, state=S.DESTROYED),
        False,
        R.DOSSIER_NOT_ACTIVE,
    ),
    ("holder authorises", facts(K.PATIENT, A.ACCESS_AUTHORISE, HOLDER), True, R.HOLDER),
    ("holder blocks", facts(K.PATIENT, A.ACCESS_BLOCK, HOLDER), True, R.HOLDER),
    ("holder breaks glass", facts(K.PATIENT, A.BREAK_GLASS, HOLDER), False, R.ACTION_NOT_PERMITTED),
    (
        "holder writes reimbursement",
        facts(K.PATIENT, A.DOCUMENT_WRITE, HOLDER, REIMBURSEMENT),
        False,
        R.CATEGORY_NOT_WRITABLE,
    ),
    (
        "holder masks",
        facts(
            K.PATIENT,
            A.DOCUMENT_VISIBILITY,
            HOLDER,
            DocumentFacts(C.REPORTS, new_visibility=V.MASKED_FROM_PROFESSIONALS),
        ),
        True,
        R.HOLDER,
    ),
    (
        "holder releases unannounced",
        facts(
            K.PATIENT,
            A.DOCUMENT_VISIBILITY,
            HOLDER,
            DocumentFacts(C.REPORTS, V.HIDDEN_FROM_PATIENT, new_visibility=V.NORMAL),
        ),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "representative reads report",
        facts(K.LEGAL_REPRESENTATIVE, A.DOCUMENT_READ, REPRESENTATIVE, REPORT),
        True,
        R.REPRESENTATIVE,
    ),
    (
        "representative reads confidential",
        facts(K.LEGAL_REPRESENTATIVE, A.DOCUMENT_READ, REPRESENTATIVE, CONFIDENTIAL),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "minor reads confidential",
        facts(K.PATIENT, A.DOCUMENT_READ, HOLDER, CONFIDENTIAL),
        True,
        R.HOLDER,
    ),
    (
        "representative unhides confidential",
        facts(
            K.LEGAL_REPRESENTATIVE,
            A.DOCUMENT_VISIBILITY,
            REPRESENTATIVE,
            DocumentFacts(C.REPORTS, new_visibility=V.HIDDEN_FROM_REPRESENTATIVES),
        ),
        False,
        R.VISIBILITY_NOT_SETTABLE,
    ),
    (
        "non-representative",
        facts(K.LEGAL_REPRESENTATIVE, A.DOCUMENT_LIST),
        False,
        R.NOT_REPRESENTATIVE,
    ),
    # the treating physician
    (
        "treating reads masked",
        facts(K.PROFESSIONAL, A.DOCUMENT_READ, TREATING, MASKED),
        True,
        R.TREATING_PHYSICIAN,
    ),
    (
        "treating blocked anyway",
        facts(
            K.PROFESSIONAL, A.DOCUMENT_READ, Standing(treating_physician=True, blocked=True), MASKED
        ),
        True,
        R.TREATING_PHYSICIAN,
    ),
    (
        "treating manages grants",
        facts(K.PROFESSIONAL, A.ACCESS_AUTHORISE, TREATING),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    # other professionals
    (
        "authorised reads report",
        facts(K.PROFESSIONAL, A.DOCUMENT_READ, AUTHORISED, REPORT),
        True,
        R.AUTHORISED,
    ),
    (
        "authorised reads masked",
        facts(K.PROFESSIONAL, A.DOCUMENT_READ, AUTHORISED, MASKED),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "authorised pharmacist reads imaging",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_READ,
            AUTHORISED,
            DocumentFacts(C.IMAGING),
            profession="pharmacist",
        ),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "authorised unknown profession",
        facts(K.PROFESSIONAL, A.DOCUMENT_READ, AUTHORISED, REPORT, profession="astrologer"),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "expired reads",
        facts(K.PROFESSIONAL, A.DOCUMENT_READ, EXPIRED, REPORT),
        False,
        R.AUTHORISATION_EXPIRED,
    ),
    ("unknown reads", facts(K.PROFESSIONAL, A.DOCUMENT_LIST), False, R.NO_AUTHORISATION),
    ("unknown looks up", facts(K.PROFESSIONAL, A.DOSSIER_READ), True, R.PROFESSIONAL_LOOKUP),
    ("unknown records consent", facts(K.PROFESSIONAL, A.CONSENT_RECORD), True, R.CONSENT),
    ("blocked records consent", facts(K.PROFESSIONAL, A.CONSENT_RECORD, BLOCKED), False, R.BLOCKED),
    ("blocked looks up", facts(K.PROFESSIONAL, A.DOSSIER_READ, BLOCKED), False, R.BLOCKED),
    (
        "blocked but authorised",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_READ,
            Standing(authorised_until_us=LATER, blocked=True),
            REPORT,
        ),
        False,
        R.BLOCKED,
    ),
    (
        "author holds back from patient",
        facts(K.PROFESSIONAL, A.DOCUMENT_WRITE, AUTHORISED, NOT_ANNOUNCED),
        True,
        R.AUTHORISED,
    ),
    (
        "professional masks",
        facts(K.PROFESSIONAL, A.DOCUMENT_WRITE, AUTHORISED, MASKED),
        False,
        R.VISIBILITY_NOT_SETTABLE,
    ),
    (
        "author announces",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_VISIBILITY,
            AUTHORISED,
            DocumentFacts(
                C.REPORTS, V.HIDDEN_FROM_PATIENT, authored_by_caller=True, new_visibility=V.NORMAL
            ),
        ),
        True,
        R.AUTHORISED,
    ),
    (
        "non-author announces",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_VISIBILITY,
            AUTHORISED,
            DocumentFacts(C.REPORTS, V.HIDDEN_FROM_PATIENT, new_visibility=V.NORMAL),
        ),
        False,
        R.VISIBILITY_NOT_SETTABLE,
    ),
    (
        "author unmasks",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_VISIBILITY,
            TREATING,
            DocumentFacts(
                C.REPORTS,
                V.MASKED_FROM_PROFESSIONALS,
                authored_by_caller=True,
                new_visibility=V.NORMAL,
            ),
        ),
        False,
        R.VISIBILITY_NOT_SETTABLE,
    ),
    # break-the-glass
    (
        "regulator breaks glass",
        facts(K.PROFESSIONAL, A.BREAK_GLASS, specialty="medical_regulation"),
        True,
        R.EMERGENCY,
    ),
    (
        "cardiologist breaks glass (the matrix allows physicians)",
        facts(K.PROFESSIONAL, A.BREAK_GLASS, specialty="cardiology"),
        True,
        R.EMERGENCY,
    ),
    (
        "glass refused",
        facts(
            K.PROFESSIONAL,
            A.BREAK_GLASS,
            Standing(emergency_refused=True),
            specialty="emergency_medicine",
        ),
        False,
        R.EMERGENCY_REFUSED,
    ),
    (
        "blocked breaks glass",
        facts(K.PROFESSIONAL, A.BREAK_GLASS, BLOCKED, specialty="emergency_medicine"),
        False,
        R.BLOCKED,
    ),
    (
        "emergency reads",
        facts(K.PROFESSIONAL, A.DOCUMENT_READ, EMERGENCY, REPORT),
        True,
        R.EMERGENCY,
    ),
    (
        "emergency reads masked",
        facts(K.PROFESSIONAL, A.DOCUMENT_READ, EMERGENCY, MASKED),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "emergency after window",
        facts(K.PROFESSIONAL, A.DOCUMENT_READ, Standing(emergency_until_us=EARLIER), REPORT),
        False,
        R.NO_AUTHORISATION,
    ),
    (
        "emergency refused meanwhile",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_READ,
            Standing(emergency_until_us=LATER, emergency_refused=True),
            REPORT,
        ),
        False,
        R.NO_AUTHORISATION,
    ),
    # insurers and the rest
    (
        "insurer writes reimbursement",
        facts(K.INSURER, A.DOCUMENT_WRITE, document=REIMBURSEMENT),
        True,
        R.INSURER,
    ),
    (
        "insurer writes report",
        facts(K.INSURER, A.DOCUMENT_WRITE, document=REPORT),
        False,
        R.CATEGORY_NOT_WRITABLE,
    ),
    (
        "insurer reads",
        facts(K.INSURER, A.DOCUMENT_READ, document=REIMBURSEMENT),
        False,
        R.ACTOR_NEVER_ALLOWED,
    ),
    ("insurer lists", facts(K.INSURER, A.DOCUMENT_LIST), False, R.ACTOR_NEVER_ALLOWED),
    ("insurer sets treating", facts(K.INSURER, A.TREATING_PHYSICIAN_SET), True, R.INSURER),
    (
        "patient sets treating",
        facts(K.PATIENT, A.TREATING_PHYSICIAN_SET, HOLDER),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    (
        "complementary insurer",
        facts(K.COMPLEMENTARY_INSURER, A.DOSSIER_READ),
        False,
        R.ACTOR_NEVER_ALLOWED,
    ),
    (
        "occupational physician",
        facts(K.OCCUPATIONAL_PHYSICIAN, A.DOCUMENT_LIST),
        False,
        R.ACTOR_NEVER_ALLOWED,
    ),
    ("operator", facts(K.OPERATOR, A.DOCUMENT_READ, document=REPORT), False, R.ACTOR_NEVER_ALLOWED),
    (
        "auditor reads document",
        facts(K.AUDITOR, A.DOCUMENT_READ, document=REPORT),
        False,
        R.ACTOR_NEVER_ALLOWED,
    ),
    ("auditor exports", facts(K.AUDITOR, A.JOURNAL_EXPORT, state=None), True, R.AUDITOR),
    ("auditor queries", facts(K.AUDITOR, A.JOURNAL_READ, state=None), True, R.AUDITOR),
    ("holder reads history", facts(K.PATIENT, A.JOURNAL_READ, HOLDER), True, R.HOLDER),
    ("holder exports", facts(K.PATIENT, A.JOURNAL_EXPORT, HOLDER), False, R.ACTOR_NEVER_ALLOWED),
    (
        "patient reads whole journal",
        facts(K.PATIENT, A.JOURNAL_READ, state=None),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    (
        "professional reads history",
        facts(K.PROFESSIONAL, A.JOURNAL_READ, TREATING),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    # the lifecycle
    ("holder closes", facts(K.PATIENT, A.DOSSIER_CLOSE, HOLDER), True, R.HOLDER),
    (
        "representative closes",
        facts(K.LEGAL_REPRESENTATIVE, A.DOSSIER_CLOSE, REPRESENTATIVE),
        True,
        R.REPRESENTATIVE,
    ),
    (
        "holder closes closed",
        facts(K.PATIENT, A.DOSSIER_CLOSE, HOLDER, state=S.CLOSED),
        False,
        R.DOSSIER_NOT_ACTIVE,
    ),
    (
        "treating closes",
        facts(K.PROFESSIONAL, A.DOSSIER_CLOSE, TREATING),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    ("insurer closes", facts(K.INSURER, A.DOSSIER_CLOSE), False, R.ACTION_NOT_PERMITTED),
    ("insurer declares death", facts(K.INSURER, A.DOSSIER_CLOSE_DECLARED), True, R.INSURER),
    (
        "holder declares",
        facts(K.PATIENT, A.DOSSIER_CLOSE_DECLARED, HOLDER),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    ("holder reopens", facts(K.PATIENT, A.DOSSIER_REOPEN, HOLDER, state=S.CLOSED), True, R.HOLDER),
    (
        "holder reopens active",
        facts(K.PATIENT, A.DOSSIER_REOPEN, HOLDER),
        False,
        R.DOSSIER_NOT_ACTIVE,
    ),
    (
        "stranger reopens",
        facts(K.PATIENT, A.DOSSIER_REOPEN, state=S.CLOSED),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    (
        "holder reopens destroyed",
        facts(K.PATIENT, A.DOSSIER_REOPEN, HOLDER, state=S.DESTROYED),
        False,
        R.DOSSIER_NOT_ACTIVE,
    ),
    (
        "holder asks deletion of closed",
        facts(K.PATIENT, A.DOSSIER_DELETION_REQUEST, HOLDER, state=S.CLOSED),
        True,
        R.HOLDER,
    ),
    (
        "holder sees closed dossier",
        facts(K.PATIENT, A.DOSSIER_READ, HOLDER, state=S.CLOSED),
        True,
        R.HOLDER,
    ),
    (
        "treating sees closed dossier",
        facts(K.PROFESSIONAL, A.DOSSIER_READ, TREATING, state=S.CLOSED),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    ("operator holds", facts(K.OPERATOR, A.DOSSIER_HOLD, state=S.CLOSED), True, R.OPERATOR),
    ("operator releases", facts(K.OPERATOR, A.DOSSIER_RELEASE), True, R.OPERATOR),
    ("holder holds", facts(K.PATIENT, A.DOSSIER_HOLD, HOLDER), False, R.ACTION_NOT_PERMITTED),
    (
        "operator lists holds",
        facts(K.OPERATOR, A.DOSSIER_HOLD_LIST, state=S.CLOSED),
        True,
        R.OPERATOR,
    ),
    ("auditor lists holds", facts(K.AUDITOR, A.DOSSIER_HOLD_LIST), True, R.AUDITOR),
    (
        "holder lists holds",
        facts(K.PATIENT, A.DOSSIER_HOLD_LIST, HOLDER),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    (
        "treating physician lists holds",
        facts(K.PROFESSIONAL, A.DOSSIER_HOLD_LIST, TREATING),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    (
        "operator holds destroyed",
        facts(K.OPERATOR, A.DOSSIER_HOLD, state=S.DESTROYED),
        False,
        R.DOSSIER_NOT_ACTIVE,
    ),
    ("operator exports", facts(K.OPERATOR, A.DOSSIER_EXPORT), False, R.ACTOR_NEVER_ALLOWED),
    (
        "complementary insurer reopens an active dossier",
        facts(K.COMPLEMENTARY_INSURER, A.DOSSIER_REOPEN),
        False,
        R.ACTOR_NEVER_ALLOWED,
    ),
    (
        "stranger reopens an active dossier",
        facts(K.PATIENT, A.DOSSIER_REOPEN),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    ("operator closes", facts(K.OPERATOR, A.DOSSIER_CLOSE_DECLARED), False, R.ACTOR_NEVER_ALLOWED),
    ("holder exports", facts(K.PATIENT, A.DOSSIER_EXPORT, HOLDER), True, R.HOLDER),
    (
        "authorised exports",
        facts(K.PROFESSIONAL, A.DOSSIER_EXPORT, AUTHORISED),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    # an author releases what it held back, and cannot hold it back again
    (
        "author holds back again after the announcement",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_VISIBILITY,
            AUTHORISED,
            DocumentFacts(C.REPORTS, authored_by_caller=True, new_visibility=V.HIDDEN_FROM_PATIENT),
        ),
        False,
        R.VISIBILITY_NOT_SETTABLE,
    ),
    (
        "author hides from representatives",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_VISIBILITY,
            AUTHORISED,
            DocumentFacts(
                C.REPORTS, authored_by_caller=True, new_visibility=V.HIDDEN_FROM_REPRESENTATIVES
            ),
        ),
        True,
        R.AUTHORISED,
    ),
    (
        "author announces and keeps it from representatives",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_VISIBILITY,
            TREATING,
            DocumentFacts(
                C.REPORTS,
                V.HIDDEN_FROM_PATIENT | V.HIDDEN_FROM_REPRESENTATIVES,
                authored_by_caller=True,
                new_visibility=V.HIDDEN_FROM_REPRESENTATIVES,
            ),
        ),
        True,
        R.TREATING_PHYSICIAN,
    ),
    # time fails closed: facts without a time open no authorisation and no window
    (
        "authorised without a clock",
        Facts(K.PROFESSIONAL, A.DOCUMENT_READ, S.ACTIVE, AUTHORISED, None, "physician"),
        False,
        R.AUTHORISATION_EXPIRED,
    ),
    (
        "emergency window without a clock",
        Facts(K.PROFESSIONAL, A.DOCUMENT_LIST, S.ACTIVE, EMERGENCY, None, "physician"),
        False,
        R.NO_AUTHORISATION,
    ),
    # replacement: the author only, while the document is in the author's scope
    (
        "author replaces own report",
        facts(K.PROFESSIONAL, A.DOCUMENT_REPLACE, AUTHORISED, AUTHORED),
        True,
        R.AUTHORISED,
    ),
    (
        "authorised colleague replaces a report",
        facts(K.PROFESSIONAL, A.DOCUMENT_REPLACE, AUTHORISED, REPORT),
        False,
        R.NOT_AUTHOR,
    ),
    (
        "holder replaces a professional's report",
        facts(K.PATIENT, A.DOCUMENT_REPLACE, HOLDER, REPORT),
        False,
        R.NOT_AUTHOR,
    ),
    (
        "holder replaces own advance directives",
        facts(
            K.PATIENT,
            A.DOCUMENT_REPLACE,
            HOLDER,
            DocumentFacts(C.ADVANCE_DIRECTIVES, authored_by_caller=True),
        ),
        True,
        R.HOLDER,
    ),
    (
        "author replaces a report the patient masked",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_REPLACE,
            AUTHORISED,
            replace(AUTHORED, visibility=V.MASKED_FROM_PROFESSIONALS),
        ),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "author whose authorisation expired replaces",
        facts(K.PROFESSIONAL, A.DOCUMENT_REPLACE, EXPIRED, AUTHORED),
        False,
        R.AUTHORISATION_EXPIRED,
    ),
    (
        "insurer replaces its reimbursement line",
        facts(
            K.INSURER,
            A.DOCUMENT_REPLACE,
            document=replace(REIMBURSEMENT, authored_by_caller=True),
        ),
        False,
        R.ACTOR_NEVER_ALLOWED,
    ),
    (
        "author replaces in a closed dossier",
        facts(K.PROFESSIONAL, A.DOCUMENT_REPLACE, AUTHORISED, AUTHORED, state=S.CLOSED),
        False,
        R.DOSSIER_NOT_ACTIVE,
    ),
    # a kind the rules do not know (a newer token issuer) gets nothing, whatever its standing
    (
        "unknown kind with a professional's standing",
        facts(cast(ActorKind, "pharma_marketing"), A.DOCUMENT_LIST, TREATING),
        False,
        R.ACTOR_NEVER_ALLOWED,
    ),
]


@pytest.mark.parametrize(
    ("name", "given_facts", "allowed", "reason"), TABLE, ids=[t[0] for t in TABLE]
)
def test_decision_table(name: str, given_facts: Facts, allowed: bool, reason: Reason) -> None:
    decision = decide(given_facts)
    assert (decision.allowed, decision.reason) == (allowed, reason)


# -- invariants over an exhaustive enumeration ------------------------------------------

STANDINGS = (
    NOBODY,
    HOLDER,
    REPRESENTATIVE,
    TREATING,
    AUTHORISED,
    EXPIRED,
    BLOCKED,
    EMERGENCY,
    Standing(emergency_until_us=EARLIER),
    Standing(emergency_until_us=LATER, emergency_refused=True),
    Standing(emergency_refused=True),
    Standing(treating_physician=True, blocked=True),
    Standing(authorised_until_us=LATER, blocked=True),
    Standing(emergency_until_us=LATER, blocked=True),
    Standing(holder=True, representative=True, treating_physician=True),
    Standing(regulation_refused=True),
    Standing(emergency_until_us=LATER, emergency_regulation=True),
    Standing(occupational_until_us=LATER),
)
IDENTITIES = (  # (profession, specialty), for professionals; others carry none
    ("physician", "cardiology"),
    ("physician", "emergency_medicine"),
    ("physician", "medical_regulation"),
    ("physician", "occupational_medicine"),
    ("pharmacist", "medical_regulation"),
    ("astrologer", None),
    (None, None),
)
CATEGORIES = (C.REPORTS, C.BIOLOGY, C.REIMBURSEMENT_HISTORY)  # all, pharmacist, insurer
VISIBILITIES = tuple(V(bits) for bits in range(8))
READS = {A.DOCUMENT_READ, A.DOCUMENT_LIST}
ONE_DOCUMENT = {A.DOCUMENT_READ, A.DOCUMENT_DELETE, A.DOCUMENT_VISIBILITY, A.DOCUMENT_REPLACE}
OUTSIDERS = {
    K.INSURER,
    K.COMPLEMENTARY_INSURER,
    K.OCCUPATIONAL_PHYSICIAN,
    K.INSURANCE_PHYSICIAN,
    K.OPERATOR,
    K.AUDITOR,
}


def _documents(action: Action) -> Iterator[DocumentFacts | None]:
    """The documents a request for `action` may concern: none, and every category and
    visibility (and, for a visibility change, every new visibility, author or not)."""
    yield None
    if action is A.DOCUMENT_WRITE:
        for category, visibility in itertools.product(CATEGORIES, VISIBILITIES):
            yield DocumentFacts(category, visibility)
    elif action in ONE_DOCUMENT:
        changes: tuple[Visibility | None, ...] = (None,)
        if action is A.DOCUMENT_VISIBILITY:
            changes = VISIBILITIES
        for category, visibility, authored, new in itertools.product(
            CATEGORIES, VISIBILITIES, (False, True), changes
        ):
            yield DocumentFacts(category, visibility, authored, new)


def _all_facts() -> Iterator[Facts]:
    for kind, action, state, standing in itertools.product(K, A, [None, *S], STANDINGS):
        identities = IDENTITIES if kind is K.PROFESSIONAL else ((None, None),)
        for (profession, specialty), document in itertools.product(identities, _documents(action)):
            facts = Facts(kind, action, state, standing, NOW, profession, specialty, document)
            yield facts
            if action is A.BREAK_GLASS:  # the SAMU regulator's access too
                yield replace(facts, regulation=True)


@functools.cache
def decided() -> tuple[tuple[Facts, Decision], ...]:
    """Every enumerated case with its decision (a few hundred thousand, a second or two)."""
    return tuple((f, decide(f)) for f in _all_facts())


def _sees_some(decision: Decision, visibility: Visibility) -> bool:
    """Whether the decision's scope admits some document carrying `visibility`."""
    scope = decision.scope
    return decision.allowed and bool(scope.categories) and not visibility & scope.hidden


def _sees(decision: Decision, document: DocumentFacts) -> bool:
    return decision.allowed and decision.scope.admits(document.category, document.visibility)


def test_the_enumeration_decides_every_case_with_a_known_reason() -> None:
    reasons = Counter(d.reason for _, d in decided())
    assert len(decided()) > 100_000
    assert all(isinstance(reason, Reason) for reason in reasons)
    for reason in (
        R.AUTHORISED,
        R.EMERGENCY,
        R.DOCUMENT_HIDDEN,
        R.VISIBILITY_NOT_SETTABLE,
        R.NOT_AUTHOR,
    ):
        assert reasons[reason]


def test_only_a_documents_author_replaces_it_and_only_within_their_scope() -> None:
    met = 0
    for given, decision in decided():
        if given.action is not A.DOCUMENT_REPLACE or given.document is None:
            continue
        met += decision.allowed
        if decision.allowed:
            assert given.document.authored_by_caller
            assert _sees(decision, given.document)
    assert met


def test_only_break_the_glass_and_the_regulators_access_are_flagged_as_emergency() -> None:
    met = Counter[Reason]()
    for _, decision in decided():
        emergency = decision.reason in (R.EMERGENCY, R.REGULATION)
        assert decision.emergency == (decision.allowed and emergency)
        met[decision.reason] += decision.emergency
    assert met[R.EMERGENCY]
    assert met[R.REGULATION]


def test_nobody_but_the_patient_side_and_treating_physician_sees_a_masked_document() -> None:
    seen = Counter[bool]()
    for _, decision in decided():
        if decision.allowed and decision.scope.categories:
            masked = _sees_some(decision, V.MASKED_FROM_PROFESSIONALS)
            seen[masked] += 1
            if masked:
                assert decision.reason in {R.HOLDER, R.REPRESENTATIVE, R.TREATING_PHYSICIAN}
    assert seen[True]
    assert seen[False]  # both masked readers and readers kept from it


def test_insurers_and_outsiders_never_read() -> None:
    met = 0
    for given_facts, decision in decided():
        if given_facts.actor_kind in OUTSIDERS:
            assert not (decision.allowed and given_facts.action in READS)
            assert decision.scope.categories == frozenset()
            met += given_facts.action in READS and given_facts.standing is not NOBODY
    assert met


def test_a_blocked_professional_never_gets_anything_emergency_or_not() -> None:
    met = 0
    for given_facts, decision in decided():
        standing = given_facts.standing
        blocked = standing.blocked and not standing.treating_physician
        if given_facts.actor_kind is K.PROFESSIONAL and blocked:
            assert not decision.allowed
            met += standing.authorised_until_us == LATER or standing.emergency_until_us == LATER
    assert met


def test_a_closed_dossier_is_closed_to_everyone() -> None:
    """Only its lifecycle moves on (reopening, deletion, holds), the patient side may see
    that it is closed, and auditors read its journal; a destroyed one, only the journal
    and, for its holder, the outbox (the notice that their deletion was carried out)."""
    lifecycle = {A.DOSSIER_REOPEN, A.DOSSIER_DELETION_REQUEST, A.DOSSIER_HOLD, A.DOSSIER_RELEASE}
    lifecycle.add(A.DOSSIER_HOLD_LIST)  # operators list holds, in any state a hold is placed
    met = Counter[str]()
    for given_facts, decision in decided():
        state, action = given_facts.dossier_state, given_facts.action
        if decision.allowed and state is S.CLOSED and given_facts.actor_kind is not K.AUDITOR:
            assert action in lifecycle or action is A.DOSSIER_READ
            assert decision.scope.categories == frozenset()
            met["closed, allowed"] += 1
        if state is S.DESTROYED and given_facts.actor_kind is not K.AUDITOR:
            holder = given_facts.actor_kind is K.PATIENT and given_facts.standing.holder
            notice = holder and action is A.NOTIFICATIONS_READ  # the deletion's notice
            assert decision.allowed is notice
            assert decision.scope.categories == frozenset()
            met["destroyed, holder"] += given_facts.standing.holder
            met["destroyed, holder's notice"] += notice
    assert met["closed, allowed"]
    assert met["destroyed, holder"]
    assert met["destroyed, holder's notice"]


def test_only_the_patient_side_reopens_or_exports() -> None:
    met = 0
    for given_facts, decision in decided():
        if decision.allowed and given_facts.action in {A.DOSSIER_REOPEN, A.DOSSIER_EXPORT}:
            assert decision.reason in {R.HOLDER, R.REPRESENTATIVE}
            met += 1
    assert met


def test_representatives_never_see_a_minors_confidential_care() -> None:
    met = 0
    for given_facts, decision in decided():
        if given_facts.actor_kind is K.LEGAL_REPRESENTATIVE and decision.allowed:
            assert not _sees_some(decision, V.HIDDEN_FROM_REPRESENTATIVES)
            met += bool(decision.scope.categories)
    assert met


def test_the_patient_side_never_sees_what_its_author_holds_back() -> None:
    met = 0
    for given_facts, decision in decided():
        if given_facts.actor_kind in (K.PATIENT, K.LEGAL_REPRESENTATIVE) and decision.allowed:
            assert not _sees_some(decision, V.HIDDEN_FROM_PATIENT)
            met += bool(decision.scope.categories)
    assert met


def test_an_allowed_single_document_request_is_in_scope() -> None:
    """In scope, or a professional reading back what they wrote (issue 16, item 3)."""
    met = Counter[bool]()
    for given_facts, decision in decided():
        document = given_facts.document
        if given_facts.action in ONE_DOCUMENT and document is not None:
            if decision.allowed and not _sees(decision, document):
                assert given_facts.actor_kind is K.PROFESSIONAL
                assert document.authored_by_caller
                assert given_facts.action is not A.DOCUMENT_REPLACE
            met[decision.allowed] += 1
            met[False] += decision.reason is R.DOCUMENT_HIDDEN
    assert met[True]
    assert met[False]


def test_nobody_holds_a_document_back_from_the_patient_after_its_upload() -> None:
    """`hidden_from_patient` is set at upload and only ever cleared (the announcement)."""
    met = Counter[str]()
    for given_facts, decision in decided():
        document = given_facts.document
        if given_facts.action is not A.DOCUMENT_VISIBILITY or document is None:
            continue
        if document.new_visibility is None:
            continue
        sets = document.new_visibility & ~document.visibility & V.HIDDEN_FROM_PATIENT
        clears = document.visibility & ~document.new_visibility & V.HIDDEN_FROM_PATIENT
        if sets:
            assert not decision.allowed
            met["author tries"] += document.authored_by_caller
        if clears and decision.allowed:
            met["author clears"] += 1
    assert met["author tries"]
    assert met["author clears"]


def test_a_lifecycle_request_tells_the_state_only_to_whom_it_belongs() -> None:
    """`dossier-not-active` answers a lifecycle request only when the same requester
    would be allowed in the state the action applies to: nobody else learns the state."""
    applies = {A.DOSSIER_REOPEN: S.CLOSED}
    lifecycle = {
        A.DOSSIER_CLOSE,
        A.DOSSIER_CLOSE_DECLARED,
        A.DOSSIER_REOPEN,
        A.DOSSIER_DELETION_REQUEST,
        A.DOSSIER_HOLD,
        A.DOSSIER_RELEASE,
    }
    met = Counter[bool]()
    for given_facts, decision in decided():
        action = given_facts.action
        if action not in lifecycle or decision.reason is not R.DOSSIER_NOT_ACTIVE:
            continue
        state = applies.get(action, S.ACTIVE)
        assert decide(replace(given_facts, dossier_state=state)).allowed
        met[given_facts.actor_kind in OUTSIDERS] += 1
    assert met[True]  # the operator (holds) and the insurer (declared closures) among them
    assert met[False]


# -- documents held back from the patient: their delay, the treating physician -----------

DEPOSIT = to_us(datetime(2026, 1, 31, 9, 30, tzinfo=UTC))
A_MONTH_LATER = add_months(DEPOSIT, 1)  # 28 February: the same day, clamped


def _held_back_read(
    kind: ActorKind,
    standing: Standing,
    now_us: int | None,
    visibility: Visibility = V.HIDDEN_FROM_PATIENT,
    release_months: int = 1,
) -> Facts:
    document = DocumentFacts(C.REPORTS, visibility, deposited_us=DEPOSIT)
    return Facts(
        kind, A.DOCUMENT_READ, S.ACTIVE, standing, now_us, None, None, document, release_months
    )


HELD_BACK_TABLE: list[tuple[str, Facts, bool, Reason]] = [
    (
        "holder reads held back the day before its delay",
        _held_back_read(K.PATIENT, HOLDER, A_MONTH_LATER - 24 * 3600 * 10**6),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "holder reads held back when its delay has run",
        _held_back_read(K.PATIENT, HOLDER, add_months(DEPOSIT, 1) + 10**6 * 3600 * 24 * 3),
        True,
        R.HOLDER,
    ),
    (
        "holder reads held back without a known time",
        _held_back_read(K.PATIENT, HOLDER, None),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "holder reads held back with a two-month delay set, after one",
        _held_back_read(K.PATIENT, HOLDER, add_months(DEPOSIT, 1) + 10**9, release_months=2),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "representative reads held back when its delay has run",
        _held_back_read(K.LEGAL_REPRESENTATIVE, REPRESENTATIVE, add_months(DEPOSIT, 2)),
        True,
        R.REPRESENTATIVE,
    ),
    (
        "representative reads confidential held back when its delay has run",
        _held_back_read(
            K.LEGAL_REPRESENTATIVE,
            REPRESENTATIVE,
            add_months(DEPOSIT, 2),
            V.HIDDEN_FROM_PATIENT | V.HIDDEN_FROM_REPRESENTATIVES,
        ),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "holder masks a document released by its delay, echoing its flag",
        replace(
            _held_back_read(K.PATIENT, HOLDER, add_months(DEPOSIT, 2)),
            action=A.DOCUMENT_VISIBILITY,
            document=DocumentFacts(
                C.REPORTS,
                V.HIDDEN_FROM_PATIENT,
                new_visibility=V.HIDDEN_FROM_PATIENT | V.MASKED_FROM_PROFESSIONALS,
                deposited_us=DEPOSIT,
            ),
        ),
        True,
        R.HOLDER,
    ),
    (
        "holder masks a document released by its delay, dropping its flag",
        replace(
            _held_back_read(K.PATIENT, HOLDER, add_months(DEPOSIT, 2)),
            action=A.DOCUMENT_VISIBILITY,
            document=DocumentFacts(
                C.REPORTS,
                V.HIDDEN_FROM_PATIENT,
                new_visibility=V.MASKED_FROM_PROFESSIONALS,
                deposited_us=DEPOSIT,
            ),
        ),
        True,
        R.HOLDER,
    ),
    (
        "holder clears the flag of a document its delay has not released",
        replace(
            _held_back_read(K.PATIENT, HOLDER, DEPOSIT + 10**6),
            action=A.DOCUMENT_VISIBILITY,
            document=DocumentFacts(
                C.REPORTS, V.HIDDEN_FROM_PATIENT, new_visibility=V.NORMAL, deposited_us=DEPOSIT
            ),
        ),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "treating physician releases held back early",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_VISIBILITY,
            TREATING,
            DocumentFacts(C.REPORTS, V.HIDDEN_FROM_PATIENT, new_visibility=V.NORMAL),
        ),
        True,
        R.TREATING_PHYSICIAN,
    ),
    (
        "treating physician holds back what another wrote",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_VISIBILITY,
            TREATING,
            DocumentFacts(C.REPORTS, new_visibility=V.HIDDEN_FROM_PATIENT),
        ),
        False,
        R.VISIBILITY_NOT_SETTABLE,
    ),
    (
        "authorised professional releases what another held back",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_VISIBILITY,
            AUTHORISED,
            DocumentFacts(C.REPORTS, V.HIDDEN_FROM_PATIENT, new_visibility=V.NORMAL),
        ),
        False,
        R.VISIBILITY_NOT_SETTABLE,
    ),
    (
        "author whose authorisation lapsed releases",
        facts(
            K.PROFESSIONAL,
            A.DOCUMENT_VISIBILITY,
            EXPIRED,
            DocumentFacts(
                C.REPORTS, V.HIDDEN_FROM_PATIENT, authored_by_caller=True, new_visibility=V.NORMAL
            ),
        ),
        False,
        R.AUTHORISATION_EXPIRED,
    ),
]


@pytest.mark.parametrize(
    ("name", "given_facts", "allowed", "reason"),
    HELD_BACK_TABLE,
    ids=[t[0] for t in HELD_BACK_TABLE],
)
def test_held_back_decision_table(
    name: str, given_facts: Facts, allowed: bool, reason: Reason
) -> None:
    decision = decide(given_facts)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_a_held_back_document_is_released_to_the_patient_side_exactly_at_its_delay() -> None:
    """Whatever the deposit (month ends included), the patient side's scope admits it
    once its month ran, never a microsecond before (a deposit on 29 to 31 January waits
    until 1 March, 00:00 UTC: the delay never runs short); a document also hidden from
    representatives stays hidden from them."""
    met, day_us = 0, 24 * 3600 * 10**6
    for day in range(0, 366):
        deposited = DEPOSIT + day * day_us + day * 997 * 10**6  # every day, various times
        month = add_months(deposited, 1)
        for now_us, ran in ((month - 1, False), (month + 3 * day_us + 1, True)):
            for kind, standing in ((K.PATIENT, HOLDER), (K.LEGAL_REPRESENTATIVE, REPRESENTATIVE)):
                decision = decide(
                    Facts(kind, A.DOCUMENT_LIST, S.ACTIVE, standing, now_us, None, None, None)
                )
                scope = decision.scope
                assert scope.admits(C.REPORTS, V.HIDDEN_FROM_PATIENT, deposited) is ran
                assert scope.admits(C.REPORTS, V.HIDDEN_FROM_PATIENT, None) is False
                both = V.HIDDEN_FROM_PATIENT | V.HIDDEN_FROM_REPRESENTATIVES
                assert scope.admits(C.REPORTS, both, deposited) is (ran and kind is K.PATIENT)
                met += ran
    assert met


# -- the holder's copy of a closed dossier ----------------------------------------------

CL = ClosureReason


def _copy(
    kind: ActorKind,
    standing: Standing,
    closure: ClosureReason | None,
    action: Action = A.DOSSIER_EXPORT,
) -> Facts:
    return Facts(kind, action, S.CLOSED, standing, NOW, closure_reason=closure)


CLOSED_COPY_TABLE: list[tuple[str, Facts, bool, Reason]] = [
    (
        "holder copies closed at their request",
        _copy(K.PATIENT, HOLDER, CL.PATIENT_REQUEST),
        True,
        R.HOLDER,
    ),
    ("holder copies suspended", _copy(K.PATIENT, HOLDER, CL.INSURER_SUSPENSION), True, R.HOLDER),
    (
        "holder copies closed for death",
        _copy(K.PATIENT, HOLDER, CL.DEATH),
        False,
        R.DOSSIER_NOT_ACTIVE,
    ),
    (
        "holder copies pending deletion",
        _copy(K.PATIENT, HOLDER, CL.DELETION_REQUEST),
        False,
        R.DOSSIER_NOT_ACTIVE,
    ),
    (
        "stranger copies closed",
        _copy(K.PATIENT, NOBODY, CL.PATIENT_REQUEST),
        False,
        R.DOSSIER_NOT_ACTIVE,
    ),
    (
        "representative copies closed",
        _copy(K.LEGAL_REPRESENTATIVE, REPRESENTATIVE, CL.PATIENT_REQUEST),
        False,
        R.DOSSIER_NOT_ACTIVE,
    ),
    (
        "treating physician copies closed",
        _copy(K.PROFESSIONAL, TREATING, CL.PATIENT_REQUEST),
        False,
        R.DOSSIER_NOT_ACTIVE,
    ),
    (
        "holder lists closed while it may copy it",
        _copy(K.PATIENT, HOLDER, CL.PATIENT_REQUEST, A.DOCUMENT_LIST),
        False,
        R.DOSSIER_NOT_ACTIVE,
    ),
    (
        "operator copies closed",
        _copy(K.OPERATOR, NOBODY, CL.PATIENT_REQUEST),
        False,
        R.ACTOR_NEVER_ALLOWED,
    ),
]


@pytest.mark.parametrize(
    ("name", "given_facts", "allowed", "reason"),
    CLOSED_COPY_TABLE,
    ids=[t[0] for t in CLOSED_COPY_TABLE],
)
def test_closed_copy_decision_table(
    name: str, given_facts: Facts, allowed: bool, reason: Reason
) -> None:
    decision = decide(given_facts)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_the_copy_of_a_closed_dossier_opens_nothing_else_to_anyone() -> None:
    """Whatever the closure, the caller and the action, a closed dossier allows only its
    lifecycle, its state to the patient side, and the holder's copy during conservation,
    whose scope still holds back what its delay has not released."""
    lifecycle = {A.DOSSIER_REOPEN, A.DOSSIER_DELETION_REQUEST, A.DOSSIER_HOLD, A.DOSSIER_RELEASE}
    lifecycle.add(A.DOSSIER_HOLD_LIST)  # operators list holds, in any state a hold is placed
    lifecycle.add(A.HEIR_GRANT)  # an operator's, on a death: it opens nothing itself
    met = 0
    for kind, action, standing, closure in itertools.product(
        K, A, STANDINGS, [None, *ClosureReason]
    ):
        decision = decide(_copy(kind, standing, closure, action))
        if not decision.allowed or kind is K.AUDITOR:
            continue
        if action is A.DOSSIER_EXPORT:
            assert (kind, closure) in {
                (K.PATIENT, CL.PATIENT_REQUEST),
                (K.PATIENT, CL.INSURER_SUSPENSION),
            }
            assert standing.holder
            assert not decision.scope.admits(C.REPORTS, V.HIDDEN_FROM_PATIENT, NOW)
            met += 1
        else:
            assert action in lifecycle or action is A.DOSSIER_READ
            assert decision.scope.categories == frozenset()
    assert met
