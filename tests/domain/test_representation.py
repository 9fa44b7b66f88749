"""How long a representative acts, and who sets the holder's date of birth after
creation (issue 15, item 3): vault/domain/representation.py and the policy's
`dossier.birth-date` (vault/domain/policy/birth.py), as tables."""

from __future__ import annotations

from datetime import date

import pytest

from tests.domain.test_majority import NOW_US, TODAY, _paris
from vault.domain.identifiers import parse_ins
from vault.domain.majority import majority_us
from vault.domain.model import ActorKind, DossierState
from vault.domain.policy import Action, Facts, Reason, Standing, decide
from vault.domain.representation import (
    agrees_with_nir,
    check_not_own_representation,
    check_representation_expiry,
    check_within_own_term,
    representation_end,
)
from vault.errors import FailedPreconditionError, InvalidArgumentError

DAY_US = 24 * 3600 * 1_000_000
MAJORITY = _paris(date(2030, 1, 1))


@pytest.mark.parametrize(
    ("majority", "expires", "end"),
    [
        (None, None, None),  # neither known: until removed
        (MAJORITY, None, MAJORITY),  # a minor's: at the majority
        (None, NOW_US + DAY_US, NOW_US + DAY_US),  # a protected adult's: at the expiry
        (MAJORITY, MAJORITY + DAY_US, MAJORITY),  # the earlier of the two
        (MAJORITY, MAJORITY - DAY_US, MAJORITY - DAY_US),
    ],
)
def test_a_representation_ends_at_the_earlier_of_majority_and_expiry(
    majority: int | None, expires: int | None, end: int | None
) -> None:
    assert representation_end(majority, expires) == end


@pytest.mark.parametrize(
    ("expires", "refused"),
    [
        (NOW_US + 1, None),
        (NOW_US + 20 * 365 * DAY_US, None),  # twenty years, leap days aside
        (NOW_US, InvalidArgumentError),  # now is not ahead
        (NOW_US - DAY_US, InvalidArgumentError),
        (NOW_US + 20 * 366 * DAY_US, InvalidArgumentError),  # beyond a measure's longest
    ],
)
def test_a_representations_expiry_is_ahead_and_within_a_measures_longest(
    expires: int, refused: type[Exception] | None
) -> None:
    if refused is None:
        assert check_representation_expiry(expires, NOW_US) == expires
    else:
        with pytest.raises(refused):
            check_representation_expiry(expires, NOW_US)


def test_nobody_records_their_own_representation() -> None:
    check_not_own_representation("ins-hmac:aa", "ins-hmac:bb")
    with pytest.raises(FailedPreconditionError):
        check_not_own_representation("ins-hmac:aa", "ins-hmac:aa")


@pytest.mark.parametrize(
    ("own", "expires", "refused"),
    [
        (None, None, False),  # a parent (no measure) records anyone
        (None, NOW_US + DAY_US, False),
        (NOW_US + 30 * DAY_US, NOW_US + 29 * DAY_US, False),  # within the guardian's term
        (NOW_US + 30 * DAY_US, NOW_US + 30 * DAY_US, False),
        (NOW_US + 30 * DAY_US, NOW_US + 31 * DAY_US, True),  # beyond it
        (NOW_US + 30 * DAY_US, None, True),  # without an end
    ],
)
def test_a_guardian_records_no_one_beyond_their_own_measure(
    own: int | None, expires: int | None, refused: bool
) -> None:
    if refused:
        with pytest.raises(FailedPreconditionError):
            check_within_own_term(own, expires)
    else:
        check_within_own_term(own, expires)


def _ins(nir13: str) -> str:
    return nir13 + f"{97 - int(nir13) % 97:02d}"


@pytest.mark.parametrize(
    ("nir13", "born", "agrees"),
    [
        ("2150675123456", date(2015, 6, 30), True),  # year 15, month 06
        ("2150675123456", date(1915, 6, 1), True),  # the century is not in the NIR
        ("2150675123456", date(2015, 7, 1), False),  # another month
        ("2150675123456", date(2014, 6, 1), False),  # another year
        ("1154075123456", date(1999, 1, 1), True),  # month 40: unknown, checks nothing
        ("7150675123456", date(1999, 1, 1), True),  # a provisional NIA: nothing
    ],
)
def test_a_date_of_birth_is_cross_checked_with_the_nirs_year_and_month(
    nir13: str, born: date, agrees: bool
) -> None:
    assert agrees_with_nir(parse_ins(_ins(nir13)), born) is agrees


