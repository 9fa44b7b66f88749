"""A care team's parts are checked before anything is stored: members are RPPS numbers,
FINESS or SIRET, told apart by their form; a name is printable and bounded; an expiry
is in the future and at most three years away. Errors never echo the input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.domain.careteams import (
    DEFAULT_TEAM_LIFETIME_US,
    MAX_MEMBERS,
    MAX_TEAM_LIFETIME_US,
    is_structure,
    parse_member,
    parse_members,
    parse_name,
    team_expiry_us,
)
from vault.domain.identifiers import luhn_valid
from vault.errors import InvalidArgumentError

RPPS = next(f"1000000001{d}" for d in "0123456789" if luhn_valid(f"1000000001{d}"))


@pytest.mark.parametrize(
    ("text", "member"),
    [
        (RPPS, RPPS),
        ("750712184", "750712184"),  # a FINESS
        ("2a0000123", "2A0000123"),  # a Corsican FINESS
        ("73282932000074", "73282932000074"),  # a SIRET
    ],
)
def test_a_member_is_an_rpps_a_finess_or_a_siret(text: str, member: str) -> None:
    assert parse_member(text) == member


def _well_formed(text: str) -> bool:
    candidate = text.strip().upper()
    rpps = len(candidate) == 11 and candidate.isascii() and candidate.isdigit()
    return is_structure(candidate) or (rpps and luhn_valid(candidate))


@given(st.text(max_size=30))
def test_anything_else_is_refused_with_one_message_that_echoes_nothing(text: str) -> None:
    if _well_formed(text):
        assert len(parse_member(text)) in (9, 11, 14)
        return
    with pytest.raises(InvalidArgumentError) as refused:
        parse_member(text)
    assert str(refused.value) == (
        "malformed care team member: expected an RPPS number, a FINESS or a SIRET"
    )


def test_members_are_kept_once_each_and_bounded() -> None:
    assert parse_members([RPPS, "750712184", RPPS]) == (RPPS, "750712184")
    with pytest.raises(InvalidArgumentError):
        parse_members([])
    too_many = [f"{n:09d}" for n in range(MAX_MEMBERS + 1)]
    with pytest.raises(InvalidArgumentError):
        parse_members(too_many)


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "line\nbreak"])
def test_a_team_name_is_printable_and_bounded(name: str) -> None:
    with pytest.raises(InvalidArgumentError) as refused:
        parse_name(name)
    assert name.strip() == "" or name not in str(refused.value)


def test_a_team_lasts_a_year_unless_told_otherwise_never_past_three() -> None:
    now = 10**15
    assert team_expiry_us(now, None) == now + DEFAULT_TEAM_LIFETIME_US
    assert team_expiry_us(now, now + 1) == now + 1
    for wrong in (now, now - 1, now + MAX_TEAM_LIFETIME_US + 1):
        with pytest.raises(InvalidArgumentError):
            team_expiry_us(now, wrong)
