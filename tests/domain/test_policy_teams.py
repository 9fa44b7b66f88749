"""Care teams (issue 16, item 1) and consent for one consultation (item 2) in the pure
policy: a table of cases, invariants over an enumeration (a team never gives more than
an authorisation would, a block wins over a team but for the treating physician), and
the consent window's end, "the day" in France."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from vault.domain.clock import to_us
from vault.domain.model import ActorKind, DocumentCategory, DossierState, Visibility
from vault.domain.policy import Action, DocumentFacts, Facts, Reason, Standing, decide
from vault.domain.policy.consent import THE_DAY, ConsentWindow, parse_consent_window

A, K, R, V, C = Action, ActorKind, Reason, Visibility, DocumentCategory
NOW = 1_000_000_000
TEAM = Standing(team_until_us=NOW + 1)
LAPSED_TEAM = Standing(team_until_us=NOW)
BLOCKED_TEAM = Standing(team_until_us=NOW + 1, blocked=True)
TREATING_BLOCKED_TEAM = Standing(team_until_us=NOW + 1, blocked=True, treating_physician=True)
TEAM_AND_AUTHORISED = Standing(team_until_us=NOW + 1, authorised_until_us=NOW + 1)
TEAM_AND_EMERGENCY = Standing(team_until_us=NOW + 1, emergency_until_us=NOW + 1)
MASKED = DocumentFacts(C.REPORTS, V.MASKED_FROM_PROFESSIONALS)
MASKED_OWN = DocumentFacts(C.REPORTS, V.MASKED_FROM_PROFESSIONALS, authored_by_caller=True)


def professional(
    action: Action,
    standing: Standing,
    document: DocumentFacts | None = None,
    profession: str = "physician",
    now_us: int | None = NOW,
) -> Facts:
    return Facts(
        K.PROFESSIONAL, action, DossierState.ACTIVE, standing, now_us, profession, None, document
    )


def patient_side(kind: ActorKind, action: Action, standing: Standing) -> Facts:
    return Facts(kind, action, DossierState.ACTIVE, standing, NOW)


TABLE: list[tuple[str, Facts, bool, Reason]] = [
    (
        "team member lists the dossier",
        professional(A.DOCUMENT_LIST, TEAM),
        True,
        R.CARE_TEAM,
    ),
    (
        "team member writes a report",
        professional(A.DOCUMENT_WRITE, TEAM, DocumentFacts(C.REPORTS)),
        True,
        R.CARE_TEAM,
    ),
    (
        "team member reads a masked document",
        professional(A.DOCUMENT_READ, TEAM, MASKED),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "team member reads back a masked document they wrote",
        professional(A.DOCUMENT_READ, TEAM, MASKED_OWN),
        True,
        R.CARE_TEAM,
    ),
    (
        "pharmacist in a team reads imaging (outside their matrix)",
        professional(A.DOCUMENT_READ, TEAM, DocumentFacts(C.IMAGING), "pharmacist"),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "unknown profession in a team reads a report",
        professional(A.DOCUMENT_READ, TEAM, DocumentFacts(C.REPORTS), "astrologer"),
        False,
        R.DOCUMENT_HIDDEN,
    ),
    (
        "member of a lapsed team lists",
        professional(A.DOCUMENT_LIST, LAPSED_TEAM),
        False,
        R.NO_AUTHORISATION,
    ),
    (
        "team member, time unknown",
        professional(A.DOCUMENT_LIST, TEAM, now_us=None),
        False,
        R.NO_AUTHORISATION,
    ),
    (
        "blocked team member lists",
        professional(A.DOCUMENT_LIST, BLOCKED_TEAM),
        False,
        R.BLOCKED,
    ),
    (
        "blocked team member who is the treating physician reads a masked document",
        professional(A.DOCUMENT_READ, TREATING_BLOCKED_TEAM, MASKED),
        True,
        R.TREATING_PHYSICIAN,
    ),
    (
        "authorised team member: the authorisation answers first",
        professional(A.DOCUMENT_LIST, TEAM_AND_AUTHORISED),
        True,
        R.AUTHORISED,
    ),
    (
        "team member with an emergency window: not an emergency access",
        professional(A.DOCUMENT_LIST, TEAM_AND_EMERGENCY),
        True,
        R.CARE_TEAM,
    ),
    (
        "team member reads the access rules",
        professional(A.ACCESS_READ, TEAM),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    (
        "team member adds a team",
        professional(A.CARE_TEAM_ADD, TEAM),
        False,
        R.ACTION_NOT_PERMITTED,
    ),
    (
        "holder adds a team",
        patient_side(K.PATIENT, A.CARE_TEAM_ADD, Standing(holder=True)),
        True,
        R.HOLDER,
    ),
    (
        "representative removes a team",
        patient_side(K.LEGAL_REPRESENTATIVE, A.CARE_TEAM_REMOVE, Standing(representative=True)),
        True,
        R.REPRESENTATIVE,
    ),
    (
        "another patient adds a team",
        patient_side(K.PATIENT, A.CARE_TEAM_ADD, Standing()),
        False,
        R.NOT_HOLDER,
    ),
    (
        "insurer adds a team",
        patient_side(K.INSURER, A.CARE_TEAM_ADD, Standing()),
        False,
        R.ACTOR_NEVER_ALLOWED,
    ),
    (
        "occupational physician in a team lists",
        replace(professional(A.DOCUMENT_LIST, TEAM), actor_kind=K.OCCUPATIONAL_PHYSICIAN),
        False,
        R.ACTOR_NEVER_ALLOWED,
    ),
    (
        "team member of a closed dossier lists",
        replace(professional(A.DOCUMENT_LIST, TEAM), dossier_state=DossierState.CLOSED),
        False,
        R.DOSSIER_NOT_ACTIVE,
    ),
    (
        "blocked professional declares consent",
        professional(A.CONSENT_RECORD, Standing(blocked=True)),
        False,
        R.BLOCKED,
    ),
    (
        "stranger declares consent",
        professional(A.CONSENT_RECORD, Standing()),
        True,
        R.CONSENT,
    ),
]


@pytest.mark.parametrize(("name", "facts", "allowed", "reason"), TABLE, ids=[t[0] for t in TABLE])
def test_care_team_decision_table(name: str, facts: Facts, allowed: bool, reason: Reason) -> None:
    decision = decide(facts)
    assert (decision.allowed, decision.reason) == (allowed, reason), name


_ACTIONS = [A.DOSSIER_READ, A.DOCUMENT_LIST, A.DOCUMENT_READ, A.DOCUMENT_WRITE, A.ACCESS_READ]
_PROFESSIONS = ["physician", "pharmacist", "nurse", "astrologer"]
_DOCUMENTS = [
    DocumentFacts(category, visibility, authored)
    for category in C
    for visibility in (V.NORMAL, V.MASKED_FROM_PROFESSIONALS)
    for authored in (False, True)
]


def _standings() -> list[Standing]:
    windows = (None, NOW - 1, NOW + 1)
    return [
        Standing(team_until_us=team, authorised_until_us=auth, blocked=blocked)
        for team, auth, blocked in itertools.product(windows, windows, (False, True))
    ]


def test_a_team_never_gives_more_than_an_authorisation_and_a_block_always_wins() -> None:
    """Over professions x actions x documents x standings: a team member is allowed
    exactly what the same professional authorised until the team's end would be; a
    blocked one (not treating physician) gets nothing."""
    cases = itertools.product(_PROFESSIONS, _ACTIONS, [None, *_DOCUMENTS], _standings())
    for profession, action, document, standing in cases:
        if action is A.DOCUMENT_WRITE and document is not None:
            document = replace(document, visibility=V.NORMAL)
        facts = professional(action, standing, document, profession)
        decision = decide(facts)
        if standing.blocked:
            assert (decision.allowed, decision.reason) == (False, R.BLOCKED)
            continue
        if standing.team_until_us is None:
            continue
        as_authorised = replace(
            standing,
            team_until_us=None,
            authorised_until_us=max(standing.authorised_until_us or 0, standing.team_until_us),
        )
        twin = decide(replace(facts, standing=as_authorised))
        assert decision.allowed == twin.allowed, facts
        assert decision.scope == twin.scope, facts


def _paris(text: str) -> int:
    return to_us(datetime.fromisoformat(text))


@pytest.mark.parametrize(
    ("declared", "lapses"),
    [
        ("2026-12-07T09:30:00+01:00", "2026-12-08T00:00:00+01:00"),
        ("2026-12-07T23:59:59+01:00", "2026-12-08T00:00:00+01:00"),
        ("2026-12-07T00:00:00+01:00", "2026-12-08T00:00:00+01:00"),
        # the day in France, not in UTC: 23:30 UTC on the 7th is already the 8th in Paris
        ("2026-12-07T23:30:00+00:00", "2026-12-09T00:00:00+01:00"),
        # summer time, and the day clocks go back (25 hours long)
        ("2026-07-14T10:00:00+02:00", "2026-07-15T00:00:00+02:00"),
        ("2026-10-25T01:00:00+02:00", "2026-10-26T00:00:00+01:00"),
    ],
)
def test_a_declared_consent_lapses_at_midnight_in_france_the_day_it_is_declared(
    declared: str, lapses: str
) -> None:
    assert THE_DAY.until_us(_paris(declared)) == _paris(lapses)


def test_a_consent_window_in_hours_lapses_that_long_after_the_declaration() -> None:
    declared = to_us(datetime(2026, 12, 7, 23, 0, tzinfo=UTC))
    assert ConsentWindow(24).until_us(declared) == declared + 24 * 3600 * 1_000_000


@pytest.mark.parametrize(
    ("text", "window"), [("day", THE_DAY), ("DAY", THE_DAY), ("24h", ConsentWindow(24))]
)
def test_the_consent_window_setting_reads_a_day_or_hours(text: str, window: ConsentWindow) -> None:
    assert parse_consent_window(text) == window
    assert parse_consent_window(str(window)) == window


@pytest.mark.parametrize("text", ["", "0h", "49h", "1y", "365d", "-1h", "24"])
def test_the_consent_window_setting_refuses_anything_longer_or_else(text: str) -> None:
    with pytest.raises(ValueError, match="day"):
        parse_consent_window(text)
