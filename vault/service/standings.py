"""A professional's or legal representative's standing in a dossier, for the gate: the
`Standing` the policy reads, from what the index records about them (one read,
`StandingIndex.standing_rows`) and, for a representative, the holder's majority.

Only the mapping from records to the policy's facts; the reads are the gate's
(vault/service/gate.py), the meaning the policy's (vault/domain/policy/). A patient's
standing (holder, heir) is the gate's: it takes none of these reads.
"""

from __future__ import annotations

from collections.abc import Callable

from vault.domain.model import EmergencyReason, Relation, Relationship
from vault.domain.policy import Standing
from vault.domain.representation import representation_end
from vault.index.births import SealedBirth
from vault.index.records import DossierRecord
from vault.index.standing import StandingRows

_REGULATION = EmergencyReason.SAMU_REGULATION.value  # a window that is the regulator's

Majority = Callable[[SealedBirth], int]
"""When the holder born on a sealed date comes of age (vault/service/majorities.py)."""


def representation_until(
    representative: Relationship | None, birth: SealedBirth | None, majority: Majority
) -> int | None:
    """When a representation ends (None: not a representative, or no end known): the
    earlier of the holder's majority (if a date of birth is recorded) and the expiry
    recorded with it. The date is opened for a representative only."""
    if representative is None:
        return None
    majority_us = None if birth is None else majority(birth)
    return representation_end(majority_us, representative.expires_us)


def standing_of(rows: StandingRows, dossier: DossierRecord, majority: Majority) -> Standing:
    """What the dossier records about one professional or representative, as the
    policy's facts."""
    found = {r.relation: r for r in rows.relationships}

    def until(relation: Relation) -> int | None:
        entry = found.get(relation)
        return None if entry is None else entry.expires_us

    window = found.get(Relation.EMERGENCY)
    representative = found.get(Relation.REPRESENTATIVE)  # until majority or expiry
    return Standing(
        representative=representative is not None,
        representative_until_us=representation_until(representative, rows.birth, majority),
        treating_physician=Relation.TREATING in found,
        authorised_until_us=until(Relation.AUTHORISED),
        blocked=Relation.BLOCKED in found,
        emergency_until_us=until(Relation.EMERGENCY),
        emergency_refused=dossier.emergency_refused,
        seen=Relation.SEEN in found,
        team_until_us=rows.team_until_us,
        regulation_refused=dossier.regulation_refused,
        emergency_regulation=window is not None and window.detail == _REGULATION,
        occupational_until_us=until(Relation.OCCUPATIONAL),
        opened=frozenset(o.category for o in rows.overrides if o.opened),
        closed=frozenset(o.category for o in rows.overrides if not o.opened),
    )
