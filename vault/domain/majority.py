"""When a minor comes of age, for the end of their legal representatives' rights.

`majority_us` turns a date of birth into the moment of the 18th birthday: 00:00 in
metropolitan France's time (Europe/Paris) on that day; a birthday on 29 February is
reached on 1 March in a common year (the representation never ends early). The policy
reads the result as `Standing.representative_until_us`. Pure: no I/O, no clock.

`parse_birth_date` reads a date of birth as callers give it (`YYYY-MM-DD`), and
`check_birth_date` refuses one in the future, or, for a dossier a representative opens,
one already of age (the date would end their rights at once: a protected adult's
representation has no end date here).

What it does not do: store the date (sealed under the dossier key,
vault/birth_secrets.py), or cross-check it against the NIR's year and month.
"""

from __future__ import annotations

from datetime import date, datetime, time

from vault.domain.clock import FRANCE, france_date, to_us
from vault.errors import FailedPreconditionError, InvalidArgumentError

AGE_OF_MAJORITY = 18  # Code civil, art. 414


def coming_of_age(birth: date, age: int = AGE_OF_MAJORITY) -> date:
    """The day the person born on `birth` is `age` years old."""
    try:
        return birth.replace(year=birth.year + age)
    except ValueError:  # 29 February, in a common year: the day after 28 February
        return date(birth.year + age, 3, 1)


def majority_us(birth: date, age: int = AGE_OF_MAJORITY) -> int:
    """The moment (Unix microseconds) the person born on `birth` comes of age."""
    return to_us(datetime.combine(coming_of_age(birth, age), time(), tzinfo=FRANCE))


def parse_birth_date(text: str) -> date | None:
    """`YYYY-MM-DD` as a date; the empty text is none given. InvalidArgumentError for
    anything else (no other ISO 8601 form: the sealed format is exactly this one)."""
    if not text:
        return None
    try:
        born = date.fromisoformat(text) if len(text) == len("YYYY-MM-DD") else None
    except ValueError:
        born = None
    if born is None or born.isoformat() != text:
        raise InvalidArgumentError("a date of birth is YYYY-MM-DD")
    return born


def check_birth_date(born: date, now_us: int, *, by_representative: bool) -> date:
    """`born` if it may be recorded at `now_us`: not after today in France, and when a
    representative records it, the holder still a minor."""
    if born > france_date(now_us):
        raise InvalidArgumentError("a date of birth is not in the future")
    if by_representative and majority_us(born) <= now_us:
        raise FailedPreconditionError(
            "the holder is of age: a representative's rights would end at once"
        )
    return born
