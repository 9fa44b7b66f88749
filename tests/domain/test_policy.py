"""The DMP's access rules as a decision table, plus invariants over every combination."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.domain.model import ActorKind, DocumentCategory, DossierState, Visibility
from vault.domain.policy import (
    DEFAULT_MATRIX,
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
        "cardiologist breaks glass",
        facts(K.PROFESSIONAL, A.BREAK_GLASS, specialty="cardiology"),
        False,
        R.NOT_EMERGENCY_PROFESSIONAL,
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
        "operator holds destroyed",
        facts(K.OPERATOR, A.DOSSIER_HOLD, state=S.DESTROYED),
        False,
        R.DOSSIER_NOT_ACTIVE,
    ),
    ("operator exports", facts(K.OPERATOR, A.DOSSIER_EXPORT), False, R.ACTOR_NEVER_ALLOWED),
    ("holder exports", facts(K.PATIENT, A.DOSSIER_EXPORT, HOLDER), True, R.HOLDER),
    (
        "authorised exports",
        facts(K.PROFESSIONAL, A.DOSSIER_EXPORT, AUTHORISED),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
]


@pytest.mark.parametrize(
    ("name", "given_facts", "allowed", "reason"), TABLE, ids=[t[0] for t in TABLE]
)
def test_decision_table(name: str, given_facts: Facts, allowed: bool, reason: Reason) -> None:
    decision = decide(given_facts)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_only_break_the_glass_is_flagged_as_emergency() -> None:
    for _, given_facts, _, _ in TABLE:
        decision = decide(given_facts)
        assert decision.emergency == (decision.allowed and decision.reason is R.EMERGENCY)


# -- invariants over generated facts ---------------------------------------------------

standings = st.builds(
    Standing,
    holder=st.booleans(),
    representative=st.booleans(),
    treating_physician=st.booleans(),
    authorised_until_us=st.none() | st.sampled_from([EARLIER, LATER]),
    blocked=st.booleans(),
    emergency_until_us=st.none() | st.sampled_from([EARLIER, LATER]),
    emergency_refused=st.booleans(),
)
visibilities = st.sampled_from([V(bits) for bits in range(8)])
documents = st.builds(
    DocumentFacts,
    category=st.sampled_from(list(C)),
    visibility=visibilities,
    authored_by_caller=st.booleans(),
    new_visibility=st.none() | visibilities,
)
all_facts = st.builds(
    Facts,
    actor_kind=st.sampled_from(list(K)),
    action=st.sampled_from(list(A)),
    dossier_state=st.none() | st.sampled_from(list(S)),
    standing=standings,
    now_us=st.just(NOW),
    profession=st.none() | st.sampled_from([*DEFAULT_MATRIX, "astrologer"]),
    specialty=st.none() | st.sampled_from(["emergency_medicine", "cardiology"]),
    document=st.none() | documents,
)
READS = {A.DOCUMENT_READ, A.DOCUMENT_LIST}


def _sees(decision: Decision, document: DocumentFacts) -> bool:
    return decision.allowed and decision.scope.admits(document.category, document.visibility)


@settings(max_examples=500)
@given(all_facts, documents)
def test_nobody_but_the_patient_side_and_treating_physician_sees_a_masked_document(
    given_facts: Facts, document: DocumentFacts
) -> None:
    decision = decide(given_facts)
    if document.visibility & V.MASKED_FROM_PROFESSIONALS and _sees(decision, document):
        assert decision.reason in {R.HOLDER, R.REPRESENTATIVE, R.TREATING_PHYSICIAN}


@settings(max_examples=500)
@given(all_facts)
def test_insurers_and_outsiders_never_read(given_facts: Facts) -> None:
    decision = decide(given_facts)
    outsiders = {
        K.INSURER,
        K.COMPLEMENTARY_INSURER,
        K.OCCUPATIONAL_PHYSICIAN,
        K.INSURANCE_PHYSICIAN,
        K.OPERATOR,
        K.AUDITOR,
    }
    if given_facts.actor_kind in outsiders:
        assert not (decision.allowed and given_facts.action in READS)
        assert decision.scope.categories == frozenset()


@settings(max_examples=500)
@given(all_facts)
def test_a_blocked_professional_never_reads_emergency_or_not(given_facts: Facts) -> None:
    standing = given_facts.standing
    blocked = standing.blocked and not standing.treating_physician
    if given_facts.actor_kind is K.PROFESSIONAL and blocked:
        assert not decide(given_facts).allowed


LIFECYCLE = {A.DOSSIER_REOPEN, A.DOSSIER_DELETION_REQUEST, A.DOSSIER_HOLD, A.DOSSIER_RELEASE}


@settings(max_examples=500)
@given(all_facts)
def test_a_closed_dossier_is_closed_to_everyone(given_facts: Facts) -> None:
    """Only its lifecycle moves on (reopening, deletion, holds), and the patient side may
    see that it is closed; a destroyed one, nothing at all."""
    decision = decide(given_facts)
    state, action = given_facts.dossier_state, given_facts.action
    if decision.allowed and state is S.CLOSED:
        assert action in LIFECYCLE or action is A.DOSSIER_READ
        assert decision.scope.categories == frozenset()
    if state is S.DESTROYED and given_facts.actor_kind is not K.AUDITOR:
        assert not decision.allowed


@settings(max_examples=500)
@given(all_facts)
def test_only_the_patient_side_reopens_or_exports(given_facts: Facts) -> None:
    decision = decide(given_facts)
    if decision.allowed and given_facts.action in {A.DOSSIER_REOPEN, A.DOSSIER_EXPORT}:
        assert decision.reason in {R.HOLDER, R.REPRESENTATIVE}


@settings(max_examples=500)
@given(all_facts, documents)
def test_representatives_never_see_a_minors_confidential_care(
    given_facts: Facts, document: DocumentFacts
) -> None:
    confidential = document.visibility & V.HIDDEN_FROM_REPRESENTATIVES
    if given_facts.actor_kind is K.LEGAL_REPRESENTATIVE and confidential:
        assert not _sees(decide(given_facts), document)


@settings(max_examples=500)
@given(all_facts)
def test_the_patient_side_never_sees_what_its_author_holds_back(given_facts: Facts) -> None:
    if given_facts.actor_kind in (K.PATIENT, K.LEGAL_REPRESENTATIVE):
        assert not _sees(decide(given_facts), NOT_ANNOUNCED)


@settings(max_examples=500)
@given(all_facts)
def test_an_allowed_single_document_request_is_in_scope(given_facts: Facts) -> None:
    decision = decide(given_facts)
    document = given_facts.document
    reading = given_facts.action in (A.DOCUMENT_READ, A.DOCUMENT_DELETE, A.DOCUMENT_VISIBILITY)
    if decision.allowed and reading and document is not None:
        assert _sees(decision, document)


def test_every_combination_decides_without_error() -> None:
    for kind, action, state in itertools.product(K, A, [None, *S]):
        for standing in (HOLDER, REPRESENTATIVE, TREATING, AUTHORISED, BLOCKED, EMERGENCY):
            decision = decide(Facts(kind, action, state, standing, NOW, "physician"))
            assert isinstance(decision.reason, Reason)