_MINOR = majority_us(date(2016, 3, 1))  # ten years old on TODAY
_OF_AGE = majority_us(date(1990, 3, 1))
_TOMORROW = majority_us(date(2008, 12, 8))  # 18 tomorrow
_TODAY = majority_us(TODAY.replace(year=TODAY.year - 18))  # 18 today

BIRTH_DATE = [  # (case, kind, standing, the new date's majority, allowed, reason)
    ("holder sets their date", ActorKind.PATIENT, Standing(holder=True), _OF_AGE, True, "holder"),
    ("holder, a minor", ActorKind.PATIENT, Standing(holder=True), _MINOR, True, "holder"),
    (
        "representative sets a minor's",
        ActorKind.LEGAL_REPRESENTATIVE,
        Standing(representative=True, representative_until_us=_MINOR),
        _MINOR,
        True,
        "representative",
    ),
    (
        "representative, 18 tomorrow",
        ActorKind.LEGAL_REPRESENTATIVE,
        Standing(representative=True),
        _TOMORROW,
        True,
        "representative",
    ),
    (
        "representative, 18 today",
        ActorKind.LEGAL_REPRESENTATIVE,
        Standing(representative=True),
        _TODAY,
        False,
        "holder-of-age",
    ),
    (
        "representative sets an adult's",
        ActorKind.LEGAL_REPRESENTATIVE,
        Standing(representative=True),
        _OF_AGE,
        False,
        "holder-of-age",
    ),
    (
        "former representative (majority passed)",
        ActorKind.LEGAL_REPRESENTATIVE,
        Standing(representative=True, representative_until_us=NOW_US - DAY_US),
        _MINOR,
        False,
        "not-representative",
    ),
    (
        "guardian past the measure's expiry",
        ActorKind.LEGAL_REPRESENTATIVE,
        Standing(representative=True, representative_until_us=NOW_US),
        _MINOR,
        False,
        "not-representative",
    ),
    (
        "another patient",
        ActorKind.PATIENT,
        Standing(),
        _OF_AGE,
        False,
        "not-holder",
    ),
    (
        "treating physician",
        ActorKind.PROFESSIONAL,
        Standing(treating_physician=True),
        _OF_AGE,
        False,
        "action-not-permitted",
    ),
    ("insurer", ActorKind.INSURER, Standing(), _OF_AGE, False, "actor-never-allowed"),
    ("operator", ActorKind.OPERATOR, Standing(), _OF_AGE, False, "actor-never-allowed"),
]


@pytest.mark.parametrize(
    ("case", "kind", "standing", "majority", "allowed", "reason"),
    BIRTH_DATE,
    ids=[row[0] for row in BIRTH_DATE],
)
def test_birth_date_decision_table(
    case: str,
    kind: ActorKind,
    standing: Standing,
    majority: int,
    allowed: bool,
    reason: str,
) -> None:
    facts = Facts(
        kind,
        Action.BIRTH_DATE_SET,
        DossierState.ACTIVE,
        standing,
        NOW_US,
        "physician",
        new_majority_us=majority,
    )
    decision = decide(facts)
    assert (decision.allowed, decision.reason) == (allowed, Reason(reason)), case


def test_nobody_sets_a_birth_date_on_a_closed_dossier_nor_a_representative_without_time() -> None:
    closed = Facts(ActorKind.PATIENT, Action.BIRTH_DATE_SET, DossierState.CLOSED, Standing(True))
    assert decide(closed).reason is Reason.DOSSIER_NOT_ACTIVE
    unknown = Facts(
        ActorKind.LEGAL_REPRESENTATIVE,
        Action.BIRTH_DATE_SET,
        DossierState.ACTIVE,
        Standing(representative=True),
        None,
        new_majority_us=_MINOR,
    )
    assert decide(unknown).reason is Reason.HOLDER_OF_AGE  # time unknown: refused
