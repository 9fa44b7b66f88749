"""Issue 16, items 4 to 6, in the pure policy: break-the-glass by the matrix's emergency
cell and the SAMU regulator's access under separate objections, occupational physicians
under the holder's express grant only, the matrix's write cells; then an enumeration of
every (actor kind x relation x visibility x category x dossier state x emergency state)
checking the invariants the issue lists."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

import pytest

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

A, K, R, V, C = Action, ActorKind, Reason, Visibility, DocumentCategory
NOW = 1_000_000_000
LATER, EARLIER = NOW + 1, NOW - 1
GLASS = Standing(emergency_until_us=LATER)
REGULATOR_WINDOW = Standing(emergency_until_us=LATER, emergency_regulation=True)
GRANT = Standing(occupational_until_us=LATER)
REPORT = DocumentFacts(C.REPORTS)


NO_STANDING = Standing()


def pro(
    action: Action,
    standing: Standing = NO_STANDING,
    document: DocumentFacts | None = None,
    profession: str | None = "physician",
    specialty: str | None = None,
    *,
    regulation: bool = False,
) -> Facts:
    return Facts(
        K.PROFESSIONAL,
        action,
        DossierState.ACTIVE,
        standing,
        NOW,
        profession,
        specialty,
        document,
        regulation=regulation,
    )


def regulator(standing: Standing = NO_STANDING, profession: str = "physician") -> Facts:
    return pro(A.BREAK_GLASS, standing, None, profession, "medical_regulation", regulation=True)


def holder(action: Action) -> Facts:
    return Facts(K.PATIENT, action, DossierState.ACTIVE, Standing(holder=True), NOW)


TABLE: list[tuple[str, Facts, bool, Reason]] = [
    # item 4: break-the-glass by the matrix, two objections
    ("physician of any specialty breaks the glass", pro(A.BREAK_GLASS), True, R.EMERGENCY),
    ("midwife breaks the glass", pro(A.BREAK_GLASS, profession="midwife"), True, R.EMERGENCY),
    (
        "physiotherapist breaks the glass",
        pro(A.BREAK_GLASS, profession="physiotherapist"),
        False,
        R.NOT_EMERGENCY_PROFESSIONAL,
    ),
    (
        "unknown profession breaks the glass",
        pro(A.BREAK_GLASS, profession="astrologer"),
        False,
        R.NOT_EMERGENCY_PROFESSIONAL,
    ),
    ("regulator's access", regulator(), True, R.REGULATION),
    (
        "regulator's access, break-the-glass objected to",
        regulator(Standing(emergency_refused=True)),
        True,
        R.REGULATION,
    ),
    (
        "regulator's access objected to",
        regulator(Standing(regulation_refused=True)),
        False,
        R.REGULATION_REFUSED,
    ),
    (
        "break-the-glass, regulator's access objected to",
        pro(A.BREAK_GLASS, Standing(regulation_refused=True)),
        True,
        R.EMERGENCY,
    ),
    (
        "break-the-glass objected to",
        pro(A.BREAK_GLASS, Standing(emergency_refused=True)),
        False,
        R.EMERGENCY_REFUSED,
    ),
    (
        "pharmacist claims the regulator's access",
        regulator(profession="pharmacist"),
        False,
        R.NOT_EMERGENCY_PROFESSIONAL,
    ),
    (
        "regulation reason without the regulation specialty",
        pro(A.BREAK_GLASS, specialty="emergency_medicine", regulation=True),
        False,
        R.NOT_EMERGENCY_PROFESSIONAL,
    ),
    ("glass window reads", pro(A.DOCUMENT_READ, GLASS, REPORT), True, R.EMERGENCY),
    (
        "glass window after the glass objection",
        pro(A.DOCUMENT_READ, replace(GLASS, emergency_refused=True), REPORT),
        False,
        R.NO_AUTHORISATION,
    ),
    (
        "glass window after the regulation objection only",
        pro(A.DOCUMENT_READ, replace(GLASS, regulation_refused=True), REPORT),
        True,
        R.EMERGENCY,
    ),
    (
        "regulator's window reads",
        pro(A.DOCUMENT_READ, REGULATOR_WINDOW, REPORT),
        True,
        R.REGULATION,
    ),
    (
        "regulator's window after the regulation objection",
        pro(A.DOCUMENT_READ, replace(REGULATOR_WINDOW, regulation_refused=True), REPORT),
        False,
        R.NO_AUTHORISATION,
    ),
    (
        "regulator's window after the glass objection only",
        pro(A.DOCUMENT_READ, replace(REGULATOR_WINDOW, emergency_refused=True), REPORT),
        True,
        R.REGULATION,
    ),
    (
        "regulator reads back a masked document they wrote",
        pro(
            A.DOCUMENT_READ,
            REGULATOR_WINDOW,
            DocumentFacts(C.REPORTS, V.MASKED_FROM_PROFESSIONALS, authored_by_caller=True),
        ),
        True,
        R.REGULATION,
    ),
    (
        "regulator reads a masked document of another's",
        pro(
            A.DOCUMENT_READ, REGULATOR_WINDOW, DocumentFacts(C.REPORTS, V.MASKED_FROM_PROFESSIONALS)
        ),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "treating physician reads the emergency notices",
        pro(A.NOTIFICATIONS_READ, Standing(treating_physician=True)),
        True,
        R.TREATING_PHYSICIAN,
    ),
    (
        "authorised professional reads the notices",
        pro(A.NOTIFICATIONS_READ, Standing(authorised_until_us=LATER)),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    # item 5: occupational physicians
    (
        "occupational physician without a grant",
        pro(A.DOCUMENT_READ, Standing(), REPORT, specialty="occupational_medicine"),
        False,
        R.NO_OCCUPATIONAL_GRANT,
    ),
    (
        "occupational physician authorised (not a grant)",
        pro(
            A.DOCUMENT_LIST,
            Standing(authorised_until_us=LATER),
            specialty="occupational_medicine",
        ),
        False,
        R.NO_OCCUPATIONAL_GRANT,
    ),
    (
        "occupational physician declared treating (not a grant)",
        pro(A.DOCUMENT_LIST, Standing(treating_physician=True), specialty="occupational_medicine"),
        False,
        R.NO_OCCUPATIONAL_GRANT,
    ),
    (
        "occupational physician records consent",
        pro(A.CONSENT_RECORD, specialty="occupational_medicine"),
        False,
        R.NO_OCCUPATIONAL_GRANT,
    ),
    (
        "occupational physician breaks the glass",
        pro(A.BREAK_GLASS, specialty="occupational_medicine"),
        False,
        R.NO_OCCUPATIONAL_GRANT,
    ),
    (
        "occupational physician under a grant reads prevention",
        pro(A.DOCUMENT_READ, GRANT, DocumentFacts(C.PREVENTION), specialty="occupational_medicine"),
        True,
        R.OCCUPATIONAL_GRANT,
    ),
    (
        "occupational physician under a grant reads a report (outside the row)",
        pro(A.DOCUMENT_READ, GRANT, REPORT, specialty="occupational_medicine"),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "occupational physician under a grant breaks the glass",
        pro(A.BREAK_GLASS, GRANT, specialty="occupational_medicine"),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    (
        "occupational physician whose grant ended",
        pro(
            A.DOCUMENT_LIST,
            Standing(occupational_until_us=EARLIER),
            specialty="occupational_medicine",
        ),
        False,
        R.NO_OCCUPATIONAL_GRANT,
    ),
    (
        "occupational-physician token kind, granted",
        replace(pro(A.DOCUMENT_LIST, GRANT), actor_kind=K.OCCUPATIONAL_PHYSICIAN),
        False,
        R.ACTOR_NEVER_ALLOWED,
    ),
    ("holder grants", holder(A.OCCUPATIONAL_GRANT), True, R.HOLDER),
    (
        "representative grants",
        Facts(
            K.LEGAL_REPRESENTATIVE,
            A.OCCUPATIONAL_GRANT,
            DossierState.ACTIVE,
            Standing(representative=True),
            NOW,
        ),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    # item 6: the matrix's write cells, unknown professions
    (
        "pharmacist writes vaccination",
        pro(
            A.DOCUMENT_WRITE,
            Standing(authorised_until_us=LATER),
            DocumentFacts(C.VACCINATION),
            "pharmacist",
        ),
        True,
        R.AUTHORISED,
    ),
    (
        "pharmacist writes imaging",
        pro(
            A.DOCUMENT_WRITE,
            Standing(authorised_until_us=LATER),
            DocumentFacts(C.IMAGING),
            "pharmacist",
        ),
        False,
        R.CATEGORY_NOT_WRITABLE,
    ),
    (
        "unknown profession writes",
        pro(A.DOCUMENT_WRITE, Standing(authorised_until_us=LATER), REPORT, "astrologer"),
        False,
        R.CATEGORY_NOT_WRITABLE,
    ),
    (
        "unknown profession reads",
        pro(A.DOCUMENT_READ, Standing(authorised_until_us=LATER), REPORT, "astrologer"),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "treating physician writes whatever the matrix says",
        pro(A.DOCUMENT_WRITE, Standing(treating_physician=True), REPORT, "astrologer"),
        True,
        R.TREATING_PHYSICIAN,
    ),
    (
        "emergency window writes within the row",
        pro(A.DOCUMENT_WRITE, GLASS, REPORT),
        True,
        R.EMERGENCY,
    ),
]


@pytest.mark.parametrize(("name", "given", "allowed", "reason"), TABLE, ids=[t[0] for t in TABLE])
def test_emergency_occupational_and_matrix_decision_table(
    name: str, given: Facts, allowed: bool, reason: Reason
) -> None:
    decision = decide(given)
    assert (decision.allowed, decision.reason) == (allowed, reason)


# -- the enumeration ---------------------------------------------------------------------

RELATIONS: dict[str, Standing] = {
    "none": Standing(),
    "holder": Standing(holder=True),
    "representative": Standing(representative=True),
    "treating": Standing(treating_physician=True),
    "authorised": Standing(authorised_until_us=LATER),
    "expired": Standing(authorised_until_us=EARLIER),
    "blocked": Standing(blocked=True),
    "blocked-authorised": Standing(blocked=True, authorised_until_us=LATER),
    "blocked-treating": Standing(blocked=True, treating_physician=True),
    "occupational-grant": Standing(occupational_until_us=LATER),
    "blocked-granted": Standing(blocked=True, occupational_until_us=LATER),
}
EMERGENCY_STATES: dict[str, Standing] = {
    "none": Standing(),
    "glass-open": Standing(emergency_until_us=LATER),
    "glass-passed": Standing(emergency_until_us=EARLIER),
    "glass-objected": Standing(emergency_until_us=LATER, emergency_refused=True),
    "regulator-open": Standing(emergency_until_us=LATER, emergency_regulation=True),
    "regulator-objected": Standing(
        emergency_until_us=LATER, emergency_regulation=True, regulation_refused=True
    ),
}
TOKENS: list[tuple[ActorKind, str | None, str | None]] = [
    (K.PATIENT, None, None),
    (K.LEGAL_REPRESENTATIVE, None, None),
    (K.PROFESSIONAL, "physician", None),
    (K.PROFESSIONAL, "physician", "medical_regulation"),
    (K.PROFESSIONAL, "physician", "occupational_medicine"),
    (K.PROFESSIONAL, "pharmacist", "medical_regulation"),
    (K.PROFESSIONAL, "nurse", "occupational_medicine"),
    (K.PROFESSIONAL, "astrologer", None),
    (K.PROFESSIONAL, None, None),
    (K.INSURER, None, None),
    (K.COMPLEMENTARY_INSURER, None, None),
    (K.OCCUPATIONAL_PHYSICIAN, None, None),
    (K.INSURANCE_PHYSICIAN, None, None),
    (K.OPERATOR, None, None),
    (K.AUDITOR, None, None),
]
READS = (A.DOCUMENT_READ, A.DOCUMENT_LIST, A.DOSSIER_EXPORT)
OVERRIDES = {  # the patient's overrides of the matrix for the caller (policy/overrides.py)
    "none": Standing(),
    "all-opened": Standing(opened=frozenset(DocumentCategory)),
    "all-closed": Standing(closed=frozenset(DocumentCategory)),
}
_READING_REASONS = frozenset(
    {
        R.HOLDER,
        R.REPRESENTATIVE,
        R.TREATING_PHYSICIAN,
        R.AUTHORISED,
        R.EMERGENCY,
        R.REGULATION,
        R.OCCUPATIONAL_GRANT,
    }
)


def _merge(relation: Standing, emergency: Standing, override: Standing = NO_STANDING) -> Standing:
    return replace(
        relation,
        opened=override.opened,
        closed=override.closed,
        emergency_until_us=emergency.emergency_until_us,
        emergency_refused=emergency.emergency_refused,
        emergency_regulation=emergency.emergency_regulation,
        regulation_refused=emergency.regulation_refused,
    )


CALLER, SOMEONE_ELSE = "10000000001", "10000000002"  # the caller, as documents' authors


def _decisions() -> Iterator[tuple[Facts, DocumentFacts, Decision]]:
    """Every combination, with the document concerned (a single read's, or one the
    caller's listing would meet) and the policy's decision; a listing's decision is
    narrowed to that document by its scope (with the author exemption) as the index
    applies it, a single read's by the policy itself."""
    outer = itertools.product(
        TOKENS,
        RELATIONS.values(),
        DossierState,
        EMERGENCY_STATES.values(),
        OVERRIDES.values(),
    )
    inner = list(
        itertools.product(
            (V.NORMAL, V.MASKED_FROM_PROFESSIONALS, V.HIDDEN_FROM_PATIENT),
            DocumentCategory,
            (False, True),  # the caller wrote the document
            READS,
        )
    )
    for (kind, profession, specialty), relation, state, emergency, override in outer:
        standing = _merge(relation, emergency, override)
        for visibility, category, authored, action in inner:
            document = DocumentFacts(category, visibility, authored_by_caller=authored)
            concerned = document if action is A.DOCUMENT_READ else None
            facts = Facts(kind, action, state, standing, NOW, profession, specialty, concerned)
            decision = decide(replace(facts, caller=CALLER))
            author = CALLER if authored else SOMEONE_ELSE
            listing = action is not A.DOCUMENT_READ and decision.allowed
            if listing and not decision.scope.admits(category, visibility, None, author):
                continue  # not in the listing (or copy): nothing reaches the caller
            yield facts, document, decision


def test_the_issues_invariants_hold_for_every_combination() -> None:
    """Insurers and occupational physicians never read without an explicit grant; a
    blocked professional never reads unless they are the treating physician, alone or
    in a listing, counted or copied; a masked
    document reaches only the holder, the treating physician and its author, whatever
    the patient opened to the caller; a category closed to a professional reaches them
    only if they are the treating physician, wrote the document, or read under an
    occupational grant (its row only: overrides do not apply to it)."""
    met = {"occupational": 0, "blocked-treating": 0, "masked-author": 0, "closed": 0}
    listed = {"masked-author": 0, "closed": 0}  # the same, met by a listing
    for facts, document, decision in _decisions():
        if not decision.allowed:
            continue
        kind, standing = facts.actor_kind, facts.standing
        listing = facts.action is not A.DOCUMENT_READ
        assert decision.reason in _READING_REASONS, facts
        assert kind not in (K.INSURER, K.COMPLEMENTARY_INSURER, K.INSURANCE_PHYSICIAN), facts
        if kind is K.OCCUPATIONAL_PHYSICIAN or facts.specialty == "occupational_medicine":
            assert standing.occupational_until_us == LATER, facts
            assert decision.reason is R.OCCUPATIONAL_GRANT, facts
            met["occupational"] += 1
        if kind is K.PROFESSIONAL and standing.blocked:
            assert standing.treating_physician, facts
            met["blocked-treating"] += 1
        if document.visibility is V.MASKED_FROM_PROFESSIONALS:
            readers = {R.HOLDER, R.REPRESENTATIVE, R.TREATING_PHYSICIAN}
            assert decision.reason in readers or document.authored_by_caller, facts
            met["masked-author"] += decision.reason not in readers
            listed["masked-author"] += listing and decision.reason not in readers
        if standing.closed and kind is K.PROFESSIONAL:
            unaffected = decision.reason in (R.TREATING_PHYSICIAN, R.OCCUPATIONAL_GRANT)
            assert unaffected or document.authored_by_caller, (facts, decision)
            met["closed"] += not unaffected
            listed["closed"] += listing and not unaffected
    assert all(met.values()), met  # each invariant met a case that could break it
    assert all(listed.values()), listed  # in listings too (the scope's author exemption)


def test_an_unknown_profession_reads_and_writes_nothing_whatever_its_standing() -> None:
    met = 0
    for (_, standing), emergency, category, action in itertools.product(
        RELATIONS.items(),
        EMERGENCY_STATES.values(),
        DocumentCategory,
        (A.DOCUMENT_READ, A.DOCUMENT_WRITE),
    ):
        merged = _merge(standing, emergency)
        for profession in ("astrologer", None):
            decision = decide(pro(action, merged, DocumentFacts(category), profession))
            if decision.allowed:
                assert merged.treating_physician, (standing, emergency, action)
                met += 1
    assert met


def test_the_default_matrix_lets_no_profession_write_the_reimbursement_history() -> None:
    for name in DEFAULT_MATRIX.rows:
        profession, _, specialty = name.partition("/")
        writes = DocumentFacts(C.REIMBURSEMENT_HISTORY)
        facts = pro(
            A.DOCUMENT_WRITE,
            Standing(authorised_until_us=LATER, occupational_until_us=LATER),
            writes,
            profession,
            specialty or None,
        )
        assert decide(facts).reason is R.CATEGORY_NOT_WRITABLE
