"""The auditors' count of declared consents, from export lines: one professional's
declarations per day and distinct dossiers, refusals and other actions left out; the
day is France's (23 or 25 hours when the clocks change)."""

from __future__ import annotations

from datetime import UTC, date, timedelta

from vault.journal.chain import GENESIS_HASH, JournalEvent, seal_entry
from vault.journal.consents import DeclaredConsents, day_bounds, declared_consents
from vault.journal.export import checkpoint_line, entry_line

BUSY, QUIET = "10000000017", "10000000025"


def _lines(events: list[tuple[str, str, str, str]]) -> list[bytes]:
    """(actor, action, dossier, decision) -> export lines, a checkpoint among them."""
    lines, prev = [], GENESIS_HASH
    for seq, (actor, action, dossier, decision) in enumerate(events, start=1):
        reason = "consent" if decision == "allow" and action == "access.consent" else "blocked"
        event = JournalEvent(
            time_us=seq,
            actor_kind="professional",
            actor_ref=actor,
            action=action,
            dossier=dossier,
            documents=(),
            decision=decision,
            reason=reason if decision == "deny" or action == "access.consent" else "authorised",
            emergency=False,
            request_id=f"r{seq}",
            actor_profession="physician",
        )
        entry = seal_entry(seq, event, prev)
        prev = entry.chain_hash
        lines.append(entry_line(entry))
    return [*lines[:1], checkpoint_line("a note"), *lines[1:]]


def test_declared_consents_are_counted_per_professional_most_dossiers_first() -> None:
    dossiers = [f"0190a4c4-0000-7000-8000-00000000000{n}" for n in range(4)]
    events = [(BUSY, "access.consent", d, "allow") for d in dossiers]
    events += [
        (BUSY, "access.consent", dossiers[0], "allow"),  # the same patient again
        (QUIET, "access.consent", dossiers[1], "allow"),
        (QUIET, "access.consent", dossiers[2], "deny"),  # refused: not a declaration
        (QUIET, "document.list", dossiers[1], "allow"),
    ]
    assert declared_consents(_lines(events)) == [
        DeclaredConsents(BUSY, "physician", 5, 4),
        DeclaredConsents(QUIET, "physician", 1, 1),
    ]


def test_the_day_is_frances_including_the_days_the_clocks_change() -> None:
    for day, hours in [(date(2026, 12, 7), 24), (date(2026, 3, 29), 23), (date(2026, 10, 25), 25)]:
        start, end = day_bounds(day)
        assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=hours)
        assert start.date() == day
