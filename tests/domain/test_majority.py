"""The holder's date of birth as callers give it and as it may be recorded
(vault/domain/majority.py): the exact `YYYY-MM-DD` form, never in the future, and a
representative records it for a minor only."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.birth_secrets import decode_birth_date, encode_birth_date
from vault.domain.clock import to_us
from vault.domain.majority import check_birth_date, majority_us, parse_birth_date
from vault.errors import FailedPreconditionError, IntegrityError, InvalidArgumentError

PARIS = ZoneInfo("Europe/Paris")


def _paris(day: date, hour: int = 0, minute: int = 0) -> int:
    return to_us(datetime.combine(day, time(hour, minute), tzinfo=PARIS))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2011-02-28", date(2011, 2, 28)),
        ("", None),  # not given
        ("0001-01-01", date(1, 1, 1)),
    ],
)
def test_a_date_of_birth_is_read_in_its_one_form(text: str, expected: date | None) -> None:
    assert parse_birth_date(text) == expected


@pytest.mark.parametrize(
    "text",
    ["2011-2-28", "20110228", "2011-02-30", "2011-02-28T00:00", " 2011-02-28", "28/02/2011"],
)
def test_any_other_form_of_a_date_of_birth_is_refused(text: str) -> None:
    with pytest.raises(InvalidArgumentError):
        parse_birth_date(text)


TODAY = date(2026, 12, 7)
NOW_US = _paris(TODAY, 12)

RECORDING = [  # (case, born, by a representative, refused with)
    ("holder records a birth today", TODAY, False, None),
    ("holder records a birth tomorrow", date(2026, 12, 8), False, InvalidArgumentError),
    ("holder of age records their birth", date(1980, 5, 1), False, None),
    ("representative records a ten-year-old's", date(2016, 3, 1), True, None),
    ("representative, majority tomorrow", date(2008, 12, 8), True, None),
    ("representative, majority today", date(2008, 12, 7), True, FailedPreconditionError),
    ("representative records an adult's", date(1980, 5, 1), True, FailedPreconditionError),
    ("representative records a birth tomorrow", date(2026, 12, 8), True, InvalidArgumentError),
]


@pytest.mark.parametrize(
    ("born", "by_representative", "refused"),
    [row[1:] for row in RECORDING],
    ids=[row[0] for row in RECORDING],
)
def test_birth_date_recording_table(
    born: date, by_representative: bool, refused: type[Exception] | None
) -> None:
    if refused is None:
        assert check_birth_date(born, NOW_US, by_representative=by_representative) == born
    else:
        with pytest.raises(refused):
            check_birth_date(born, NOW_US, by_representative=by_representative)


def test_today_is_the_day_in_france_not_in_utc() -> None:
    """At 23:30 UTC on 7 December it is already 8 December in Paris: born on the 8th is
    not in the future."""
    late_utc = to_us(datetime(2026, 12, 7, 23, 30, tzinfo=ZoneInfo("UTC")))
    assert check_birth_date(date(2026, 12, 8), late_utc, by_representative=False)


def test_a_representative_records_a_minor_until_midnight_in_france_on_the_18th_birthday() -> None:
    born = date(2008, 12, 8)
    before = majority_us(born) - 1
    assert check_birth_date(born, before, by_representative=True) == born
    with pytest.raises(FailedPreconditionError):
        check_birth_date(born, majority_us(born), by_representative=True)


@given(st.dates())
def test_the_sealed_plaintext_is_ten_ascii_bytes_and_reads_back(born: date) -> None:
    plaintext = encode_birth_date(born)
    assert len(plaintext) == 10
    assert decode_birth_date(plaintext) == born
    assert parse_birth_date(plaintext.decode()) == born


@given(st.binary(max_size=16))
def test_a_plaintext_not_exactly_yyyy_mm_dd_is_an_integrity_error(plaintext: bytes) -> None:
    try:
        born = decode_birth_date(plaintext)
    except IntegrityError:
        return
    assert encode_birth_date(born) == plaintext
