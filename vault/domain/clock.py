"""The clock the service reads, behind a Protocol so tests can make time pass, and the
conversion to and from the integer microseconds (UTC) that the index and journal store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


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
