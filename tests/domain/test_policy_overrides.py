"""Issue 16, item 6's last part, in the pure policy: the patient's overrides of the
authorisation matrix for their dossier (policy/overrides.py). A category opened to a
named professional adds to their row, one closed to them is taken out of it; neither
opens the dossier, shows a masked document, reaches the treating physician or an
author reading back, nor applies to an occupational physician."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from vault.domain.model import ActorKind, DocumentCategory, DossierState, Visibility
from vault.domain.policy import Action, DocumentFacts, Facts, Reason, Standing, decide

A, K, R, V, C = Action, ActorKind, Reason, Visibility, DocumentCategory
NOW = 1_000_000_000
LATER = NOW + 1
AUTHORISED = Standing(authorised_until_us=LATER)
OPEN_IMAGING = frozenset({C.IMAGING})
CLOSE_BIOLOGY = frozenset({C.BIOLOGY})


@dataclass(frozen=True)
class Row:
    name: str
    standing: Standing
    document: DocumentFacts
    reason: Reason
    profession: str = "pharmacist"  # reads biology, not imaging, in the default matrix
    specialty: str | None = None
    kind: ActorKind = K.PROFESSIONAL
    action: Action = A.DOCUMENT_READ


def _with(
    standing: Standing,
    opened: frozenset[DocumentCategory] = frozenset(),
    closed: frozenset[DocumentCategory] = frozenset(),
) -> Standing:
    return replace(standing, opened=opened, closed=closed)


ROWS = [
    Row(
        "pharmacist reads imaging, not in their row",
        AUTHORISED,
        DocumentFacts(C.IMAGING),
        R.DOCUMENT_HIDDEN,
    ),
    Row(
        "imaging opened to the pharmacist",
        _with(AUTHORISED, OPEN_IMAGING),
        DocumentFacts(C.IMAGING),
        R.AUTHORISED,
    ),
    Row(
        "biology closed to the pharmacist",
        _with(AUTHORISED, closed=CLOSE_BIOLOGY),
        DocumentFacts(C.BIOLOGY),
        R.DOCUMENT_HIDDEN,
    ),
    Row(
        "a close wins over an open of the same category",
        _with(AUTHORISED, CLOSE_BIOLOGY, CLOSE_BIOLOGY),
        DocumentFacts(C.BIOLOGY),
        R.DOCUMENT_HIDDEN,
    ),
    Row(
        "other categories keep the row",
        _with(AUTHORISED, closed=CLOSE_BIOLOGY),
        DocumentFacts(C.SYNTHESIS),
        R.AUTHORISED,
    ),
    Row(
        "an open shows no masked document",
        _with(AUTHORISED, OPEN_IMAGING),
        DocumentFacts(C.IMAGING, V.MASKED_FROM_PROFESSIONALS),
        R.DOCUMENT_HIDDEN,
    ),
    Row(
        "an open opens no dossier to a stranger",
        _with(Standing(), OPEN_IMAGING),
        DocumentFacts(C.IMAGING),
        R.NO_AUTHORISATION,
    ),
    Row(
        "a close does not reach the treating physician",
        _with(Standing(treating_physician=True), closed=CLOSE_BIOLOGY),
        DocumentFacts(C.BIOLOGY),
        R.TREATING_PHYSICIAN,
    ),
    Row(
        "the author reads back a closed category",
        _with(AUTHORISED, closed=CLOSE_BIOLOGY),
        DocumentFacts(C.BIOLOGY, authored_by_caller=True),
        R.AUTHORISED,
    ),
    Row(
        "a care team member's row is adjusted",
        _with(Standing(team_until_us=LATER), OPEN_IMAGING),
        DocumentFacts(C.IMAGING),
        R.CARE_TEAM,
    ),
    Row(
        "a close holds in a break-the-glass window",
        _with(Standing(emergency_until_us=LATER), closed=frozenset({C.REPORTS})),
        DocumentFacts(C.REPORTS),
        R.DOCUMENT_HIDDEN,
        profession="physician",
    ),
    Row(
        "an open does not extend an occupational grant",
        _with(Standing(occupational_until_us=LATER), OPEN_IMAGING),
        DocumentFacts(C.IMAGING),
        R.DOCUMENT_HIDDEN,
        profession="physician",
        specialty="occupational_medicine",
    ),
    Row(
        "an open gives an unknown profession its category only",
        _with(AUTHORISED, OPEN_IMAGING),
        DocumentFacts(C.IMAGING),
        R.AUTHORISED,
        profession="astrologer",
    ),
    Row(
        "an open does not let the pharmacist write imaging",
        _with(AUTHORISED, OPEN_IMAGING),
        DocumentFacts(C.IMAGING),
        R.CATEGORY_NOT_WRITABLE,
        action=A.DOCUMENT_WRITE,
    ),
    Row(
        "the insurer reads nothing whatever is opened",
        _with(Standing(), OPEN_IMAGING),
        DocumentFacts(C.IMAGING),
        R.ACTOR_NEVER_ALLOWED,
        kind=K.INSURER,
        profession="",
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_matrix_overrides_decision_table(row: Row) -> None:
    facts = Facts(
        row.kind,
        row.action,
        DossierState.ACTIVE,
        row.standing,
        NOW,
        row.profession or None,
        row.specialty,
        row.document,
    )
    decision = decide(facts)
    assert decision.reason is row.reason
    assert decision.allowed == (row.reason in {R.AUTHORISED, R.CARE_TEAM, R.TREATING_PHYSICIAN})


def test_a_listing_scope_carries_the_overrides_so_listings_agree_with_single_reads() -> None:
    """ListDocuments and CountDocuments apply the decision's scope in SQL: the override
    must be in it, not only in the single-document rule."""
    standing = _with(AUTHORISED, OPEN_IMAGING, CLOSE_BIOLOGY)
    listing = decide(
        Facts(K.PROFESSIONAL, A.DOCUMENT_LIST, DossierState.ACTIVE, standing, NOW, "pharmacist")
    )
    assert C.IMAGING in listing.scope.categories
    assert C.BIOLOGY not in listing.scope.categories
    for category in C:
        single = decide(
            Facts(
                K.PROFESSIONAL,
                A.DOCUMENT_READ,
                DossierState.ACTIVE,
                standing,
                NOW,
                "pharmacist",
                document=DocumentFacts(category),
            )
        )
        assert single.allowed == (category in listing.scope.categories), category
