"""The clock the service reads, behind a Protocol so tests can make time pass, the
conversion to and from the integer microseconds (UTC) that the index and journal store,
and France's calendar day (Europe/Paris), where the law's days begin and end."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

FRANCE = ZoneInfo("Europe/Paris")  # metropolitan France: the DMP's legal days


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch."""
    return int(moment.timestamp() * 1_000_000)


def from_us(time_us: int) -> datetime:
    """The UTC time `time_us` microseconds after the Unix epoch."""
    return datetime.fromtimestamp(time_us / 1_000_000, UTC)


def france_date(time_us: int) -> date:
    """The calendar day in France at `time_us` (a day ahead of UTC's from 22:00 or 23:00)."""
    return from_us(time_us).astimezone(FRANCE).date()
