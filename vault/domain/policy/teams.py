"""Care teams (équipe de soins, CSP L.1110-12) in the policy: a professional who is a
member of a care team the patient side let in reads, lists and writes as an authorised
professional does, under the authorisation matrix. One pure hook, called by
`rules._professional` where the team sits in the rules' precedence:

    blocked (unless treating physician) > treating physician > authorised
    > care team > break-the-glass window > look-up > no-authorisation

so a block on a professional wins over every team they are in (the treating physician
excepted, whom no block reaches), a team never gives more than the matrix gives the
member's profession, masked documents stay hidden but for their author
(`documents._author_reads`), and a lapsed team opens nothing. Whether the caller is a
member (by RPPS, or by the structure in their token) is a fact the service reads
(`Standing.team_until_us`); the patient side's team changes are `rules._PATIENT_SIDE`'s.
"""

from __future__ import annotations

from vault.domain.policy.codes import Action, Reason
from vault.domain.policy.facts import Facts
from vault.domain.policy.scope import Decision, Scope

TEAM_ACTIONS = frozenset({Action.CARE_TEAM_ADD, Action.CARE_TEAM_REMOVE})
"""The patient side's: let a team in, refuse it as a whole."""


def as_team_member(facts: Facts, scope: Scope) -> Decision | None:
    """The decision for a member of an open care team, with the authorised scope
    (`scope`); None when the caller is in no open team. An unknown time opens none."""
    until, now = facts.standing.team_until_us, facts.now_us
    if until is None or now is None or now >= until:
        return None
    return Decision(True, Reason.CARE_TEAM, scope)
