"""How long a legal representative acts for the holder, and what may be recorded about
it: until the holder's majority (a minor's representative, vault/domain/majority.py) or
until the expiry a protected adult's measure gives (tutelle, curatelle: the judge sets
its duration; recorded with the representation), whichever comes first.

`representation_end` combines the two into `Standing.representative_until_us`;
`check_representation_expiry` refuses an expiry that is past or beyond the longest a
measure may run; `check_not_own_representation` refuses a representative recording their
own representation (they would set or lift their own term), and `check_within_own_term`
one whose own measure ends recording someone beyond that end. `agrees_with_nir` is the
cross-check of a date of birth against the year and month the holder's NIR carries.

Pure: no I/O, no clock. What it does not do: read the relation or the date (the gate,
vault/service/representation.py), or decide who may record them (the policy).
"""

from __future__ import annotations

from datetime import date

from vault.domain.identifiers import Ins
from vault.errors import FailedPreconditionError, InvalidArgumentError

MEASURE_MAX_YEARS = 20
"""The longest a protected adult's measure runs before a judge renews it: five years
when first ordered, up to twenty when renewed (Code civil art. 441 and 442, as we read
them; unverified offline). An expiry beyond is a typo or a forgery."""
_YEAR_US = 365 * 24 * 3600 * 1_000_000 + 6 * 3600 * 1_000_000  # a Julian year


def representation_end(majority_us: int | None, expires_us: int | None) -> int | None:
    """The moment a representation ends: the earlier of the holder's majority and the
    expiry recorded with it; None when neither is known (it lasts until removed)."""
    known = [moment for moment in (majority_us, expires_us) if moment is not None]
    return min(known) if known else None


def check_representation_expiry(expires_us: int, now_us: int) -> int:
    """`expires_us` if a representation may be recorded until it at `now_us`: after now,
    and within `MEASURE_MAX_YEARS`."""
    if expires_us <= now_us:
        raise InvalidArgumentError("a representation's expiry is in the future")
    if expires_us > now_us + MEASURE_MAX_YEARS * _YEAR_US:
        raise InvalidArgumentError(
            f"a representation's expiry is at most {MEASURE_MAX_YEARS} years away"
        )
    return expires_us


def check_not_own_representation(caller: str, subject: str) -> None:
    """A representative does not record their own representation: recorded again
    without an expiry, or with a later one, it would outlast the measure that gave it."""
    if caller == subject:
        raise FailedPreconditionError("a representative does not record their own representation")


def check_within_own_term(own_expires_us: int | None, expires_us: int | None) -> None:
    """A representative whose own measure ends at `own_expires_us` records no one beyond
    it (nor without an end): the representation would outlast the measure that let them
    record it. The holder's majority ends every representation alike: not checked."""
    if own_expires_us is not None and (expires_us is None or expires_us > own_expires_us):
        raise FailedPreconditionError(
            "a representative records no one beyond the end of their own measure"
        )


def agrees_with_nir(ins: Ins, born: date) -> bool:
    """Whether `born` agrees with the year and month of birth the INS's NIR carries
    (characters 2-3 and 4-5). A month outside 01-12 (a NIR given to a person whose month
    of birth is unknown, or a provisional NIA: first character 7 or 8) checks nothing;
    the century is not in the NIR, so nor in the check."""
    nir = ins.value
    if nir[0] not in "1234":
        return True
    year, month = int(nir[1:3]), int(nir[3:5])
    if not 1 <= month <= 12:
        return True
    return born.year % 100 == year and born.month == month
