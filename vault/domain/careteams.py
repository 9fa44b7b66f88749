"""A care team's parts, checked: its members (RPPS numbers and structure identifiers),
its name and its lifetime. Pure: no I/O. The team itself is `model.CareTeam`; who a team
lets in is the policy's (`policy/teams.py`); storing it is the index's.

A member is written as the identifier itself, which its length tells apart: an RPPS
number is 11 digits (Luhn-checked), a FINESS 9 characters (2 digits, or `2A`/`2B` for
Corsica, then 7 digits), a SIRET 14 digits. A professional matches a member by their
token's RPPS (`sub`) or by the structure their token carries (`structure`, docs/tokens.md).
Error messages never echo the input (a name is health data).
"""

from __future__ import annotations

import re

from vault.domain.identifiers import parse_rpps
from vault.errors import InvalidArgumentError

STRUCTURE = re.compile(r"[0-9]{9}|2[AB][0-9]{7}|[0-9]{14}")
"""A FINESS (9 characters) or a SIRET (14 digits)."""
MAX_MEMBERS = 200  # a hospital service lists its structure, not its 2,000 staff
MAX_NAME_LENGTH = 200  # characters
DEFAULT_TEAM_LIFETIME_US = 365 * 24 * 3600 * 1_000_000  # as an authorisation: renewable
MAX_TEAM_LIFETIME_US = 3 * DEFAULT_TEAM_LIFETIME_US


def is_structure(text: str) -> bool:
    return STRUCTURE.fullmatch(text) is not None


def parse_member(text: str) -> str:
    """An RPPS number, a FINESS or a SIRET; INVALID_ARGUMENT otherwise."""
    candidate = text.strip().upper()
    if is_structure(candidate):
        return candidate
    try:
        return parse_rpps(candidate)
    except InvalidArgumentError:
        raise InvalidArgumentError(
            "malformed care team member: expected an RPPS number, a FINESS or a SIRET"
        ) from None


def parse_members(texts: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """At least one member, at most `MAX_MEMBERS`, each once, in a stable order."""
    members = tuple(sorted({parse_member(t) for t in texts}))
    if not members:
        raise InvalidArgumentError("a care team needs at least one member")
    if len(members) > MAX_MEMBERS:
        raise InvalidArgumentError(f"a care team has at most {MAX_MEMBERS} members")
    return members


def parse_name(text: str) -> str:
    name = text.strip()
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise InvalidArgumentError(
            f"a care team's name is 1 to {MAX_NAME_LENGTH} printable characters"
        )
    return name


def team_expiry_us(now_us: int, expires_us: int | None) -> int:
    """When a team added at `now_us` lapses: `expires_us` if given (in the future, at
    most three years away), else a year from now."""
    if expires_us is None:
        return now_us + DEFAULT_TEAM_LIFETIME_US
    if not now_us < expires_us <= now_us + MAX_TEAM_LIFETIME_US:
        raise InvalidArgumentError("a care team's expiry is in the future, at most 3 years away")
    return expires_us
