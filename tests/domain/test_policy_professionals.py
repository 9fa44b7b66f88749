"""The professional side's edges (issue 16): an author keeps what they wrote, the treating
physician cannot stay blocked, and break-the-glass checks the profession the token gives,
not only its specialty. A table of cases and invariants over an enumeration, and the
agreement of an author's listing scope with their single reads."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

import pytest

from vault.domain.model import ActorKind, DocumentCategory, DossierState, Visibility
from vault.domain.policy import (
    DEFAULT_MATRIX,
    Action,
    DocumentFacts,
    Facts,
    Reason,
    Scope,
    Standing,
    decide,
)
from vault.domain.policy.matrix import ALL_CATEGORIES

A, K, R, V, C = Action, ActorKind, Reason, Visibility, DocumentCategory
NOW = 1_000_000_000
AUTHORISED = Standing(authorised_until_us=NOW + 1)
EXPIRED = Standing(authorised_until_us=NOW - 1)
EMERGENCY = Standing(emergency_until_us=NOW + 1)
TREATING = Standing(treating_physician=True)
BLOCKED_AUTHORISED = Standing(authorised_until_us=NOW + 1, blocked=True)
MASKED_OWN = DocumentFacts(C.REPORTS, V.MASKED_FROM_PROFESSIONALS, authored_by_caller=True)
MASKED_OTHERS = DocumentFacts(C.REPORTS, V.MASKED_FROM_PROFESSIONALS)
IMAGING_OWN = DocumentFacts(C.IMAGING, authored_by_caller=True)  # not in a pharmacist's matrix


def professional(
    action: Action,
    standing: Standing,
    document: DocumentFacts | None = None,
    profession: str = "physician",
    specialty: str | None = None,
) -> Facts:
    return Facts(
        K.PROFESSIONAL, action, DossierState.ACTIVE, standing, NOW, profession, specialty, document
    )


def insurer_designates(target_blocked: bool) -> Facts:
    return Facts(
        K.INSURER,
        A.TREATING_PHYSICIAN_SET,
        DossierState.ACTIVE,
        now_us=NOW,
        target_blocked=target_blocked,
    )


TABLE: list[tuple[str, Facts, bool, Reason]] = [
    # item 3: authors keep their documents
    (
        "author reads own document the patient masked",
        professional(A.DOCUMENT_READ, AUTHORISED, MASKED_OWN),
        True,
        R.AUTHORISED,
    ),
    (
        "authorised colleague reads a masked document",
        professional(A.DOCUMENT_READ, AUTHORISED, MASKED_OTHERS),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "author in an emergency window reads own masked document",
        professional(A.DOCUMENT_READ, EMERGENCY, MASKED_OWN),
        True,
        R.EMERGENCY,
    ),
    (
        "pharmacist reads back imaging they wrote, outside their matrix",
        professional(A.DOCUMENT_READ, AUTHORISED, IMAGING_OWN, profession="pharmacist"),
        True,
        R.AUTHORISED,
    ),
    (
        "pharmacist reads imaging someone else wrote",
        professional(
            A.DOCUMENT_READ, AUTHORISED, DocumentFacts(C.IMAGING), profession="pharmacist"
        ),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "author whose authorisation expired reads own masked document",
        professional(A.DOCUMENT_READ, EXPIRED, MASKED_OWN),
        False,
        R.AUTHORISATION_EXPIRED,
    ),
    (
        "blocked author reads own document",
        professional(A.DOCUMENT_READ, BLOCKED_AUTHORISED, MASKED_OWN),
        False,
        R.BLOCKED,
    ),
    (
        "author replaces own masked document (reading only)",
        professional(A.DOCUMENT_REPLACE, AUTHORISED, MASKED_OWN),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "author unmasks own masked document",
        professional(
            A.DOCUMENT_VISIBILITY, AUTHORISED, replace(MASKED_OWN, new_visibility=V.NORMAL)
        ),
        False,
        R.VISIBILITY_NOT_SETTABLE,
    ),
    (
        "author with only a lookup reads own document",
        professional(A.DOCUMENT_READ, Standing(), MASKED_OWN),
        False,
        R.NO_AUTHORISATION,
    ),
    # item 7: the treating physician cannot be blocked
    (
        "insurer designates a blocked professional",
        insurer_designates(target_blocked=True),
        True,
        R.BLOCK_LIFTED,
    ),
    (
        "insurer designates an unblocked professional",
        insurer_designates(target_blocked=False),
        True,
        R.INSURER,
    ),
    (
        "blocked treating physician reads a masked document",
        professional(
            A.DOCUMENT_READ, Standing(treating_physician=True, blocked=True), MASKED_OTHERS
        ),
        True,
        R.TREATING_PHYSICIAN,
    ),
    # item 4: the profession in the token is checked
    (
        "pharmacist with a regulation specialty breaks the glass",
        professional(
            A.BREAK_GLASS, Standing(), profession="pharmacist", specialty="medical_regulation"
        ),
        False,
        R.NOT_EMERGENCY_PROFESSIONAL,
    ),
    (
        "nurse with an emergency specialty breaks the glass",
        professional(A.BREAK_GLASS, Standing(), profession="nurse", specialty="emergency_medicine"),
        False,
        R.NOT_EMERGENCY_PROFESSIONAL,
    ),
    (
        "regulating physician breaks the glass",
        professional(A.BREAK_GLASS, Standing(), specialty="medical_regulation"),
        True,
        R.EMERGENCY,
    ),
    (
        "token without a profession breaks the glass",
        replace(
            professional(A.BREAK_GLASS, Standing(), specialty="emergency_medicine"),
            profession=None,
        ),
        False,
        R.NOT_EMERGENCY_PROFESSIONAL,
    ),
]


@pytest.mark.parametrize(
    ("name", "given_facts", "allowed", "reason"), TABLE, ids=[t[0] for t in TABLE]
)
def test_professional_edges_decision_table(
    name: str, given_facts: Facts, allowed: bool, reason: Reason
) -> None:
    decision = decide(given_facts)
    assert (decision.allowed, decision.reason) == (allowed, reason)


STANDINGS = (Standing(), AUTHORISED, EXPIRED, EMERGENCY, TREATING, BLOCKED_AUTHORISED)
PROFESSIONS = ("physician", "pharmacist", "nurse", "astrologer", None)
ONE_DOCUMENT_READS = (A.DOCUMENT_READ, A.DOCUMENT_REPLACE)
SPECIALTIES = ("emergency_medicine", "medical_regulation", "cardiology", None)


def test_a_masked_document_reaches_only_the_treating_physician_and_its_author() -> None:
    met = 0
    for standing, profession, category, authored, action in itertools.product(
        STANDINGS,
        PROFESSIONS,
        DocumentCategory,
        (False, True),
        (A.DOCUMENT_READ, A.DOCUMENT_REPLACE),
    ):
        document = DocumentFacts(category, V.MASKED_FROM_PROFESSIONALS, authored)
        decision = decide(professional(action, standing, document, profession or ""))
        if decision.allowed:
            assert standing is TREATING or (authored and action is A.DOCUMENT_READ)
            met += standing is not TREATING
    assert met


def test_break_the_glass_opens_to_the_professions_the_matrix_allows() -> None:
    """The profession in the token decides, through the matrix's emergency cell, not a
    claimed specialty: a pharmacist "in regulation" opens nothing, any physician does."""
    met = 0
    for profession, specialty in itertools.product(PROFESSIONS, SPECIALTIES):
        facts = replace(
            professional(A.BREAK_GLASS, Standing(), specialty=specialty), profession=profession
        )
        decision = decide(facts)
        expected = DEFAULT_MATRIX.rights(profession, specialty).emergency
        assert decision.allowed == expected
        assert decision.reason is (R.EMERGENCY if expected else R.NOT_EMERGENCY_PROFESSIONAL)
        met += expected
    assert met == len(SPECIALTIES)  # the physician's, whatever the specialty


# -- item 3 in listings: the scope's author exemption ------------------------------------

ME, SOMEONE_ELSE = "10000000001", "10000000002"


def listing(standing: Standing, profession: str = "physician", caller: str | None = ME) -> Facts:
    return replace(professional(A.DOCUMENT_LIST, standing, None, profession), caller=caller)


LISTING_TABLE: list[tuple[str, Facts, Scope]] = [
    (
        "authorised author's listing",
        listing(AUTHORISED),
        Scope(V.MASKED_FROM_PROFESSIONALS, DEFAULT_MATRIX.rights("physician", None).read, None, ME),
    ),
    (
        "pharmacist author's listing",
        listing(AUTHORISED, "pharmacist"),
        Scope(
            V.MASKED_FROM_PROFESSIONALS, DEFAULT_MATRIX.rights("pharmacist", None).read, None, ME
        ),
    ),
    (
        "author in an emergency window",
        listing(EMERGENCY),
        Scope(V.MASKED_FROM_PROFESSIONALS, DEFAULT_MATRIX.rights("physician", None).read, None, ME),
    ),
    (
        "treating physician (sees everything anyway)",
        listing(TREATING),
        Scope(V.NORMAL, ALL_CATEGORIES, None, ME),
    ),
    (
        "caller unknown: no exemption",
        listing(AUTHORISED, caller=None),
        Scope(V.MASKED_FROM_PROFESSIONALS, DEFAULT_MATRIX.rights("physician", None).read),
    ),
]


@pytest.mark.parametrize(
    ("name", "given_facts", "scope"), LISTING_TABLE, ids=[t[0] for t in LISTING_TABLE]
)
def test_an_authors_listing_scope_table(name: str, given_facts: Facts, scope: Scope) -> None:
    decision = decide(given_facts)
    assert decision.allowed
    assert decision.scope == scope


LISTING_STANDINGS = (
    *STANDINGS,
    Standing(team_until_us=NOW + 1),
    Standing(occupational_until_us=NOW + 1),
    Standing(authorised_until_us=NOW + 1, closed=frozenset(C)),  # every class closed to them
    Standing(emergency_until_us=NOW + 1, emergency_refused=True),
    Standing(holder=True),
    Standing(representative=True),
)
LISTING_SPECIALTIES = (None, "occupational_medicine", "medical_regulation")


def test_a_listing_admits_exactly_the_documents_a_single_read_gives_the_caller() -> None:
    """For every caller kind, standing and profession: a document is in the caller's
    listing (their scope, with its author, as the index applies it) if and only if they
    may read it alone, whoever wrote it, masked or not, held back or not, in their
    matrix row or not. Nothing more for an author: a blocked, expired or mere look-up
    author lists nothing, and the patient side gets no exemption (a minor's secret stays
    hidden from representatives, authors or not)."""
    met = Counter[bool]()
    for kind, standing, profession, specialty in itertools.product(
        K, LISTING_STANDINGS, PROFESSIONS, LISTING_SPECIALTIES
    ):
        facts = replace(listing(standing, profession or ""), actor_kind=kind, specialty=specialty)
        listed = decide(facts)
        for category, bits, author in itertools.product(C, range(8), (ME, SOMEONE_ELSE)):
            document = DocumentFacts(C(category), V(bits), author == ME, deposited_us=NOW - 1)
            read = decide(replace(facts, action=A.DOCUMENT_READ, document=document))
            shown = listed.allowed and listed.scope.admits(
                document.category, document.visibility, document.deposited_us, author
            )
            assert shown == read.allowed, (facts, document)
            met[shown and author == ME and not listed.scope.admits(category, V(bits))] += 1
    assert met[True]  # some documents are listed only because the caller wrote them
