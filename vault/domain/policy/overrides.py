"""The patient's overrides of the authorisation matrix for their own dossier: a document
category opened to one named professional (by RPPS) beyond their profession's row, or
closed to them within it (arrêté of 26 October 2023: the matrix applies "sauf si le
titulaire [...] en décide autrement"; docs/access-control.md, "The patient's overrides").

One pure hook, `adjusted`, applied by `rules._professional` to a decision the matrix
scoped: the categories that professional reads are the row's, plus the ones opened to
them, minus the ones closed to them (a close wins over an open of the same category).
What an override never does:

* reach the treating physician (the patient cannot narrow their access: rule 5), nor an
  author reading back what they wrote (`documents._author_reads`);
* open the dossier: it shapes the scope of a professional who may already read it
  (authorised, care team, emergency window); a stranger stays a stranger;
* show a masked document: the scope's hidden flags are untouched;
* apply to an occupational physician (only their grant's row, L.1111-18) or any other
  kind (insurers read nothing whatever is opened);
* change what a professional writes (the matrix's write cells stay: an override is
  about access to the classes, reading).
"""

from __future__ import annotations

from dataclasses import replace

from vault.domain.policy.codes import Action, Reason
from vault.domain.policy.facts import Facts
from vault.domain.policy.scope import Decision

OVERRIDE_ACTIONS = frozenset({Action.CATEGORY_OPEN, Action.CATEGORY_CLOSE, Action.CATEGORY_CLEAR})
"""The patient side's (holder or representative, as for authorising a professional)."""
_ADJUSTED = frozenset({Reason.AUTHORISED, Reason.CARE_TEAM, Reason.EMERGENCY, Reason.REGULATION})
"""The decisions whose scope is the matrix row's, which the overrides adjust."""


def adjusted(facts: Facts, decision: Decision) -> Decision:
    """`decision` with its readable categories adjusted by the overrides the dossier
    records for the caller (`Standing.opened`, `Standing.closed`)."""
    standing = facts.standing
    if decision.reason not in _ADJUSTED or not (standing.opened or standing.closed):
        return decision
    categories = (decision.scope.categories | standing.opened) - standing.closed
    return replace(decision, scope=replace(decision.scope, categories=categories))
