"""The auditors' view of declared consents: how many consents each professional declared
on one day, and for how many dossiers, from a journal export's lines.

A consent a professional declares at a consultation (`access.consent`, allowed, reason
`consent`) is self-declared: the DMP's model trusts the professional and audits them
afterwards. Counting declarations per professional and day makes one who declares
consent for hundreds of strangers stand out (docs/access-control.md, "Consent outside
the care team"). The day is the calendar day in France (Europe/Paris), the consent
window's own day. Pure: it reads lines it is given (`dossier-vault journal consents`
streams them from `ExportJournal`); it neither verifies the chain (`journal verify`
does) nor fetches anything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from vault.domain.clock import FRANCE
from vault.domain.policy import Action, Reason
from vault.journal.chain import parse_canonical
from vault.journal.export import CANONICAL_OFFSET, ENTRY_PREFIX


@dataclass(frozen=True, slots=True)
class DeclaredConsents:
    """One professional's declarations on the day: `declarations` entries, about
    `dossiers` distinct dossiers."""

    professional: str  # the RPPS number, as the journal names the actor
    profession: str | None
    declarations: int
    dossiers: int


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of `day` in France, as aware times (23, 24 or 25 hours long)."""
    start = datetime.combine(day, time(), tzinfo=FRANCE)
    return start, datetime.combine(day + timedelta(days=1), time(), tzinfo=FRANCE)


def declared_consents(lines: Iterable[bytes]) -> list[DeclaredConsents]:
    """The professionals who declared consent in the export `lines` (entries of one
    day, as `ExportJournal` gives them for `day_bounds`), most dossiers first."""
    dossiers: dict[str, set[str]] = defaultdict(set)
    counts: dict[str, int] = defaultdict(int)
    professions: dict[str, str | None] = {}
    for line in lines:
        if not line.startswith(ENTRY_PREFIX):
            continue  # a checkpoint line
        _, event, _ = parse_canonical(line[CANONICAL_OFFSET:-2])
        declared = event.action == Action.CONSENT_RECORD.value and event.decision == "allow"
        if not declared or event.reason != Reason.CONSENT.value:
            continue
        counts[event.actor_ref] += 1
        dossiers[event.actor_ref].add(event.dossier or "")
        professions[event.actor_ref] = event.actor_profession
    found = [
        DeclaredConsents(ref, professions[ref], counts[ref], len(dossiers[ref])) for ref in counts
    ]
    return sorted(found, key=lambda d: (-d.dossiers, -d.declarations, d.professional))
