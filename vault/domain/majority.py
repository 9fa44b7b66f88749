"""When a minor comes of age, for the end of their legal representatives' rights.

`majority_us` turns a date of birth into the moment of the 18th birthday: 00:00 in
metropolitan France's time (Europe/Paris) on that day; a birthday on 29 February is
reached on 1 March in a common year (the representation never ends early). The policy
reads the result as `Standing.representative_until_us`. Pure: no I/O, no clock.

What it does not do: store the date of birth (to be sealed under the dossier key, issue
15 item 3, not built yet), or cross-check it against the NIR's year and month.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from vault.domain.clock import to_us

AGE_OF_MAJORITY = 18  # Code civil, art. 414
_FRANCE = ZoneInfo("Europe/Paris")


def coming_of_age(birth: date, age: int = AGE_OF_MAJORITY) -> date:
    """The day the person born on `birth` is `age` years old."""
    try:
        return birth.replace(year=birth.year + age)
    except ValueError:  # 29 February, in a common year: the day after 28 February
        return date(birth.year + age, 3, 1)


def majority_us(birth: date, age: int = AGE_OF_MAJORITY) -> int:
    """The moment (Unix microseconds) the person born on `birth` comes of age."""
    return to_us(datetime.combine(coming_of_age(birth, age), time(), tzinfo=_FRANCE))
