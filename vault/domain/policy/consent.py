"""How long a consent a professional declares at a consultation opens the dossier: its
window (`ConsentWindow`), "the day" by default, and the moment it closes. Pure: no I/O,
no clock; the service passes the declaration's time.

"The day" is the consultation's calendar day in metropolitan France: the window closes
at the next 00:00 Europe/Paris (a declaration at 23:50 opens ten minutes; the next day's
consultation is declared again). A window of N hours (`"12h"`) closes N hours after the
declaration. Docs: docs/access-control.md, "Consent outside the care team"; the choice:
docs/adr/0032-care-teams-and-consent-for-a-consultation.md.

What it does not: decide whether a professional may declare (rules.py: any professional
who is not blocked), or record the declaration (vault/service/access.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from vault.domain.clock import FRANCE, france_date, to_us

_HOURS = re.compile(r"([1-9][0-9]?)h")
MAX_HOURS = 48  # a consultation, not a standing authorisation


@dataclass(frozen=True, slots=True)
class ConsentWindow:
    """`hours` None: until the end of the declaration's day in France."""

    hours: int | None = None

    def until_us(self, declared_us: int) -> int:
        """The moment (Unix microseconds) a consent declared at `declared_us` lapses."""
        if self.hours is not None:
            return declared_us + self.hours * 3600 * 1_000_000
        day = france_date(declared_us) + timedelta(days=1)
        return to_us(datetime.combine(day, time(), tzinfo=FRANCE))

    def __str__(self) -> str:
        return "day" if self.hours is None else f"{self.hours}h"


THE_DAY = ConsentWindow()


def parse_consent_window(text: str) -> ConsentWindow:
    """`day`, or a number of hours from 1 to 48 followed by `h` (`24h`); ValueError
    otherwise (the settings' parser contract)."""
    value = text.strip().lower()
    if value == "day":
        return THE_DAY
    matched = _HOURS.fullmatch(value)
    if matched is None or int(matched.group(1)) > MAX_HOURS:
        raise ValueError(f"must be `day` or a number of hours from 1 to {MAX_HOURS} (`24h`)")
    return ConsentWindow(int(matched.group(1)))
