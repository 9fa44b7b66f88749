"""France's calendar day, where the law's days (majority, consent window, audit day)
begin and end, against UTC's."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from vault.domain.clock import france_date, to_us


@pytest.mark.parametrize(
    ("utc", "day"),
    [
        (datetime(2026, 12, 7, 22, 59, tzinfo=UTC), date(2026, 12, 7)),  # winter: UTC+1
        (datetime(2026, 12, 7, 23, 0, tzinfo=UTC), date(2026, 12, 8)),
        (datetime(2026, 7, 14, 21, 59, tzinfo=UTC), date(2026, 7, 14)),  # summer: UTC+2
        (datetime(2026, 7, 14, 22, 0, tzinfo=UTC), date(2026, 7, 15)),
    ],
)
def test_the_day_in_france_begins_before_utcs(utc: datetime, day: date) -> None:
    assert france_date(to_us(utc)) == day
